"""Design priors: EM mixture fit, posterior-draw resampling (joint across strata), discount,
robustification, and reading a synthetic posterior.nc."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.design.endpoint import EndpointSpec
from msbayes.design.prior import fit_normal_mixture, mixture_cdf
from msbayes.design.scenarios import FitScenario, effect_sampler
from msbayes.fit.artefact import effect_dataarray
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell


def _write_fit(path, draws, pops, *, model="summary_log", prior="skeptical", endpoint="t25fw"):
    est = pd.DataFrame({"model": model, "prior": prior, "endpoint": endpoint, "population": pops,
                        "scale": "log_speed_ratio", "status": "estimate"})
    xr.Dataset({"effect": effect_dataarray(draws, est)}).to_netcdf(path, group="posterior")
    return path


@pytest.fixture(scope="module")
def fit_path(tmp_path_factory):
    """Two strata with correlated effects: a bivariate normal 'posterior', 4 chains x 2500 draws."""
    rng = np.random.default_rng(42)
    cov = np.array([[0.1**2, 0.8 * 0.1 * 0.15], [0.8 * 0.1 * 0.15, 0.15**2]])
    d = rng.multivariate_normal([0.2, 0.05], cov, size=(4, 2500))
    return _write_fit(tmp_path_factory.mktemp("fit") / "posterior.nc", d, ["edss_6.0-6.5", "edss_3.0-5.5"])


def _dkw(n, level=1e-3):
    return math.sqrt(math.log(2 / level) / (2 * n))


def test_em_recovers_known_mixture():
    rng = np.random.default_rng(1)
    n = 40_000
    w, m, s = np.array([0.7, 0.3]), np.array([0.0, 0.4]), np.array([0.08, 0.15])
    k = rng.random(n) < w[1]
    x = np.where(k, rng.normal(m[1], s[1], n), rng.normal(m[0], s[0], n))
    fw, fm, fs = fit_normal_mixture(x, n_components=2)
    grid = np.linspace(-0.4, 1.0, 400)
    # fitted CDF vs the true CDF: within the DKW band of the sample it was fitted to
    assert np.max(np.abs(mixture_cdf(grid, fw, fm, fs) - mixture_cdf(grid, w, m, s))) < _dkw(n)
    assert fw.sum() == pytest.approx(1.0)


def test_draws_mode_is_joint_across_strata(fit_path):
    ep = EndpointSpec(sd=0.35, strata={"edss_6.0-6.5": 0.5, "edss_3.0-5.5": 0.5})
    smp = effect_sampler(FitScenario(from_fit=str(fit_path), model="summary_log", prior="skeptical"), ep)
    th = smp.sample(50_000, rng=np.random.default_rng(0))
    assert th.shape == (50_000, 2) and smp.kind == "design_prior"
    r = np.corrcoef(th.T)[0, 1]
    ref = xr.open_dataset(fit_path, group="posterior")["effect"].values.reshape(-1, 2)
    r_ref = np.corrcoef(ref.T)[0, 1]
    # resampling keeps the pairs: correlation equal to the draws' within sampling error
    assert abs(r - r_ref) < 4 * (1 - r_ref**2) / math.sqrt(len(ref))
    assert stats.ks_2samp(th[:, 1], ref[:, 1]).pvalue > 1e-3


def test_population_picks_one_and_missing_strata_refused(fit_path):
    ep = EndpointSpec(sd=0.35)
    smp = effect_sampler(FitScenario(from_fit=str(fit_path), model="summary_log", prior="skeptical",
                                     population="edss_3.0-5.5"), ep)
    th = smp.sample(20_000, rng=np.random.default_rng(1))
    assert abs(th.mean() - 0.05) < 4 * 0.15 / math.sqrt(10_000)
    ep2 = EndpointSpec(sd=0.35, strata={"edss_6.0-6.5": 1, "edss_7": 1})
    with pytest.raises(ConfigError, match="edss_7"):
        effect_sampler(FitScenario(from_fit=str(fit_path), model="summary_log", prior="skeptical"), ep2)
    with pytest.raises(ConfigError, match="choose one"):
        effect_sampler(FitScenario(from_fit=str(fit_path), model="summary_log", prior="skeptical"), ep)


def test_discount_inflates_variance_and_robust_weight(fit_path):
    ep = EndpointSpec(sd=0.35)
    base = dict(from_fit=str(fit_path), model="summary_log", prior="skeptical", population="edss_6.0-6.5")
    n = 100_000
    a = effect_sampler(FitScenario(**base), ep).sample(n, rng=np.random.default_rng(2))[:, 0]
    b = effect_sampler(FitScenario(**base, discount=0.5), ep).sample(n, rng=np.random.default_rng(2))[:, 0]
    assert b.var() / a.var() == pytest.approx(2.0, rel=1e-9)  # same resampled draws, scaled about the mean
    # robust: weight 0.2 on N(0, (sd sqrt 2)^2) (RBesT convention: vague part centred at no
    # effect) -> mean 0.8 m, variance 0.8 v + 0.2 * 2 sd^2 + 0.8 * 0.2 * m^2
    c = effect_sampler(FitScenario(**base, robust_weight=0.2), ep).sample(n, rng=np.random.default_rng(3))[:, 0]
    v, m = a.var(), a.mean()
    expected = 0.8 * v + 0.2 * 2 * 0.35**2 + 0.8 * 0.2 * m**2
    kurt = stats.kurtosis(c, fisher=False)
    assert abs(c.var() / expected - 1) < 3 * math.sqrt((kurt - 1) / n)


def test_mixture_mode_fits_and_robustifies(fit_path):
    ep = EndpointSpec(sd=0.35)
    base = dict(from_fit=str(fit_path), model="summary_log", prior="skeptical", population="edss_6.0-6.5",
                mode="mixture", n_components=2)
    smp = effect_sampler(FitScenario(**base, robust_weight=0.1, discount=0.5), ep)
    w, m, s = (np.asarray(smp.meta[k]) for k in ("weights", "means", "sds"))
    assert len(w) == 3 and w[-1] == pytest.approx(0.1) and s[-1] == pytest.approx(0.35 * math.sqrt(2))
    plain = effect_sampler(FitScenario(**base), ep)
    pw, pm, ps = (np.asarray(plain.meta[k]) for k in ("weights", "means", "sds"))
    draws = xr.open_dataset(fit_path, group="posterior")["effect"].values.reshape(-1, 2)[:, 0]
    # the fitted mixture reproduces the draws' distribution (DKW band)
    grid = np.quantile(draws, np.linspace(0.001, 0.999, 300))
    ecdf = np.searchsorted(np.sort(draws), grid, side="right") / len(draws)
    assert np.max(np.abs(mixture_cdf(grid, pw, pm, ps) - ecdf)) < _dkw(len(draws))
    assert np.allclose(s[:2], ps / math.sqrt(0.5)) and np.allclose(w[:2], 0.9 * pw)
    # discounting is the law of c + (X - c)/sqrt(d): mean kept, TOTAL variance (within + between
    # components) divided by d -- closed-form mixture moments, and the same as mode: draws
    disc = effect_sampler(FitScenario(**base, discount=0.5), ep)
    dw, dm, ds = (np.asarray(disc.meta[k]) for k in ("weights", "means", "sds"))

    def _moments(w_, m_, s_):
        mu = float(np.sum(w_ * m_))
        return mu, float(np.sum(w_ * (s_**2 + m_**2)) - mu**2)

    (mu0, v0), (mu1, v1) = _moments(pw, pm, ps), _moments(dw, dm, ds)
    assert mu1 == pytest.approx(mu0, abs=1e-12) and v1 == pytest.approx(v0 / 0.5, rel=1e-12)
    assert v0 == pytest.approx(draws.var(), rel=1e-3)  # EM preserves the first two moments
    # the discounted mixture's CDF equals that of the discounted draws (DKW band)
    dd = draws.mean() + (draws - draws.mean()) / math.sqrt(0.5)
    grid = np.quantile(dd, np.linspace(0.001, 0.999, 300))
    ecdf = np.searchsorted(np.sort(dd), grid, side="right") / len(dd)
    assert np.max(np.abs(mixture_cdf(grid, dw, dm, ds) - ecdf)) < _dkw(len(dd))


def test_from_fit_scenario_in_engine(fit_path, tmp_path):
    raw = {"name": "x", "seed": 5, "endpoint": {"sd": 0.35, "strata": {"edss_6.0-6.5": 0.6, "edss_3.0-5.5": 0.4}},
           "design": {"type": "parallel", "n_per_arm": 60},
           "scenarios": {"post": {"from_fit": str(fit_path), "model": "summary_log", "prior": "skeptical"}},
           "analysis": {"method": "bayes_normal", "prior": {"mean": 0, "sd": 0.11}}}
    cfg = validate_sim_config(raw)
    r = simulate_cell(cfg, "post", 40_000, cell_seed(5, "post"), chunk_size=20_000).finalize()
    # true effect = enrolment-weighted stratum effects: 0.6 * 0.2 + 0.4 * 0.05 = 0.14
    assert abs(r["mean_true"] - 0.14) < 4 * r["mean_true_mcse"]
    assert abs(r["bias"]) < 4 * r["bias_mcse"]  # unbiased difference in means (flat analysis not needed)
