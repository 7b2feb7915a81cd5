"""Posterior summaries and the diagnostics gate, against closed forms and hand-built cases.

* ``summarize_draws`` on i.i.d. normal draws: mean, SD, quantiles, P(>0) and P(>MCID) against
  the normal closed form, within 4 Monte Carlo SE of i.i.d. sampling (the draws are i.i.d., so
  the MCSE is exact: sd/sqrt(N) for the mean, sqrt(p(1-p)/N) for a probability,
  sqrt(q(1-q)/N)/f(x_q) for a quantile). The MCID direction is checked (P(effect > MCID), not
  P(effect < MCID)).
* The gate's thresholds are the issue's: R-hat <= 1.01, no divergences, bulk ESS >= 400; each
  boundary is checked on both sides with hand-written rows (no sampler involved).
* The summary table's required columns are the literal list from the requirements, not the
  module's own constant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from msbayes.fit.config import DiagnosticsSpec
from msbayes.fit.summarize import SUMMARY_COLUMNS, gate, summarize_draws

REQUIRED = ("model", "prior", "endpoint", "population", "estimand", "scale", "mean", "sd", "q2.5", "q97.5",
            "p_benefit", "p_mcid", "r_hat", "ess_bulk")


def test_summary_columns_contain_the_required_ones_in_order():
    assert SUMMARY_COLUMNS[: len(REQUIRED)] == REQUIRED


@pytest.mark.parametrize("mu,sd,mcid", [(0.3, 0.1, math.log(1.2)), (-0.05, 0.2, math.log(1.08)), (25.0, 15.0, 20.0)])
def test_summarize_iid_normal_against_closed_form(mu, sd, mcid):
    rng = np.random.default_rng(20261125)
    n_chain, n_draw = 4, 25_000
    d = rng.normal(mu, sd, (n_chain, n_draw))
    s = summarize_draws(d, mcid=mcid)
    N = d.size
    assert abs(s["mean"] - mu) < 4 * sd / math.sqrt(N)
    assert abs(s["sd"] - sd) < 4 * sd / math.sqrt(2 * (N - 1))
    for key, q in (("q2.5", 0.025), ("q97.5", 0.975)):
        xq = stats.norm.ppf(q, mu, sd)
        se = math.sqrt(q * (1 - q) / N) / stats.norm.pdf(xq, mu, sd)
        assert abs(s[key] - xq) < 4 * se, (key, s[key], xq)
    p0 = stats.norm.sf(0.0, mu, sd)  # P(effect > 0): benefit (positive = better)
    pm = stats.norm.sf(mcid, mu, sd)  # P(effect > MCID)
    assert abs(s["p_benefit"] - p0) < 4 * math.sqrt(p0 * (1 - p0) / N) + 1e-12
    assert abs(s["p_mcid"] - pm) < 4 * math.sqrt(pm * (1 - pm) / N) + 1e-12
    assert s["p_mcid"] <= s["p_benefit"]  # MCID > 0: beyond the MCID implies benefit
    # i.i.d. chains: R-hat passes the gate and ESS is of the order of N (well above 400)
    assert s["r_hat"] <= 1.01 and s["ess_bulk"] > 0.5 * N and s["ess_tail"] > 0.5 * N


def test_rhat_detects_chains_that_disagree():
    """Two chains centred 1 SD apart are not converged: R-hat >> 1.01 and the gate fails."""
    rng = np.random.default_rng(5)
    d = np.stack([rng.normal(0.0, 1.0, 1000), rng.normal(1.0, 1.0, 1000)])
    s = summarize_draws(d, mcid=0.2)
    assert s["r_hat"] > 1.1
    ok, flag = gate(s, n_divergences=0, spec=DiagnosticsSpec())
    assert not ok and "r_hat" in flag


ROW = {"r_hat": 1.0, "ess_bulk": 1000.0, "ess_tail": 1000.0}


@pytest.mark.parametrize(
    "change,n_div,ok,word",
    [
        ({}, 0, True, ""),
        ({"r_hat": 1.01}, 0, True, ""),  # "R-hat <= 1.01" passes at the boundary
        ({"r_hat": 1.0101}, 0, False, "r_hat"),
        ({"r_hat": float("nan")}, 0, False, "r_hat"),  # not computable (one chain) is a failure
        ({"ess_bulk": 400.0}, 0, True, ""),  # "ESS bulk >= 400" passes at the boundary
        ({"ess_bulk": 399.9}, 0, False, "ess_bulk"),
        ({"ess_bulk": float("nan")}, 0, False, "ess_bulk"),
        ({"ess_tail": 199.0}, 0, False, "ess_tail"),
        ({}, 1, False, "divergent"),  # "no divergences": a single one fails
    ],
)
def test_gate_boundaries(change, n_div, ok, word):
    res, flag = gate({**ROW, **change}, n_divergences=n_div, spec=DiagnosticsSpec())
    assert res is ok
    assert (flag == "") is ok
    if word:
        assert word in flag


def test_gate_defaults_are_the_required_thresholds():
    spec = DiagnosticsSpec()
    assert (spec.rhat_max, spec.ess_min, spec.max_divergences) == (1.01, 400.0, 0)


def test_gate_lists_every_failure():
    ok, flag = gate({"r_hat": 1.2, "ess_bulk": 50.0, "ess_tail": 20.0}, n_divergences=3, spec=DiagnosticsSpec())
    assert not ok
    for w in ("r_hat", "ess_bulk", "ess_tail", "3 divergent"):
        assert w in flag


def test_single_chain_fails_gate_instead_of_passing_silently():
    d = np.random.default_rng(1).normal(size=(1, 4000))
    s = summarize_draws(d, mcid=0.2)
    assert math.isnan(s["r_hat"])
    assert not gate(s, n_divergences=0, spec=DiagnosticsSpec())[0]


def test_terminal_warning_quotes_the_configured_gate():
    import pandas as pd
    from rich.console import Console

    from msbayes.fit.cli import print_summary
    from msbayes.fit.config import DiagnosticsSpec

    row = {"model": "summary_log", "prior": "neutral", "endpoint": "t25fw", "estimand": "effect",
           "population": "edss_6.0-6.5", "status": "estimate", "mean": 0.1, "q2.5": -0.1, "q97.5": 0.3,
           "p_benefit": 0.8, "p_mcid": 0.3, "r_hat": 1.03, "ess_bulk": 250.0}
    summary = pd.DataFrame([{**row, "diagnostics_ok": False, "flag": "r_hat 1.03 > 1.02"},
                            {**row, "population": "edss_3.0-5.5", "diagnostics_ok": True, "flag": ""}])
    con = Console(record=True, width=200)
    print_summary(summary, console=con, gate=DiagnosticsSpec(rhat_max=1.02, ess_min=200, max_divergences=3))
    text = con.export_text()
    assert "1 estimand(s) FAILED the diagnostics gate" in text
    assert "R-hat <= 1.02, at most 3 divergences, ESS bulk >= 200" in text
    assert "summary_log x neutral: t25fw / edss_6.0-6.5: r_hat 1.03 > 1.02" in text
    con = Console(record=True, width=200)
    print_summary(summary, console=con)  # no gate given: the documented defaults
    assert "R-hat <= 1.01, no divergences, ESS bulk >= 400" in con.export_text()
