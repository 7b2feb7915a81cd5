"""infer-n: reproduces published p-values with scipy at the reported sizes; recovers known sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from msbayes.data.infer_n import (
    default_subgroup_n,
    default_subgroup_n_details,
    infer_n,
    infer_n_joint,
    p_two_sample,
    rank_p_from_theta,
    rank_theta,
    reported_decimals,
)

T25 = dict(mean1=3.7, sd1=23.1, mean2=-54.4, sd2=70.5, p="0.030")
MWT = dict(mean1=-9.2, sd1=18.2, mean2=-32.1, sd2=30.0, p="0.036")


def _rounds_to(p: float, reported: str) -> bool:
    d = reported_decimals(reported)
    return round(p, d) == round(float(reported), d) or abs(p - float(reported)) <= 0.5 * 10**-d + 1e-15


@pytest.mark.parametrize("s", [T25, MWT], ids=["t25fw", "6mwt"])
def test_welch_pairs_reproduce_reported_p_with_scipy(s):
    res = infer_n(s["mean1"], s["sd1"], s["mean2"], s["sd2"], s["p"], tests=("welch",), n_max1=24, n_max2=27, top=None)
    ok = res[res.consistent]
    assert len(ok) >= 1
    for _, r in ok.iterrows():
        p = stats.ttest_ind_from_stats(s["mean1"], s["sd1"], r.n1, s["mean2"], s["sd2"], r.n2, equal_var=False).pvalue
        assert _rounds_to(p, s["p"]), (r.n1, r.n2, p)
        assert p == pytest.approx(r.p_computed, rel=1e-9)
    # and every pair scipy calls consistent is listed (brute force over the same box)
    n1, n2 = np.meshgrid(np.arange(3, 25), np.arange(3, 28), indexing="ij")
    p = stats.ttest_ind_from_stats(s["mean1"], s["sd1"], n1, s["mean2"], s["sd2"], n2, equal_var=False).pvalue
    brute = {(int(a), int(b)) for a, b, q in zip(n1.ravel(), n2.ravel(), p.ravel()) if _rounds_to(q, s["p"])}
    assert brute == set(zip(ok.n1.astype(int), ok.n2.astype(int)))


def test_student_matches_scipy():
    n1, n2 = np.arange(3, 30), np.arange(5, 32)
    ours = p_two_sample(1.0, 2.0, n1, 0.0, 3.0, n2, test="student")
    ref = stats.ttest_ind_from_stats(1.0, 2.0, n1, 0.0, 3.0, n2, equal_var=True).pvalue
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


@pytest.mark.parametrize("test,known", [("welch", (9, 17)), ("student", (14, 11)), ("rank", (13, 20))])
def test_recovers_a_constructed_pair(test, known):
    """Generate summary stats from a known (n1, n2), compute p, ask infer_n: the pair is listed."""
    rng = np.random.default_rng(7)
    x = rng.normal(1.0, 1.5, known[0])
    y = rng.normal(0.0, 2.5, known[1])
    m1, s1, m2, s2 = x.mean(), x.std(ddof=1), y.mean(), y.std(ddof=1)
    if test == "rank":
        p = float(p_two_sample(m1, s1, known[0], m2, s2, known[1], test="rank"))
    else:
        p = stats.ttest_ind_from_stats(m1, s1, known[0], m2, s2, known[1], equal_var=test == "student").pvalue
    p_text = f"{p:.3g}"
    res = infer_n(m1, s1, m2, s2, p_text, tests=(test,), n_max1=30, n_max2=30, top=None)
    hit = res[(res.n1 == known[0]) & (res.n2 == known[1])]
    assert len(hit) == 1 and bool(hit.consistent.iloc[0])


def test_rank_p_mapping_matches_scipy_mannwhitneyu():
    """Our U -> p mapping equals scipy's asymptotic Mann-Whitney p (no continuity, no ties)."""
    rng = np.random.default_rng(3)
    for n1, n2 in ((8, 11), (12, 12), (20, 7)):
        x, y = rng.normal(0.5, 1, n1), rng.normal(0, 2, n2)
        r = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=False)
        theta_hat = r.statistic / (n1 * n2)
        assert float(rank_p_from_theta(theta_hat, n1, n2)) == pytest.approx(r.pvalue, rel=1e-10)


@pytest.mark.parametrize("dist", ["normal", "lognormal"])
def test_rank_theta_equals_mean_U_by_simulation(dist):
    """E[U] = n1 n2 theta: simulated mean of U within 4 MCSE."""
    m1, s1, m2, s2 = (3.7, 23.1, -54.4, 70.5)
    n1, n2, reps = 12, 11, 4000
    rng = np.random.default_rng(11)
    if dist == "normal":
        x = rng.normal(m1, s1, (reps, n1))
        y = rng.normal(m2, s2, (reps, n2))
        theta = rank_theta(m1, s1, m2, s2)
    else:
        from msbayes.data.scales import lognormal_moments, pct_from_ratio

        def draw(m, s, n):
            mu, sg = lognormal_moments(1 - m / 100, s / 100)  # time ratio of % improvement
            return pct_from_ratio(np.exp(rng.normal(mu, sg, (reps, n))), convention="pct_improvement_time")

        x, y = draw(m1, s1, n1), draw(m2, s2, n2)
        theta = rank_theta(m1, s1, m2, s2, distribution="lognormal", convention="pct_improvement_time")
    u = stats.mannwhitneyu(x, y, axis=1, method="asymptotic").statistic
    mcse = u.std(ddof=1) / np.sqrt(reps)
    assert abs(u.mean() - n1 * n2 * theta) < 4 * mcse


