"""Fast t-test decisions (critical-value tables) give exactly the p-value decisions.

The reference is the p-value itself, computed here straight from scipy (``stdtr``; ``ndtr``
for infinite df): one-sided ``T_df(-t) < alpha``, two-sided ``2 T_df(-|t|) < alpha``. Compared
on > 10^6 simulated trials per test: Welch and Student t statistics of normal samples with 2-5 and
60-500 patients per arm, and statistics placed at, and one or a few ulps either side of, the
exact critical value (where a table without the exact fallback would err), for one- and
two-sided tests. The engine's outcomes with the table path equal those with the p-value path
on the same seed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from msbayes.design.config import validate_sim_config
from msbayes.simulate.analyses import (
    TrialStats,
    difference_estimate,
    frequentist,
    significance_via,
    t_critical_table,
    t_exceeds,
)
from msbayes.simulate.twoarm import simulate_chunk


def _p_decision(t, df, alpha, sided):
    df = np.asarray(df, dtype=float)
    cdf = np.where(np.isfinite(df), special.stdtr(np.where(np.isfinite(df), df, 1.0), -np.abs(t) if sided == "two" else -t),
                   special.ndtr(-np.abs(t) if sided == "two" else -t))
    with np.errstate(invalid="ignore"):
        return (cdf < alpha) if sided == "one" else (2.0 * cdf < alpha)


def _sample_stats(rng, m, n0, n1, effect):
    """Arm summaries of m simulated trials (normal data, SDs 1 and 1.7), drawn exactly from
    their sampling distributions: mean ~ N(mu, sd^2 / n), (n - 1) var / sd^2 ~ chi2(n - 1)."""
    sd = np.array([1.0, 1.7])
    n = np.array([float(n0), float(n1)])
    mean = np.array([0.0, effect]) + sd / np.sqrt(n) * rng.standard_normal((m, 2))
    var = sd**2 * rng.chisquare(n - 1.0, size=(m, 2)) / (n - 1.0)
    return TrialStats(n=np.tile(n, (m, 1)), mean=mean, var=var)


CASES = [(2, 2, 2.0), (2, 5, 1.5), (3, 4, 1.0), (5, 5, 1.2), (60, 60, 0.5), (60, 45, 0.4), (500, 500, 0.15)]


@pytest.mark.parametrize("equal_var", [False, True], ids=["welch", "student"])
def test_simulated_trials_match_p_value_decisions(equal_var):
    rng = np.random.default_rng(20261207)
    n_trials = 0
    disagreements = 0
    for n0, n1, eff in CASES:
        m = 150_000
        ts = _sample_stats(rng, m, n0, n1, eff)
        est = difference_estimate(ts, equal_var=equal_var)
        t = est.est / est.se
        if equal_var:
            assert np.all(est.df == n0 + n1 - 2)
        else:
            assert np.any(est.df != np.round(est.df))
        n_trials += t.size
        res = frequentist(est)
        cdf = {"one": special.stdtr(est.df, -t), "two": special.stdtr(est.df, -np.abs(t))}  # df finite here
        for alpha in (0.025, 0.05, 0.2):
            for sided in ("one", "two"):
                want = (cdf["one"] < alpha) if sided == "one" else (2.0 * cdf["two"] < alpha)
                got = t_exceeds(t, est.df, alpha, sided=sided)
                disagreements += int(np.sum(got != want))
                assert np.array_equal(res.significant(alpha, sided=sided), want)
        assert np.array_equal(res.significant(0.05, sided="two", via="p_value"), 2.0 * cdf["two"] < 0.05)
        assert 0.05 < np.mean(t_exceeds(t, est.df, 0.025)) < 0.95  # decisions are not all one way
    assert disagreements == 0
    assert n_trials >= 1_000_000  # distinct simulated trials, each decided 6 ways


@pytest.mark.parametrize("sided", ["one", "two"])
@pytest.mark.parametrize("kind", ["integer", "welch", "mixed", "grid"])
def test_statistics_at_the_critical_value(kind, sided):
    rng = np.random.default_rng(11 if kind == "integer" else 12)
    n = 20_000
    if kind == "integer":
        df = rng.integers(1, 400, n).astype(float)
    elif kind == "welch":
        df = np.concatenate([rng.uniform(1.0, 8.0, n // 2), np.exp(rng.uniform(np.log(8.0), np.log(5e5), n - n // 2))])
    elif kind == "grid":  # df on and one ulp either side of the table's grid points in 1 / df
        g = 1.0 / (rng.integers(1, 1 << 14, n) / float(1 << 14))
        df = np.concatenate([g[: n // 3], np.nextafter(g[n // 3: 2 * n // 3], np.inf), np.nextafter(g[2 * n // 3:], 0.0)])
        df = np.maximum(df, 1.0)
    else:
        df = np.concatenate([rng.integers(1, 50, n // 2).astype(float), rng.uniform(1.0, 50.0, n - n // 2)])
        df[:5] = [np.inf, 0.5, np.nan, 1e-3, 1e7]  # normal limit, df < 1, missing, tiny, huge
    out = []
    for alpha in (0.001, 0.025, 0.05, 0.3, 0.7):
        q = 1.0 - alpha if sided == "one" else 1.0 - alpha / 2.0
        with np.errstate(invalid="ignore"):
            c = np.where(np.isfinite(df), special.stdtrit(np.where(np.isfinite(df), df, 1.0), q), special.ndtri(q))
        steps = [c, np.nextafter(c, np.inf), np.nextafter(c, -np.inf), c * (1 + 1e-12), c * (1 - 1e-12),
                 c * (1 + 1e-9), c * (1 - 1e-9), c + 1e-6, c - 1e-6]
        for t in steps:
            if sided == "two":
                t = np.where(rng.random(n) < 0.5, t, -t)
            want = _p_decision(t, df, alpha, sided)
            got = t_exceeds(t, df, alpha, sided=sided)
            assert np.array_equal(got, want), (alpha, int(np.sum(got != want)))
            out.append(want.mean())
    m = np.array(out)
    assert np.any((m > 0.01) & (m < 0.99))  # points at the boundary fall both ways


def test_nan_and_empty_inputs():
    # NaN statistic: False. NaN df: the p-value path reads it as the normal limit (T_inf = Phi)
    t, df = np.array([np.nan, 3.0, 1.0]), np.array([5.0, np.nan, np.nan])
    assert t_exceeds(t, df, 0.05).tolist() == _p_decision(t, df, 0.05, "one").tolist() == [False, True, False]
    assert t_exceeds(np.array([]), np.array([]), 0.05).shape == (0,)
    assert t_exceeds(np.full((2, 3), 10.0), 4.5, 0.05).shape == (2, 3)
    with pytest.raises(ValueError, match="alpha"):
        t_exceeds(1.0, 5.0, 1.5)
    with pytest.raises(ValueError, match="sided"):
        t_exceeds(1.0, 5.0, 0.05, sided="both")


def test_critical_table_published_values():
    # Student t table (e.g. Fisher & Yates): t_{0.975} for df 1, 2, 10, 30; t_{0.95}, df 5
    tab = t_critical_table(0.975, 30)
    assert tab[[1, 2, 10, 30]] == pytest.approx([12.706, 4.303, 2.228, 2.042], abs=6e-4)
    assert t_critical_table(0.95, 5)[5] == pytest.approx(2.015, abs=6e-4)
    np.testing.assert_allclose(tab[1:], stats.t.ppf(0.975, np.arange(1, 31)), rtol=1e-12)


@pytest.mark.parametrize("method", ["welch", "student"])
@pytest.mark.parametrize("n_per_arm,dropout", [(4, 0.0), (60, 0.12)])
def test_engine_outcomes_identical_to_p_value_path(method, n_per_arm, dropout):
    cfg = validate_sim_config({
        "name": "x", "seed": 1, "endpoint": {"sd": 0.35, "dropout": dropout},
        "design": {"type": "parallel", "n_per_arm": n_per_arm}, "scenarios": {"mcid": {"effect": 0.182}},
        "analysis": {"method": "welch", "equal_var": method == "student", "sided": "two", "alpha": 0.05},
        "decision": {"rule": "significance", "alpha": 0.025}})
    fast = simulate_chunk(cfg, "mcid", 50_000, np.random.default_rng(5))
    with significance_via("p_value"):
        slow = simulate_chunk(cfg, "mcid", 50_000, np.random.default_rng(5))
    for k in ("go", "nogo", "reject", "failed"):
        assert np.array_equal(fast[k], slow[k]), k
    assert 0.02 < fast["go"].mean() < 0.98
