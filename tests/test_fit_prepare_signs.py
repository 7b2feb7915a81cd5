"""Sign conventions of the prepared model inputs, checked against hand computations.

* Petrou 2020 reports % change in walk time (positive = slower), the opposite of Harris 2024's
  % improvement. On both analysis scales the IT-MSC vs sham effect must come out positive (sham
  walked 14% slower, IT MSC 5.3% faster) and equal the hand-computed value: log scale =
  difference of the moment-matched log speed ratios -(ln m - sigma^2/2) with m = 1 + p/100;
  % scale = the negated % change.
* ``to_pct_improvement`` for a convention that needs the log-normal (``pct_change_speed``):
  brute-force simulation of the moment-matched log-normal speed ratio, mapped to a time-based
  % improvement 100 (1 - 1/v); mean and SD within 4 MCSE.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from msbayes.fit.config import validate_fit_config
from msbayes.fit.prepare import prepare_inputs, to_pct_improvement

CFG = {"name": "t", "seed": 1, "models": ["summary_log", "summary_pct"],
       "data": {"external": [{"dataset": "petrou2020", "discount": 0.5}]},
       "assumed_n": {"edss_6.0-6.5": {"t25fw": {"msc_np": 12, "saline": 10}, "6mwt": {"msc_np": 12, "saline": 12}}}}

PETROU = {"it_msc": (-5.3, 16.3), "sham": (14.0, 25.4)}  # % change in time, positive = slower


def _log_speed(pct_change_time: float, sd: float) -> float:
    m, s = 1 + pct_change_time / 100, sd / 100
    s2 = math.log(1 + (s / m) ** 2)
    return -(math.log(m) - s2 / 2)


@pytest.fixture(scope="module")
def prep():
    return prepare_inputs(validate_fit_config(CFG))


def test_petrou_log_scale_sign_and_value(prep):
    d = prep.summary["log"]
    rows = {lab.rsplit("/", 1)[-1]: i for i, lab in enumerate(d.row_labels) if lab.startswith("petrou2020/")}
    for arm, (m, s) in PETROU.items():
        assert d.mean[rows[arm]] == pytest.approx(_log_speed(m, s), rel=1e-12)
    # sham got slower: negative log speed ratio; IT MSC got faster: positive
    assert d.mean[rows["sham"]] < 0 < d.mean[rows["it_msc"]]
    raw, _ = prep.raw[("log", "t25fw", "petrou2020/t25fw/all")]
    assert raw == pytest.approx(_log_speed(*PETROU["it_msc"]) - _log_speed(*PETROU["sham"]), rel=1e-12)
    assert raw > 0
    # the primary study's effect has the same (beneficial) sign on this scale
    hraw, _ = prep.raw[("log", "t25fw", "edss_6.0-6.5")]
    assert hraw > 0


def test_petrou_pct_scale_sign_and_value(prep):
    raw, se = prep.raw[("pct", "t25fw", "petrou2020/t25fw/all")]
    assert raw == pytest.approx(-(-5.3) - (-14.0))  # 5.3 - (-14.0) = 19.3 % improvement
    assert raw > 0
    assert se == pytest.approx(math.sqrt(16.3**2 / 32 + 25.4**2 / 32))
    hraw, _ = prep.raw[("pct", "t25fw", "edss_6.0-6.5")]
    assert hraw == pytest.approx(3.7 - (-54.4))


@pytest.mark.parametrize("q,sd", [(25.0, 20.0), (-10.0, 15.0)])
def test_speed_change_to_time_improvement_by_simulation(q, sd):
    from msbayes.data.scales import lognormal_moments

    mean_pct, sd_pct = to_pct_improvement(q, sd, convention="pct_change_speed", endpoint="t25fw")
    mu, sig = lognormal_moments(1 + q / 100, sd / 100)  # speed ratio v
    rng = np.random.default_rng(11)
    N = 2_000_000
    imp = 100 * (1 - np.exp(-rng.normal(float(mu), float(sig), N)))  # time ratio = 1/v
    assert abs(imp.mean() - mean_pct) < 4 * imp.std() / math.sqrt(N)
    # SD: MCSE from the sample kurtosis
    c = imp - imp.mean()
    k = (c**4).mean() / (c**2).mean() ** 2
    assert abs(imp.std(ddof=1) - sd_pct) < 4 * imp.std() * math.sqrt((k - 1) / (4 * N))
    # a speed gain is a time improvement of smaller size (1 - 1/1.25 = 20 %)
    if q > 0:
        assert 0 < mean_pct < q


def test_fit_config_pct_mcid_is_the_log_mcid_on_the_published_scale():
    """Default fit config: the T25FW % scale MCID is the 20 % speed MCID expressed as a time-based
    % improvement (hand formula), so summary_log and summary_pct report P(> the same MCID)."""
    cfg = validate_fit_config(CFG)
    assert -math.log(1 - cfg.mcid.of("t25fw", "pct") / 100) == pytest.approx(cfg.mcid.of("t25fw"), rel=1e-12)
    assert math.log(1 + cfg.mcid.of("6mwt", "pct") / 100) == pytest.approx(cfg.mcid.of("6mwt"), rel=1e-12)
    # the trial's own 20 % time threshold stays available as an explicit choice
    alt = validate_fit_config({**CFG, "mcid": {"pct": {"t25fw": 20.0}}})
    assert alt.mcid.of("t25fw", "pct") == 20.0
