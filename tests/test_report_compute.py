"""The report's small computations against independent answers.

- KDE: equals scipy.stats.gaussian_kde (a second implementation) with the same bandwidth.
- Exceedance probabilities: normal draws vs the normal CDF, tolerance 4 binomial MCSE.
- Credible bands: quantiles of normal draws vs normal quantiles, tolerance 4 MCSE of a sample
  quantile (sqrt(p(1-p)/n) / density at the quantile).
- OC curves / selection tables: bands are exactly value +- 2 MCSE (clipped to [0, 1]).
- Forest table: raw interval = mean +- 1.959964 SE (scipy's normal quantile).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from msbayes.report import compute


def test_kde_matches_scipy_gaussian_kde():
    x = np.random.default_rng(0).gamma(2.0, 0.3, size=700)
    grid, dens = compute.kde(x, n_points=97)
    ref = stats.gaussian_kde(x)  # Scott's rule: same bandwidth definition
    assert np.allclose(dens, ref(grid), rtol=1e-10, atol=1e-12)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=2e-3)


def test_kde_refuses_degenerate_input():
    with pytest.raises(ValueError, match="at least 2"):
        compute.kde(np.array([1.0]))
    with pytest.raises(ValueError, match="zero spread"):
        compute.kde(np.ones(10))


@pytest.mark.parametrize("mu,sd,thr", [(0.38, 0.15, 0.0), (0.38, 0.15, np.log(1.2)),
                                        (-0.1, 0.3, 0.0)])
def test_p_exceed_vs_normal_cdf(mu, sd, thr):
    n = 40_000
    x = np.random.default_rng(11).normal(mu, sd, n)
    p_true = stats.norm.sf(thr, mu, sd)
    mcse = np.sqrt(p_true * (1 - p_true) / n)
    assert abs(compute.p_exceed(x, thr) - p_true) < 4 * mcse


def test_credible_band_vs_normal_quantiles():
    n = 20_000
    rng = np.random.default_rng(5)
    sds = {0.0: 0.0, 3.0: 0.1, 10.0: 0.2}
    draws = pd.concat([pd.DataFrame({"scenario": "s", "dose": d,
                                     "effect": 0.3 * d / 10 + s * rng.standard_normal(n)})
                       for d, s in sds.items()], ignore_index=True)
    band = compute.credible_band(draws, level=0.9)
    for _, r in band.iterrows():
        s, m = sds[r["dose"]], 0.3 * r["dose"] / 10
        if s == 0:
            assert r["lower"] == r["upper"] == pytest.approx(m)
            continue
        for q, col in ((0.05, "lower"), (0.5, "median"), (0.95, "upper")):
            zq = stats.norm.ppf(q)
            se = np.sqrt(q * (1 - q) / n) / stats.norm.pdf(zq, scale=s)
            assert abs(r[col] - (m + s * zq)) < 4 * se


def _ds():
    p = np.array([[0.02, 0.5, 0.999], [0.03, 0.7, 0.9995]])
    return xr.Dataset(
        {"p_go": (("design.n_per_arm", "scenario"), p),
         "p_go_mcse": (("design.n_per_arm", "scenario"), np.sqrt(p * (1 - p) / 400))},
        coords={"design.n_per_arm": [20, 40], "scenario": ["null", "mcid", "big"]})


def test_oc_curves_band_is_two_mcse_clipped():
    ds = _ds()
    cur = compute.oc_curves(ds, "p_go", x="design.n_per_arm", fixed={})
    assert len(cur) == 6 and set(cur["group"]) == {"null", "mcid", "big"}
    exp_lo = np.clip(cur["y"] - 2 * cur["mcse"], 0, 1)
    exp_hi = np.clip(cur["y"] + 2 * cur["mcse"], 0, 1)
    assert np.allclose(cur["lower"], exp_lo) and np.allclose(cur["upper"], exp_hi)
    assert cur["upper"].max() <= 1.0
    row = cur[(cur.group == "mcid") & (cur.x == 40)].iloc[0]
    assert row["y"] == 0.7 and row["mcse"] == pytest.approx(np.sqrt(0.7 * 0.3 / 400))
    with pytest.raises(KeyError, match="no variable"):
        compute.oc_curves(ds, "p_nope", x="design.n_per_arm", fixed={})


def test_oc_grid_and_default_slice():
    ds = xr.Dataset({"p_go": (("a", "b", "scenario"), np.arange(24.0).reshape(2, 3, 4))},
                    coords={"a": [1, 2], "b": [0.1, 0.2, 0.3], "scenario": list("wxyz")})
    assert compute.default_slice(ds, keep=["a"]) == {"b": 0.2}
    g = compute.oc_grid(ds, "p_go", rows="b", cols="a", fixed={"scenario": "x"})
    assert g.dims == ("b", "a") and g.shape == (3, 2)
    assert g.sel(a=2, b=0.3).item() == ds["p_go"].sel(a=2, b=0.3, scenario="x").item()
    with pytest.raises(ValueError, match="not fixed"):
        compute.oc_grid(ds, "p_go", rows="b", cols="a", fixed={})


def test_forest_table_raw_interval_and_shrunk_quantiles():
    rvs = pd.DataFrame({"model": "m", "prior": ["neutral"], "endpoint": "t25fw",
                        "population": "edss_6.0-6.5", "raw_mean": [0.47], "raw_se": [0.17],
                        "shrunk_mean": [0.38], "shrunk_sd": [0.15]})
    summ = pd.DataFrame({"model": "m", "prior": ["neutral"], "endpoint": "t25fw",
                         "population": "edss_6.0-6.5", "q2.5": [0.08], "q97.5": [0.67],
                         "status": ["estimate"]})
    ft = compute.forest_table(rvs, summ, model="m")
    raw = ft[ft.kind == "raw"].iloc[0]
    z = stats.norm.ppf(0.975)
    assert raw["lower"] == pytest.approx(0.47 - z * 0.17) and raw["upper"] == pytest.approx(0.47 + z * 0.17)
    sh = ft[ft.kind == "shrunk"].iloc[0]
    assert (sh["lower"], sh["upper"], sh["estimate"]) == (0.08, 0.67, 0.38)


def test_mcid_for_defaults_and_fit_meta_override():
    assert compute.mcid_for("t25fw", "log_speed_ratio") == pytest.approx(np.log(1.2))
    assert compute.mcid_for("6mwt", "log_distance_ratio") == pytest.approx(np.log(1.08))
    assert compute.mcid_for("edss_plus", "log_odds") is None
    assert compute.mcid_for("t25fw", "log_speed_ratio", {"mcid": {"t25fw": 0.2}}) == 0.2
    # an endpoint-keyed MCID applies to the log scale only, never to a % scale
    assert compute.mcid_for("t25fw", "pct_improvement_time", {"mcid": {"t25fw": 0.2}}) is None


def test_ppc_table_normalises_column_names():
    ppc = pd.DataFrame({"endpoint": ["t25fw", "6mwt"], "arm": ["msc_np", "saline"],
                        "statistic": "mean", "observed": [0.1, 0.2], "pred_mean": [0.1, 0.3],
                        "pred_q2.5": [0.0, 0.1], "pred_q97.5": [0.2, 0.5]})
    t = compute.ppc_table(ppc)
    assert list(t.columns) == ["label", "statistic", "observed", "pred_mean", "pred_lower",
                               "pred_upper"]
    assert list(t["label"]) == ["T25FW MSC-NP", "6MWT saline (control)"]
    with pytest.raises(ValueError, match="observed"):
        compute.ppc_table(ppc.drop(columns="observed"))


def test_ppc_table_fit_module_spelling():
    # msbayes.fit writes variable / element / pp_mean / pp_q2.5 / pp_q97.5
    ppc = pd.DataFrame({"model": "summary_log", "prior": "neutral", "variable": ["ybar", "s2"],
                        "element": ["harris2024/t25fw/edss_6.0-6.5/msc_np"] * 2,
                        "observed": [0.07, 0.05], "pp_mean": [0.03, 0.07], "pp_sd": [0.1, 0.05],
                        "pp_q2.5": [-0.2, 0.01], "pp_q97.5": [0.26, 0.2]})
    t = compute.ppc_table(ppc)
    assert list(t["statistic"]) == ["arm mean change", "arm variance (SD squared)"]
    assert list(t["pred_lower"]) == [-0.2, 0.01] and list(t["pred_mean"]) == [0.03, 0.07]
    assert t["label"].iloc[0] == "Harris 2024, T25FW, EDSS 6.0\u20136.5, MSC-NP"


def _emax_anchored(d, ed50, ref=10.0):
    return (d / (ed50 + d)) / (ref / (ed50 + ref))


def test_dose_response_draws_fixed_shape_is_the_closed_form_emax():
    cfg = {"design": {"doses": [0, 3, 6, 10], "reference_dose": 10,
                      "dose_response": {"model": "emax", "ed50": 3.0}},
           "scenarios": {None: {"effect": 0.0}, "mcid": {"effect": 0.1823},
                         "prior": {"normal": {"mean": 0.3, "sd": 0.1}}}}
    dr, note = compute.dose_response_draws(cfg, fixed={}, n_draws=50, seed=1)
    assert "emax" in note and set(dr["scenario"]) == {"null", "mcid", "prior"}
    m = dr[dr.scenario == "mcid"]
    assert np.allclose(m["effect"], 0.1823 * _emax_anchored(m["dose"].to_numpy(), 3.0))
    assert np.all(dr.loc[dr.scenario == "null", "effect"] == 0)
    # a grid axis on the shape overrides the config value
    dr2, _ = compute.dose_response_draws(cfg, fixed={"design.dose_response.ed50": 1.0}, n_draws=5)
    m2 = dr2[dr2.scenario == "mcid"]
    assert np.allclose(m2["effect"], 0.1823 * _emax_anchored(m2["dose"].to_numpy(), 1.0))


def test_dose_response_band_median_under_an_ed50_prior():
    """Effect at a dose is monotone in ED50, so its median is the curve at the median ED50
    (3.0); tolerance: 4 x the sample-median SE of log ED50 times |d effect / d log ED50|."""
    n, sd_log = 4000, 0.7
    cfg = {"design": {"doses": [0, 3, 6, 10], "reference_dose": 10,
                      "dose_response": {"model": "emax",
                                        "ed50": {"lognormal": {"median": 3.0, "sd_log": sd_log}}}},
           "scenarios": {"mcid": {"effect": 0.1823}}}
    dr, _ = compute.dose_response_draws(cfg, fixed={}, n_draws=n, seed=7)
    band = compute.credible_band(dr, level=0.95)
    se_log = np.sqrt(np.pi / 2) * sd_log / np.sqrt(n)
    for d in (3.0, 6.0):
        f = lambda le: 0.1823 * _emax_anchored(d, np.exp(le))  # noqa: E731
        slope = abs(f(np.log(3.0) + 1e-5) - f(np.log(3.0) - 1e-5)) / 2e-5
        med = band.loc[band.dose == d, "median"].item()
        assert abs(med - f(np.log(3.0))) < 4 * se_log * slope
        lo = band.loc[band.dose == d, "lower"].item()
        hi = band.loc[band.dose == d, "upper"].item()
        # the band's limits are the curve at the ED50 prior's 97.5% / 2.5% quantiles; the SE of
        # a sample p-quantile of log ED50 is sqrt(p(1-p)/n) / density at the quantile
        z = stats.norm.ppf(0.975)
        se_q = np.sqrt(0.025 * 0.975 / n) / (stats.norm.pdf(z) / sd_log)
        for lim, le in ((lo, np.log(3.0) + z * sd_log), (hi, np.log(3.0) - z * sd_log)):
            sl = abs(f(le + 1e-5) - f(le - 1e-5)) / 2e-5
            assert abs(lim - f(le)) < 4 * se_q * sl
