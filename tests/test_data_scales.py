"""Scales: closed-form DESIGN examples, brute-force log-normal moments, round-trip properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msbayes.data.scales import (
    MCID_6MWT,
    MCID_T25FW,
    arm_to_log_scale,
    lognormal_mean_sd,
    lognormal_moments,
    log_benefit_from_pct,
    mcid,
    pct_from_log_benefit,
    pct_from_ratio,
    ratio_from_pct,
)

CONVS = ["pct_improvement_time", "pct_change_time", "pct_change_speed", "pct_improvement_distance"]


def test_design_examples():
    # DESIGN.md: saline m = 1.544, s = 0.705 -> sigma ~ 0.44; MSC-NP m = 0.963, s = 0.231 -> 0.24
    _, s_sal = lognormal_moments(1.544, 0.705)
    _, s_msc = lognormal_moments(0.963, 0.231)
    assert round(float(s_sal), 2) == 0.44 and round(float(s_msc), 2) == 0.24
    # the same through the published percent values (time-based % improvement)
    mu, sig = arm_to_log_scale([-54.4, 3.7], [70.5, 23.1], convention="pct_improvement_time", endpoint="t25fw")
    assert np.round(sig, 2).tolist() == [0.44, 0.24]
    # closed form by hand: mu_r = ln m - sigma^2/2, log speed = -mu_r
    s2 = math.log(1 + (0.705 / 1.544) ** 2)
    assert mu[0] == pytest.approx(-(math.log(1.544) - s2 / 2), rel=1e-12)


def test_time_ratio_reading():
    # DESIGN: p = -54.4 means walking took 1.544 times as long
    assert float(ratio_from_pct(-54.4, convention="pct_improvement_time")) == pytest.approx(1.544)
    assert float(ratio_from_pct(14.0, convention="pct_change_time")) == pytest.approx(1.14)
    # 25 % faster speed = time ratio 0.8
    assert float(ratio_from_pct(25.0, convention="pct_change_speed")) == pytest.approx(0.8)
    assert float(log_benefit_from_pct(20.0, convention="pct_change_speed")) == pytest.approx(math.log(1.2))


@pytest.mark.parametrize("m,s", [(1.544, 0.705), (0.963, 0.231), (0.908, 0.182)])
def test_lognormal_moments_brute_force(m, s):
    """10^6 draws from LN(mu, sigma): sample mean and SD within 4 MCSE of (m, s)."""
    mu, sigma = lognormal_moments(m, s)
    rng = np.random.default_rng(20261125)
    n = 1_000_000
    x = np.exp(rng.normal(float(mu), float(sigma), n))
    # MCSE of the mean: s / sqrt(n); of the SD: sqrt((mu4/s^4 - 1)/(4 n)) * s, with the
    # log-normal kurtosis mu4/s^4 = e^{4 sig^2} + 2 e^{3 sig^2} + 3 e^{2 sig^2} - 3
    w = math.exp(float(sigma) ** 2)
    kurt = w**4 + 2 * w**3 + 3 * w**2 - 3
    se_mean = s / math.sqrt(n)
    se_sd = s * math.sqrt((kurt - 1) / (4 * n))
    assert abs(x.mean() - m) < 4 * se_mean
    assert abs(x.std(ddof=1) - s) < 4 * se_sd


def test_lognormal_inverse_closed_form():
    m, s = lognormal_mean_sd(*lognormal_moments([0.5, 1.0, 2.0], [0.1, 0.4, 3.0]))
    np.testing.assert_allclose(m, [0.5, 1.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(s, [0.1, 0.4, 3.0], rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="ratio mean must be > 0"):
        arm_to_log_scale(120.0, 10.0, convention="pct_improvement_time", endpoint="t25fw")
    with pytest.raises(ValueError, match="> 0"):
        lognormal_moments(0.0, 1.0)
    with pytest.raises(ValueError, match="SD >= 0"):
        lognormal_moments(1.0, -1.0)
    with pytest.raises(ValueError, match="does not apply to endpoint"):
        arm_to_log_scale(1.0, 1.0, convention="pct_improvement_distance", endpoint="t25fw")
    with pytest.raises(ValueError, match="convention must be one of"):
        ratio_from_pct(1.0, convention="pct")
    with pytest.raises(ValueError, match="endpoint must be one of"):
        mcid("edss")


def test_mcid():
    assert MCID_T25FW == math.log(1.2) and MCID_6MWT == math.log(1.08)
    assert mcid("t25fw") == mcid("t25fw", "log_speed_ratio") == math.log(1.2)
    assert mcid("6mwt") == mcid("6mwt", "log_distance_ratio") == math.log(1.08)
    # % scale: the same clinical MCID, mapped by hand (T25FW time-based % improvement of a 20 %
    # speed gain: time ratio 1/1.2; 6MWT: 8 % distance)
    assert mcid("t25fw", "pct_improvement") == pytest.approx(100 * (1 - 1 / 1.2), rel=1e-12)
    assert mcid("6mwt", "pct_improvement") == 8.0
    # 20 m at 250 m is 8 %
    assert 20 / 250 == pytest.approx(0.08)
    with pytest.raises(ValueError, match="does not apply"):
        mcid("t25fw", "log_distance_ratio")


def test_pct_and_log_mcids_are_the_same_clinical_threshold():
    """The MCID on the published % scale is the log-scale MCID under the endpoint's published
    convention (otherwise P(>MCID) and the calibrated priors differ between the two models)."""
    # T25FW: % improvement in time p -> log speed ratio -log(1 - p/100)
    assert -math.log(1 - mcid("t25fw", "pct_improvement") / 100) == pytest.approx(mcid("t25fw"), rel=1e-12)
    # 6MWT: % distance p -> log distance ratio log(1 + p/100)
    assert math.log(1 + mcid("6mwt", "pct_improvement") / 100) == pytest.approx(mcid("6mwt"), rel=1e-12)


def test_sign_conventions_agree():
    # the same patient (time 10 s -> 8 s) in three conventions gives the same log speed ratio
    t0, t1 = 10.0, 8.0
    imp = 100 * (1 - t1 / t0)  # % improvement (time)
    chg = 100 * (t1 / t0 - 1)  # % change in time
    spd = 100 * (t0 / t1 - 1)  # % change in speed
    expected = math.log(t0 / t1)
    for v, c in ((imp, "pct_improvement_time"), (chg, "pct_change_time"), (spd, "pct_change_speed")):
        assert float(log_benefit_from_pct(v, convention=c)) == pytest.approx(expected, rel=1e-12)


pct = st.floats(min_value=-95.0, max_value=95.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(v=pct, conv=st.sampled_from(CONVS))
def test_roundtrip_pct_ratio(v, conv):
    r = ratio_from_pct(v, convention=conv)
    assert r > 0
    assert float(pct_from_ratio(r, convention=conv)) == pytest.approx(v, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(v=pct, conv=st.sampled_from(CONVS))
def test_roundtrip_pct_log(v, conv):
    b = log_benefit_from_pct(v, convention=conv)
    assert float(pct_from_log_benefit(b, convention=conv)) == pytest.approx(v, abs=1e-8)
    # positive = better under every convention
    better = v > 0 if conv in ("pct_improvement_time", "pct_change_speed", "pct_improvement_distance") else v < 0
    if abs(v) > 1e-9:
        assert (float(b) > 0) == better


@settings(max_examples=200, deadline=None)
@given(m=st.floats(0.05, 20.0), cv=st.floats(0.0, 3.0))
def test_roundtrip_lognormal(m, cv):
    mu, sigma = lognormal_moments(m, m * cv)
    m2, s2 = lognormal_mean_sd(mu, sigma)
    assert float(m2) == pytest.approx(m, rel=1e-9)
    assert float(s2) == pytest.approx(m * cv, rel=1e-7, abs=1e-12)
