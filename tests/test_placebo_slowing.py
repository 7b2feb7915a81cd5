"""Placebo course and effect: a disease-modifying truth (``slowing``) ties the effect to the
placebo decline, so a drift axis changes the answer; a drift axis that cannot change anything
is refused before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from msbayes.config import ConfigError, load_yaml
from msbayes.design.config import apply_overrides, validate_sim_config
from msbayes.design.scenarios import scenario_kind
from msbayes.rng import cell_seed
from msbayes.simulate.engine import simulate_cell


def _raw(scenarios, grid=None, analysis=None, placebo_mean=-0.2):
    raw = {"name": "d", "seed": 9, "endpoint": {"sd": 0.3, "placebo_mean": placebo_mean, "mcid": 0.1823},
           "design": {"type": "parallel", "n_per_arm": 50}, "scenarios": scenarios,
           "analysis": analysis or {"method": "welch", "sided": "one", "alpha": 0.025},
           "decision": {"rule": "significance", "alpha": 0.025}}
    if grid:
        raw["grid"] = grid
    return raw


def _power(delta, n, sd, alpha=0.025):
    df = 2 * n - 2
    return 1 - stats.nct.cdf(stats.t.ppf(1 - alpha, df), df, delta / sd * math.sqrt(n / 2))


def test_slowing_effect_moves_with_placebo_decline():
    raw = _raw({"half": {"slowing": 0.5}, "add": {"effect": 0.1}}, grid={"endpoint.placebo_mean": [-0.1, -0.2, -0.4]})
    cfg = validate_sim_config(raw)
    assert scenario_kind(cfg.scenarios["half"], cfg.endpoint) == ("fixed", pytest.approx(0.1))
    res = {}
    for pm in (-0.1, -0.2, -0.4):
        c = validate_sim_config(apply_overrides(raw, {"endpoint.placebo_mean": pm}, grid=False))
        for s in ("half", "add"):
            r = simulate_cell(c, s, 20_000, cell_seed(9, {"pm": pm, "s": s})).finalize()
            res[pm, s] = r
        # effect = 0.5 * decline: power of the one-sided t-test at that effect (noncentral t)
        r = res[pm, "half"]
        assert abs(r["mean_true"] - 0.5 * -pm) < 1e-12
        assert abs(r["p_go"] - _power(-0.5 * pm, 50, 0.3)) < 3 * r["p_go_mcse"]
    # along the drift axis: slowing changes P(go) a lot, the additive effect not at all
    assert res[-0.4, "half"]["p_go"] - res[-0.1, "half"]["p_go"] > 0.5
    adds = [res[pm, "add"]["p_go"] for pm in (-0.1, -0.2, -0.4)]
    se = res[-0.2, "add"]["p_go_mcse"]
    assert max(adds) - min(adds) < 4 * math.sqrt(2) * se


@pytest.mark.parametrize("analysis", [{"method": "welch"}, {"method": "ancova"},
                                      {"method": "bayes_normal", "prior": {"mean": 0, "sd": 0.1}}])
def test_inert_placebo_axis_refused(analysis):
    dec = {} if analysis["method"] != "bayes_normal" else {"decision": {"go": {"p_benefit": 0.95}}}
    raw = {**_raw({"null": {"effect": 0.0}, "mcid": {"effect": 0.18}},
                  grid={"endpoint.placebo_mean": [-0.3, -0.1]}, analysis=analysis), **dec}
    if analysis["method"] == "bayes_normal":
        raw.pop("decision")
        raw.update(dec)
    with pytest.raises(ConfigError) as ei:
        validate_sim_config(raw)
    assert "grid.endpoint.placebo_mean" in str(ei.value) and "cannot change any result" in str(ei.value)
    assert ("grid.endpoint.placebo_mean" in [f for f, _ in ei.value.errors])


def test_slowing_needs_a_decline():
    with pytest.raises(ConfigError, match="placebo_mean"):
        validate_sim_config(_raw({"half": {"slowing": 0.5}}, placebo_mean=0.0))
    with pytest.raises(ConfigError, match=r"grid.endpoint.placebo_mean\[1\]"):
        validate_sim_config(_raw({"half": {"slowing": 0.5}}, grid={"endpoint.placebo_mean": [-0.2, 0.1]}))
    with pytest.raises(ConfigError, match="slowing"):
        validate_sim_config(_raw({"half": {"slowing": 1.5}}))


def test_shipped_drift_study_tests_something(tmp_path):
    raw, _ = load_yaml("simulations/sensitivity_sd_drift/config.yaml")
    cfg = validate_sim_config(raw, base_dir=tmp_path)
    assert "endpoint.placebo_mean" in cfg.grid
    assert any(getattr(s, "slowing", None) for s in cfg.scenarios.values())
    # one cell per drift value (smallest n, SD): the slowing scenario's effect moves with drift
    effs = []
    for pm in cfg.grid["endpoint.placebo_mean"]:
        c = validate_sim_config(apply_overrides(raw, {"endpoint.placebo_mean": pm}, grid=False))
        name = next(k for k, s in c.scenarios.items() if getattr(s, "slowing", None))
        effs.append(scenario_kind(c.scenarios[name], c.endpoint)[1])
    assert len(set(np.round(effs, 12))) == len(effs)


def test_slowing_grid_assembles_with_true_effect_per_cell(tmp_path):
    import io

    from msbayes.grid.runner import run_grid

    raw = _raw({"half": {"slowing": 0.5}, "add": {"effect": 0.1}}, grid={"endpoint.placebo_mean": [-0.1, -0.4]})
    raw["simulation"] = {"n_sims": 2000, "chunk_size": 1000}
    ds = run_grid(raw, config_text="x", out_dir=tmp_path / "o", backend="sequential", quiet=True, stream=io.StringIO())
    assert list(ds["scenario_kind"].values.ravel()) == ["fixed"] * ds["scenario_kind"].size
    te = ds["true_effect"]
    assert float(te.sel({"endpoint.placebo_mean": -0.4, "scenario": "half"})) == pytest.approx(0.2)
    assert float(te.sel({"endpoint.placebo_mean": -0.1, "scenario": "half"})) == pytest.approx(0.05)
    assert float(te.sel({"endpoint.placebo_mean": -0.1, "scenario": "add"})) == pytest.approx(0.1)
    # the ceiling of a fixed effect is 0 or 1: the significance rule needs effect > 0
    assert float(ds["assurance_ceiling"].sel({"endpoint.placebo_mean": -0.1, "scenario": "half"})) == 1.0
