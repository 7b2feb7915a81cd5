"""Design-prior variants of a ``from_fit`` scenario: skeptical shrinkage, robust mixture
centred at no effect, no effect in unreported strata; each checked against its definition,
and the three assurances told apart by more than 3 MCSE."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special, stats

from msbayes.config import ConfigError
from msbayes.design.config import validate_sim_config
from msbayes.design.endpoint import EndpointSpec
from msbayes.design.prior import shrink_mixture
from msbayes.design.scenarios import FitScenario, effect_sampler, scenario_label
from msbayes.fit.artefact import effect_dataarray
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell

POP = "edss_6.0-6.5"
UNREP = "edss_3.0-5.5"


def _write_fit(path, draws, pops, status):
    est = pd.DataFrame({"model": "summary_log", "prior": "skeptical", "endpoint": "t25fw", "population": pops,
                        "scale": "log_speed_ratio", "status": status})
    xr.Dataset({"effect": effect_dataarray(draws, est)}).to_netcdf(path, group="posterior")
    return path


@pytest.fixture(scope="module")
def fit_path(tmp_path_factory):
    """A posterior like a small subgroup re-analysis: stratum 1 estimated (mean 0.25, SD 0.12),
    stratum 2 only predicted (wider, correlated); 4 chains x 500 draws."""
    rng = np.random.default_rng(7)
    cov = np.array([[0.12**2, 0.6 * 0.12 * 0.2], [0.6 * 0.12 * 0.2, 0.2**2]])
    d = rng.multivariate_normal([0.25, 0.15], cov, size=(4, 500))
    return _write_fit(tmp_path_factory.mktemp("fitv") / "posterior.nc", d, [POP, UNREP], ["estimate", "prediction"])


def _draws(fit_path, col=0):
    return xr.open_dataset(fit_path, group="posterior")["effect"].values.reshape(-1, 2)[:, col]


def _dkw(n, level=1e-3):
    return math.sqrt(math.log(2 / level) / (2 * n))


def _ecdf(sample, grid):
    return np.searchsorted(np.sort(sample), grid, side="right") / len(sample)


BASE = dict(model="summary_log", prior="skeptical", population=POP)
EP = EndpointSpec(sd=0.35, strata={POP: 1.0})


def test_skeptical_shifts_mean_keeps_spread(fit_path):
    d = _draws(fit_path)
    n = 200_000
    smp = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, shrink=0.5), EP)
    x = smp.sample(n, rng=np.random.default_rng(1))[:, 0]
    # definition: theta -> theta - 0.5 * mean(draws); the law of a resampled draw, shifted
    target = d - 0.5 * d.mean()
    assert abs(x.mean() - 0.5 * d.mean()) < 4 * d.std() / math.sqrt(n)
    assert abs(x.std() / d.std() - 1) < 4 * math.sqrt((stats.kurtosis(d, fisher=False) - 1) / (4 * n))
    grid = np.quantile(target, np.linspace(0.005, 0.995, 200))
    assert np.max(np.abs(_ecdf(x, grid) - _ecdf(target, grid))) < _dkw(n)
    # same draws, shifted exactly: shrink 0 centres the posterior at no effect
    y = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, shrink=0.0), EP).sample(1000, rng=np.random.default_rng(2))
    z = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE), EP).sample(1000, rng=np.random.default_rng(2))
    assert np.allclose(y, z - d.mean(), atol=1e-12)


def test_skeptical_mixture_mode_closed_form(fit_path):
    plain = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, mode="mixture"), EP)
    sk = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, mode="mixture", shrink=0.3), EP)
    pw, pm, ps = (np.asarray(plain.meta[k]) for k in ("weights", "means", "sds"))
    w, m, s = (np.asarray(sk.meta[k]) for k in ("weights", "means", "sds"))
    assert float(np.sum(w * m)) == pytest.approx(0.3 * float(np.sum(pw * pm)), abs=1e-12)
    assert np.allclose(s, ps) and np.allclose(w, pw)
    ew, em, es = shrink_mixture(pw, pm, ps, 0.3)
    assert np.allclose(em, m)


def test_robust_is_mixture_with_vague_part_at_zero(fit_path):
    d = _draws(fit_path)
    n = 200_000
    w = 0.2
    smp = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, robust_weight=w), EP)
    x = smp.sample(n, rng=np.random.default_rng(3))[:, 0]
    s = 0.35 * math.sqrt(2)  # unit-information SD of a difference: sd * sqrt(2)
    grid = np.linspace(-1.0, 1.2, 300)
    cdf = (1 - w) * _ecdf(d, grid) + w * special.ndtr(grid / s)
    assert np.max(np.abs(_ecdf(x, grid) - cdf)) < _dkw(n)
    # moments: mean (1 - w) m, variance (1 - w) v + w s^2 + w (1 - w) m^2
    m, v = d.mean(), d.var()
    assert abs(x.mean() - (1 - w) * m) < 4 * x.std() / math.sqrt(n)
    assert abs(x.var() / ((1 - w) * v + w * s * s + w * (1 - w) * m * m) - 1) < 4 * math.sqrt(
        (stats.kurtosis(x, fisher=False) - 1) / n)
    # mixture mode: the last component is N(0, s^2) with weight w
    mix = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, robust_weight=w, mode="mixture"), EP)
    assert mix.meta["means"][-1] == 0.0 and mix.meta["sds"][-1] == pytest.approx(s) and mix.meta["weights"][-1] == w


def test_prob_above_matches_definitions(fit_path):
    d = _draws(fit_path)
    c = 0.1823
    p0, se0 = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE), EP).prob_above(c, np.ones(1))
    assert p0 == pytest.approx(np.mean(d > c)) and 0 < se0 < 0.05
    p1, _ = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, shrink=0.5), EP).prob_above(c, np.ones(1))
    assert p1 == pytest.approx(np.mean(d - 0.5 * d.mean() > c))
    p2, se2 = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, robust_weight=0.2), EP).prob_above(c, np.ones(1))
    assert p2 == pytest.approx(0.8 * np.mean(d > c) + 0.2 * special.ndtr(-c / (0.35 * math.sqrt(2))))
    assert se2 == pytest.approx(0.8 * se0)


def _cfg(fit_path, n=60, **extra):
    sc = {"from_fit": str(fit_path), **BASE}
    return validate_sim_config({
        "name": "v", "seed": 11,
        "endpoint": {"sd": 0.35, "placebo_mean": -0.18, "mcid": 0.1823, "dropout": 0.12, "strata": {POP: 1.0}},
        "design": {"type": "parallel", "n_per_arm": n},
        "scenarios": {"posterior": sc, "skeptical": {**sc, "shrink": 0.5}, "robust": {**sc, "robust_weight": 0.2}},
        "analysis": {"method": "bayes_normal", "prior": {"mean": 0.0, "sd": 0.111}},
        "decision": {"go": {"p_benefit": 0.975, "p_mcid": 0.5}, "no_go": {"p_mcid_below": 0.1}}, **extra})


def test_three_assurances_differ_by_more_than_3_mcse(fit_path):
    cfg = _cfg(fit_path)
    r = {s: simulate_cell(cfg, s, 20_000, cell_seed(11, s)).finalize() for s in ("posterior", "skeptical", "robust")}
    for a, b in (("posterior", "skeptical"), ("posterior", "robust"), ("skeptical", "robust")):
        diff = abs(r[a]["p_go"] - r[b]["p_go"])
        se = math.hypot(r[a]["p_go_mcse"], r[b]["p_go_mcse"])
        assert diff > 3 * se, (a, b, r[a]["p_go"], r[b]["p_go"], se)
    # the skeptical variant is the least optimistic here; MCSEs include the draws' part
    assert r["skeptical"]["p_go"] < r["robust"]["p_go"] < r["posterior"]["p_go"]
    assert r["posterior"]["p_go_mcse_draws"] > 0


def test_unreported_stratum_gets_no_effect_and_is_labelled(fit_path):
    ep = EndpointSpec(sd=0.35, strata={POP: 0.5, UNREP: 0.5})
    sc = dict(from_fit=str(fit_path), model="summary_log", prior="skeptical")
    d2 = _draws(fit_path, 1)
    null = effect_sampler(FitScenario(**sc), ep)  # default: unreported -> null_effect
    th = null.sample(10_000, rng=np.random.default_rng(4))
    assert np.all(th[:, 1] == 0.0) and th[:, 0].std() > 0
    assert null.meta["prediction_strata"] == [UNREP] and "no effect" in null.meta["label"]
    pred = effect_sampler(FitScenario(**sc, unreported="predicted"), ep)
    tp = pred.sample(10_000, rng=np.random.default_rng(4))
    assert np.array_equal(tp[:, 0], th[:, 0]) and set(np.unique(tp[:, 1])) <= set(d2)
    assert "predictions" in pred.meta["label"]
    # the label travels with the config: scenario_label (oc.nc attrs scenario_labels)
    raw = {"name": "u", "seed": 1, "endpoint": {"sd": 0.35, "strata": {POP: 0.5, UNREP: 0.5}},
           "design": {"type": "parallel", "n_per_arm": 30},
           "scenarios": {"p": sc, "q": {**sc, "unreported": "predicted"}, "f": {"effect": 0.1}},
           "analysis": {"method": "bayes_normal", "prior": "flat"}}
    cfg = validate_sim_config(raw)
    assert "no effect" in scenario_label(cfg, "p") and "prediction" in scenario_label(cfg, "q")
    assert scenario_label(cfg, "f") == ""
    with pytest.raises(ConfigError, match="unreported"):
        validate_sim_config({**raw, "scenarios": {"p": {**sc, "unreported": "guess"}}})


def test_shipped_assurance_config_gives_three_assurances(fit_path, tmp_path):
    """configs/design/assurance_from_fit.yaml on a synthetic posterior (the shipped fit is not
    needed): three design priors, three different assurances; oc.nc carries the boundary, the
    ceiling, the draws' part of the MCSE and the Clopper-Pearson bounds."""
    import io
    import json

    from msbayes.config import load_yaml
    from msbayes.grid.runner import run_grid

    raw, text = load_yaml("configs/design/assurance_from_fit.yaml")
    fits = [k for k, s in raw["scenarios"].items() if isinstance(s, dict) and "from_fit" in s]
    assert fits == ["posterior", "posterior_skeptical", "posterior_robust"]
    for k in fits:
        raw["scenarios"][k]["from_fit"] = str(fit_path)
    raw["grid"] = {"design.n_per_arm": [60, 2000]}
    raw["simulation"] = {"n_sims": 20_000, "chunk_size": 10_000}
    ds = run_grid(raw, config_text=text, out_dir=tmp_path / "o", backend="sequential", quiet=True,
                  stream=io.StringIO())
    for v in ("go_boundary", "design_se", "assurance_ceiling", "assurance_ceiling_mcse", "p_go_upper",
              "p_go_mcse_draws"):
        assert v in ds, v
    p = ds["p_go"].sel({"design.n_per_arm": 60})
    se = ds["p_go_mcse"].sel({"design.n_per_arm": 60})
    for a, b in (("posterior", "posterior_skeptical"), ("posterior", "posterior_robust"),
                 ("posterior_skeptical", "posterior_robust")):
        assert abs(float(p.sel(scenario=a) - p.sel(scenario=b))) > 3 * math.hypot(float(se.sel(scenario=a)),
                                                                                   float(se.sel(scenario=b)))
    # at n = 2000 per arm assurance is close to its ceiling (within MCSE + the O(se) gap)
    big = ds.sel({"design.n_per_arm": 2000})
    for s in fits:
        gap = abs(float(big.p_go.sel(scenario=s) - big.assurance_ceiling.sel(scenario=s)))
        assert gap < 3 * math.hypot(float(big.p_go_mcse.sel(scenario=s)),
                                    float(big.assurance_ceiling_mcse.sel(scenario=s))) + 0.03, s
    # the null scenario's go rate is small; its upper bound is reported
    assert float(ds.p_go_upper.sel(scenario="null", **{"design.n_per_arm": 2000})) >= float(
        ds.p_go.sel(scenario="null", **{"design.n_per_arm": 2000}))
    assert json.loads(ds.attrs.get("scenario_labels", "{}")) == {}


def test_one_population_for_several_strata_with_robust_part(fit_path):
    # population named: its draws serve every stratum; ceiling of the weighted effect
    ep = EndpointSpec(sd=0.35, strata={"a": 0.3, "b": 0.7})
    smp = effect_sampler(FitScenario(from_fit=str(fit_path), **BASE, robust_weight=0.2, shrink=0.5), ep)
    th = smp.sample(1000, rng=np.random.default_rng(5))
    assert th.shape == (1000, 2) and np.array_equal(th[:, 0], th[:, 1])
    d = _draws(fit_path)
    p, _ = smp.prob_above(0.1, ep.stratum_weights)
    assert p == pytest.approx(0.8 * np.mean(d - 0.5 * d.mean() > 0.1) + 0.2 * special.ndtr(-0.1 / (0.35 * math.sqrt(2))))
