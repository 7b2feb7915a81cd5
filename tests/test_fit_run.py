"""End-to-end ``run_fit`` on the built-in data (short chains), the posterior.nc reader API,
provenance, and the diagnostics gate on a deliberately bad fit."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from msbayes.fit import list_estimands, read_effect_draws, run_fit, validate_fit_config
from msbayes.fit.summarize import SUMMARY_COLUMNS

CFG = {
    "name": "test-run", "seed": 7,
    "data": {"dataset": "harris2024", "external": [{"dataset": "petrou2020", "discount": 0.5}]},
    "assumed_n": {"edss_6.0-6.5": {"t25fw": {"msc_np": 12, "saline": 10}, "6mwt": {"msc_np": 12, "saline": 12}}},
    "models": ["summary_log", "binary"],
    "priors": ["skeptical", {"name": "wide", "mean": 0.0, "sd": 10.0}],
    "sampler": {"draws": 500, "tune": 500, "prior_draws": 200, "target_accept": 0.95},
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "out"
    text = yaml.safe_dump(CFG)
    res = run_fit(validate_fit_config(CFG), out_dir=out, config_text=text, progress=False)
    return res, out, text


def test_files_and_summary_columns(result):
    res, out, _ = result
    for f in ("posterior.nc", "summary.csv", "sensitivity.csv", "raw_vs_shrunk.csv", "ppc.csv", "fit_meta.json"):
        assert (out / f).is_file(), f
    s = pd.read_csv(out / "summary.csv")
    assert list(s.columns[: len(SUMMARY_COLUMNS)]) == list(SUMMARY_COLUMNS)
    assert not s.duplicated(["model", "prior", "endpoint", "population", "estimand"]).any()
    assert set(s.prior) == {"skeptical", "wide"}
    st = s.set_index(["model", "prior", "endpoint", "population", "estimand"])["status"]
    assert st[("summary_log", "skeptical", "t25fw", "edss_3.0-5.5", "effect")] == "prediction"
    assert st[("summary_log", "skeptical", "t25fw", "edss_6.0-6.5", "effect")] == "estimate"
    assert {"log_odds_ratio", "risk_difference"} <= set(s.estimand)
    rvs = pd.read_csv(out / "raw_vs_shrunk.csv")
    assert list(rvs.columns) == ["model", "prior", "endpoint", "population", "raw_mean", "raw_se", "shrunk_mean",
                                 "shrunk_sd", "status", "borrowing"]
    sens = pd.read_csv(out / "sensitivity.csv")
    assert set(sens.prior) == {"skeptical", "wide"}


def test_summary_matches_draws_and_raw_estimate(result):
    res, out, _ = result
    da = read_effect_draws(out / "posterior.nc", model="summary_log", prior="skeptical", endpoint="t25fw",
                           population="edss_6.0-6.5")
    row = res.summary.query("model=='summary_log' and prior=='skeptical' and endpoint=='t25fw' and population=='edss_6.0-6.5'").iloc[0]
    v = da.values[:, 0]
    assert row["mean"] == pytest.approx(v.mean()) and row["p_benefit"] == pytest.approx((v > 0).mean())
    assert row["p_mcid"] == pytest.approx((v > np.log(1.2)).mean())
    # binary model, "wide" prior: brute-force posterior on a 2-D grid (control logit x log OR)
    # with the same priors (control logit N(0, 2^2), log OR N(0, (10 log 2)^2)), 9/27 vs 10/27
    from scipy import stats
    from scipy.special import expit

    lc = np.linspace(-7, 7, 901)[:, None]
    th = np.linspace(-6, 6, 1201)[None, :]
    lp = (stats.binom.logpmf(9, 27, expit(lc + th)) + stats.binom.logpmf(10, 27, expit(lc))
          + stats.norm.logpdf(lc, 0, 2.0) + stats.norm.logpdf(th, 0, 10 * np.log(2.0)))
    w = np.exp(lp - lp.max()).sum(axis=0)
    w /= w.sum()
    g_mean = float((w * th[0]).sum())
    g_sd = float(np.sqrt((w * (th[0] - g_mean) ** 2).sum()))
    b = read_effect_draws(out / "posterior.nc", model="binary", prior="wide", endpoint="edss_plus").values[:, 0]
    row = res.summary.query("model=='binary' and prior=='wide' and estimand=='log_odds_ratio'").iloc[0]
    assert abs(b.mean() - g_mean) < 4 * row["mcse_mean"], (b.mean(), g_mean, row["mcse_mean"])
    # SD: MCSE by the delta method on the squared deviations, using the bulk ESS
    mc_sd = np.sqrt(np.var((b - b.mean()) ** 2) / row["ess_bulk"]) / (2 * b.std())
    assert abs(b.std(ddof=1) - g_sd) < 4 * mc_sd, (b.std(ddof=1), g_sd, mc_sd)


def test_reader_round_trip(result):
    res, out, _ = result
    path = out / "posterior.nc"
    est = list_estimands(path)
    assert {"estimand", "model", "prior", "endpoint", "population", "scale", "status"} <= set(est.columns)
    da = read_effect_draws(path, model="summary_log", prior="wide", endpoint="t25fw")
    assert da.dims == ("sample", "population")
    assert list(da.population.values) == ["edss_3.0-5.5", "edss_6.0-6.5"]
    assert da.attrs["scale"] == "log_speed_ratio"
    assert list(da.status.values) == ["prediction", "estimate"]
    with xr.open_dataset(path, group="posterior") as post:
        native = post["summary_log.wide.theta"].load()
    np.testing.assert_array_equal(da.values, native.values[:, :, 0, :].reshape(-1, 2))
    with pytest.raises(KeyError, match="available"):
        read_effect_draws(path, model="summary_log", prior="nope", endpoint="t25fw")


def test_provenance_and_groups(result):
    res, out, text = result
    import arviz as az

    idata = az.from_netcdf(out / "posterior.nc")
    assert {"posterior", "prior", "posterior_predictive", "observed_data", "sample_stats"} <= set(idata.groups())
    a = idata.posterior.attrs
    assert a["config_sha256"] == hashlib.sha256(text.encode()).hexdigest() and a["config_text"] == text
    assert a["seed"] == 7 and len(a["data_sha256"]) == 64
    assert '"harris2024/t25fw/edss_6.0-6.5/saline": 10' in a["assumed_n"]
    assert "effect" in idata.prior


def test_diagnostics_flag_fires_on_bad_fit(tmp_path):
    cfg = dict(CFG, models=["binary"], priors=["skeptical"],
               sampler={"draws": 10, "tune": 10, "prior_draws": 20})
    res = run_fit(validate_fit_config(cfg), out_dir=tmp_path / "bad", config_text="x", progress=False)
    assert not res.diagnostics_ok
    s = pd.read_csv(tmp_path / "bad" / "summary.csv")
    assert (~s.diagnostics_ok).all() and s.flag.str.contains("ess_bulk").all()


def test_pymc_backend_fallback_agrees_with_nutpie(tmp_path, result):
    """The PyMC NUTS path (used when nutpie is missing) runs and gives the same posterior for the
    binary model as nutpie, within 4 combined MCSE."""
    cfg = dict(CFG, models=["binary"], priors=["skeptical"],
               sampler={"backend": "pymc", "draws": 500, "tune": 500, "prior_draws": 50})
    res = run_fit(validate_fit_config(cfg), out_dir=tmp_path / "pymc", config_text="x", progress=False)
    a = res.summary.query("estimand == 'log_odds_ratio'").iloc[0]
    b = result[0].summary.query("model == 'binary' and prior == 'skeptical' and estimand == 'log_odds_ratio'").iloc[0]
    assert abs(a["mean"] - b["mean"]) < 4 * np.hypot(a["mcse_mean"], b["mcse_mean"])


def test_terminal_table_warns_loudly_on_failed_gate():
    from rich.console import Console

    from msbayes.fit.cli import print_summary

    s = pd.DataFrame([
        {"model": "binary", "prior": "skeptical", "endpoint": "edss_plus", "population": "all",
         "estimand": "log_odds_ratio", "scale": "log_odds_ratio", "mean": 0.1, "sd": 0.3, "q2.5": -0.5,
         "q97.5": 0.7, "p_benefit": 0.6, "p_mcid": 0.05, "r_hat": 1.2, "ess_bulk": 30.0, "ess_tail": 20.0,
         "n_divergences": 3, "status": "estimate", "diagnostics_ok": False, "flag": "r_hat 1.200 > 1.01"},
    ])
    con = Console(record=True, width=200)
    print_summary(s, console=con)
    text = con.export_text()
    assert "DIAGNOSTICS WARNING" in text and "r_hat 1.200 > 1.01" in text and "NO" in text
    con2 = Console(record=True, width=200)
    print_summary(s.assign(diagnostics_ok=True, flag=""), console=con2)
    assert "DIAGNOSTICS WARNING" not in con2.export_text()
