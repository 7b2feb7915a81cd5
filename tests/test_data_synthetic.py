"""Synthetic patient data: exact/MC agreement with published summaries, labels, seeds, recovery."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from msbayes.data.infer_n import default_subgroup_n
from msbayes.data.schema import check_frame
from msbayes.data.synthetic import HARRIS_ASSUMPTIONS, synthesize_from_effects, synthesize_patients


def _benefit(df: pd.DataFrame) -> pd.Series:
    sign = np.where(df.endpoint == "t25fw", -1.0, 1.0)
    return pd.Series(sign * np.log(df.followup / df.baseline), index=df.index)


def _closed_form(mean_pct: float, sd_pct: float, endpoint: str) -> tuple[float, float]:
    """DESIGN.md formulas by hand (independent of scales.py)."""
    if endpoint == "t25fw":  # % improvement in time: r = 1 - p/100, log speed = -log r
        m, sgn = 1 - mean_pct / 100, -1
    else:  # % improvement in distance: D1/D0 = 1 + p/100
        m, sgn = 1 + mean_pct / 100, 1
    s = sd_pct / 100
    s2 = math.log(1 + s * s / (m * m))
    return sgn * (math.log(m) - s2 / 2), math.sqrt(s2)


PUBLISHED = {("t25fw", "msc_np"): (3.7, 23.1), ("t25fw", "saline"): (-54.4, 70.5),
             ("6mwt", "msc_np"): (-9.2, 18.2), ("6mwt", "saline"): (-32.1, 30.0)}


def test_exact_moments_in_reported_stratum():
    df = synthesize_patients(seed=42)
    sub = df[df.stratum == "edss_6.0-6.5"].assign(b=_benefit)
    for (ep, arm), (m, s) in PUBLISHED.items():
        b = sub[(sub.endpoint == ep) & (sub.arm == arm)].b
        mu, sigma = _closed_form(m, s, ep)
        assert b.mean() == pytest.approx(mu, abs=1e-12)
        assert b.std(ddof=1) == pytest.approx(sigma, rel=1e-12)
    # default sizes come from infer-n in the reported stratum
    n = sub[sub.endpoint == "t25fw"].groupby("arm").size().to_dict()
    assert n == default_subgroup_n("harris2024")


def test_labels_and_attrs():
    df = synthesize_patients(seed=1)
    assert df.synthetic.dtype == bool and df.synthetic.all()
    assert df.attrs["synthetic"] is True and df.patient_id.str.startswith("SYN-").all()
    assert df.attrs["predicted_strata"] == ["edss_3.0-5.5"] and df.attrs["reported_strata"] == ["edss_6.0-6.5"]
    assert df.attrs["assumptions"]["unreported"]["edss_3.0-5.5"]["effect_fraction"] == 1.0
    assert check_frame(df, kind="patient") == []
    assert set(df.subtype) <= {"spms", "ppms"} and (df.baseline > 0).all() and (df.followup > 0).all()


def test_seed_reproducibility():
    a = synthesize_patients(seed=7)
    b = synthesize_patients(seed=7)
    c = synthesize_patients(seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.baseline.to_numpy(), c.baseline.to_numpy())
    e1 = synthesize_from_effects(effect={"s": 0.1}, placebo={"s": 0.0}, n_per_arm=20, seed=3)
    e2 = synthesize_from_effects(effect={"s": 0.1}, placebo={"s": 0.0}, n_per_arm=20, seed=3)
    pd.testing.assert_frame_equal(e1, e2)
    with pytest.raises(ValueError, match="seed is required"):
        synthesize_patients(seed=None)


BIG = 40_000


@pytest.fixture(scope="module")
def big_free():
    n = {"edss_6.0-6.5": {"msc_np": BIG, "saline": BIG}, "edss_3.0-5.5": {"msc_np": BIG, "saline": BIG}}
    return synthesize_patients(seed=2026, n_per_arm=n, exact=False).assign(b=_benefit)


def test_free_draws_match_published_within_mcse(big_free):
    """exact=False: per-arm log-scale mean within 4 MCSE; percent-scale mean within 4 MCSE."""
    sub = big_free[big_free.stratum == "edss_6.0-6.5"]
    for (ep, arm), (m, s) in PUBLISHED.items():
        g = sub[(sub.endpoint == ep) & (sub.arm == arm)]
        mu, sigma = _closed_form(m, s, ep)
        assert abs(g.b.mean() - mu) < 4 * sigma / math.sqrt(BIG)
        # percent scale, as published: mean of the percent, MCSE = s / sqrt(n)
        pct = 100 * (1 - g.followup / g.baseline) if ep == "t25fw" else 100 * (g.followup / g.baseline - 1)
        assert abs(pct.mean() - m) < 4 * s / math.sqrt(BIG)


def test_unreported_stratum_follows_assumptions(big_free):
    u = HARRIS_ASSUMPTIONS["unreported"]["edss_3.0-5.5"]
    sub = big_free[big_free.stratum == "edss_3.0-5.5"]
    for ep in ("t25fw", "6mwt"):
        mu_c = u["control_mean"][ep]
        sig = u["sigma"][ep]
        ref = {a: _closed_form(*PUBLISHED[(ep, a)], ep)[0] for a in ("msc_np", "saline")}
        mu_t = mu_c + u["effect_fraction"] * (ref["msc_np"] - ref["saline"])
        for arm, mu in (("saline", mu_c), ("msc_np", mu_t)):
            g = sub[(sub.endpoint == ep) & (sub.arm == arm)].b
            assert abs(g.mean() - mu) < 4 * sig / math.sqrt(BIG)
            # SD within 4 MCSE (normal data: SE of SD = sigma / sqrt(2(n-1)))
            assert abs(g.std(ddof=1) - sig) < 4 * sig / math.sqrt(2 * (BIG - 1))


def test_baselines_realistic_and_correlated(big_free):
    d = big_free
    med = d.groupby(["stratum", "endpoint"]).baseline.median()
    assert 8 <= med[("edss_6.0-6.5", "t25fw")] <= 15 and 5 <= med[("edss_3.0-5.5", "t25fw")] <= 7
    assert 220 <= med[("edss_6.0-6.5", "6mwt")] <= 280 and 360 <= med[("edss_3.0-5.5", "6mwt")] <= 440
    for (s, ep), g in d.groupby(["stratum", "endpoint"]):
        r = np.corrcoef(np.log(g.baseline), np.log(g.followup))[0, 1]
        assert r > 0.4, (s, ep, r)
    # T25FW time and 6MWT distance are negatively correlated within patient at baseline
    w = d.pivot_table(index="patient_id", columns="endpoint", values="baseline")
    assert np.corrcoef(np.log(w.t25fw), np.log(w["6mwt"]))[0, 1] < -0.5
    assert 0.55 < (d.subtype == "spms").mean() < 0.65


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    s2 = resid @ resid / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    return beta, se, s2


@pytest.mark.parametrize("endpoint", ["t25fw", "6mwt"])
def test_from_effects_recovered_by_ols(endpoint):
    """Independent estimator (OLS ANCOVA): every true parameter within 4 SE."""
    truth = dict(effect={"edss_3.0-5.5": 0.05, "edss_6.0-6.5": 0.25}, placebo={"edss_3.0-5.5": -0.02, "edss_6.0-6.5": -0.2})
    df_t = 10.0
    sigma = 0.3
    d = synthesize_from_effects(**truth, n_per_arm=800, seed=99, endpoint=endpoint, slope=-0.2, sigma=sigma,
                                df=df_t, subtype_effect=0.08)
    tr = d.attrs["truth"]
    assert tr["effect"] == truth["effect"] and tr["df"] == df_t and d.attrs["synthetic"] and d.synthetic.all()
    y = _benefit(d).to_numpy()
    cols, names = [], []
    for s in truth["effect"]:
        ins = (d.stratum == s).to_numpy(float)
        cols += [ins, ins * (d.arm == "msc_np").to_numpy(float)]
        names += [("placebo", s), ("effect", s)]
    cols += [np.log(d.baseline.to_numpy()) - tr["baseline_center"], (d.subtype == "ppms").to_numpy(float)]
    names += [("slope", None), ("subtype_effect", None)]
    beta, se, s2 = _ols(np.column_stack(cols), y)
    for (k, s), b, e in zip(names, beta, se):
        true = truth[k][s] if s else tr[k]
        assert abs(b - true) < 4 * e, (k, s, b, true, e)
    # residual variance of t_df errors: sigma^2 df/(df-2); SE of the sample variance with
    # kurtosis 3 + 6/(df-4): var * sqrt((kurt - 1)/n)
    var = sigma**2 * df_t / (df_t - 2)
    kurt = 3 + 6 / (df_t - 4)
    assert abs(s2 - var) < 4 * var * math.sqrt((kurt - 1) / len(y))


def test_bad_input():
    with pytest.raises(ValueError, match="n_per_arm"):
        synthesize_patients(seed=1, n_per_arm={"edss_6.0-6.5": {"msc_np": 1, "saline": 5}, "edss_3.0-5.5": {"msc_np": 5, "saline": 5}})
    with pytest.raises(ValueError, match="endpoints"):
        synthesize_patients(seed=1, endpoints=("9hpt",))
    with pytest.raises(ValueError, match="available"):
        synthesize_patients(seed=1, dataset="nope")
    with pytest.raises(ValueError, match="same strata"):
        synthesize_from_effects(effect={"a": 0.1}, placebo={"b": 0.0}, n_per_arm=5, seed=1)
    with pytest.raises(ValueError, match="sigma"):
        synthesize_from_effects(effect={"a": 0.1}, placebo={"a": 0.0}, n_per_arm=5, seed=1, sigma=0)


def test_petrou_synthetic():
    df = synthesize_patients(dataset="petrou2020", seed=4, endpoints=("t25fw",))
    assert set(df.arm) == {"it_msc", "iv_msc", "sham"} and (df.groupby("arm").size() == 32).all()
    b = df.assign(b=_benefit).groupby("arm").b
    # % change in time: r = 1 + p/100, log speed = -log r
    m, s = 1 + 14.0 / 100, 25.4 / 100
    s2 = math.log(1 + s * s / m / m)
    assert b.mean()["sham"] == pytest.approx(-(math.log(m) - s2 / 2), abs=1e-12)
    assert b.std()["sham"] == pytest.approx(math.sqrt(s2), rel=1e-12)