def test_rounding_rule_and_decimals():
    assert reported_decimals("0.030") == 3 and reported_decimals(0.03) == 2 and reported_decimals("0.0009") == 4
    loose = infer_n(**T25, tests=("welch",), top=None, decimals=2)
    strict = infer_n(**T25, tests=("welch",), top=None)
    assert loose.consistent.sum() > strict.consistent.sum()
    assert (strict[strict.consistent].p_computed.sub(0.030).abs() <= 0.0005).all()


def test_joint_matches_single_endpoint_results():
    j = infer_n_joint({"t25fw": T25, "6mwt": MWT}, tests=("welch",), n_max1=24, top=None)
    a = infer_n(**T25, tests=("welch",), n_max1=24, top=None).set_index(["n1", "n2"])
    b = infer_n(**MWT, tests=("welch",), n_max1=24, top=None).set_index(["n1", "n2"])
    j = j.set_index(["n1", "n2"])
    np.testing.assert_allclose(j.p_computed_t25fw, a.loc[j.index, "p_computed"])
    assert (j.consistent == (a.loc[j.index, "consistent"].values & b.loc[j.index, "consistent"].values)).all()


def test_default_subgroup_n_against_scipy():
    d = default_subgroup_n_details("harris2024")
    sizes = default_subgroup_n("harris2024")
    assert sizes == d["sizes"] and set(sizes) == {"msc_np", "saline"}
    assert sizes["msc_np"] <= 24 and sizes["saline"] <= 27 and abs(sizes["msc_np"] - sizes["saline"]) <= 2
    # scipy brute force: is there any (n1, n2) in the box reproducing BOTH p-values under Welch?
    n1, n2 = np.meshgrid(np.arange(3, 25), np.arange(3, 28), indexing="ij")
    p1 = stats.ttest_ind_from_stats(3.7, 23.1, n1, -54.4, 70.5, n2, equal_var=False).pvalue
    p2 = stats.ttest_ind_from_stats(-9.2, 18.2, n1, -32.1, 30.0, n2, equal_var=False).pvalue
    ok1 = np.abs(p1 - 0.030) <= 0.0005
    ok2 = np.abs(p2 - 0.036) <= 0.0005
    assert d["jointly_consistent"] == bool((ok1 & ok2).any())
    # the chosen pair's p-values are scipy's
    ch = d["chosen"]
    assert ch["p_computed_t25fw"] == pytest.approx(
        stats.ttest_ind_from_stats(3.7, 23.1, sizes["msc_np"], -54.4, 70.5, sizes["saline"], equal_var=False).pvalue)
    # best joint fit among nearly equal pairs (independent brute force of the rule)
    err = np.maximum(np.abs(p1 / 0.03 - 1), np.abs(p2 / 0.036 - 1))
    err[np.abs(n1 - n2) > 2] = np.inf
    i = np.unravel_index(np.argmin(err), err.shape)
    if not d["jointly_consistent"]:
        assert (sizes["msc_np"], sizes["saline"]) == (int(n1[i]), int(n2[i]))
    # per-endpoint alternatives reproduce their own p with scipy
    for ep, s in (("t25fw", T25), ("6mwt", MWT)):
        pe = d["per_endpoint"][ep]
        p = stats.ttest_ind_from_stats(s["mean1"], s["sd1"], pe["msc_np"], s["mean2"], s["sd2"], pe["saline"],
                                       equal_var=False).pvalue
        assert _rounds_to(p, s["p"])


def test_bad_input():
    with pytest.raises(ValueError, match="tests must be"):
        infer_n(**T25, tests=("wilcoxon",))
    with pytest.raises(ValueError, match="p must be in"):
        infer_n(1, 1, 0, 1, 1.5)
    with pytest.raises(ValueError, match="sd1 and sd2 must be > 0"):
        infer_n(1, -1, 0, 1, 0.03)
    with pytest.raises(ValueError, match="n_max1"):
        infer_n(**T25, n_max1=2)
    with pytest.raises(ValueError, match="missing"):
        infer_n_joint({"a": {"mean1": 1}})
    with pytest.raises(ValueError, match="no reported subgroup"):
        default_subgroup_n("petrou2020")


def test_petrou_pvalue_notes_hold():
    """The notes shipped in petrou2020_pvalues.csv are checked against scipy."""
    from msbayes.data import load_pvalues

    notes = load_pvalues("petrou2020").set_index("arm").note
    for arm, m, s, p_rep, pair, p32 in (("it_msc", -5.3, 16.3, 0.0017, (28, 27), 0.0007),
                                        ("iv_msc", -6.4, 17.7, 0.0009, (28, 29), 0.0005)):
        assert f"{pair[0]} vs {pair[1]}" in notes[arm] and f"{p32}" in notes[arm]
        p = stats.ttest_ind_from_stats(m, s, pair[0], 14.0, 25.4, pair[1], equal_var=False).pvalue
        assert abs(p - p_rep) <= 0.00005
        p = stats.ttest_ind_from_stats(m, s, 32, 14.0, 25.4, 32, equal_var=False).pvalue
        assert round(p, 4) == p32
