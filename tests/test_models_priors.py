"""Prior presets: calibration to the MCID checked against scipy's normal distribution."""

import math

import pytest
from scipy import stats

from msbayes.models.priors import PRIORS, PriorPreset, resolve_prior


@pytest.mark.parametrize("mcid", [math.log(1.2), math.log(1.08), 20.0, math.log(2.0)])
def test_skeptical_puts_5pct_beyond_mcid(mcid):
    p = resolve_prior(PRIORS["skeptical"], mcid=mcid)
    assert p.mean == 0.0
    assert stats.norm(p.mean, p.sd).sf(mcid) == pytest.approx(0.05, abs=1e-9)


@pytest.mark.parametrize("mcid", [math.log(1.2), 8.0])
def test_enthusiastic_puts_5pct_below_zero(mcid):
    p = resolve_prior(PRIORS["enthusiastic"], mcid=mcid)
    assert p.mean == pytest.approx(mcid)
    assert stats.norm(p.mean, p.sd).cdf(0.0) == pytest.approx(0.05, abs=1e-9)


def test_neutral_is_wide_and_centred():
    p = resolve_prior(PRIORS["neutral"], mcid=math.log(1.2))
    assert p.mean == 0.0 and p.sd == pytest.approx(4 * math.log(1.2))


def test_absolute_custom_prior_ignores_mcid_and_bad_sd_refused():
    p = resolve_prior(PriorPreset("mine", 0.1, 0.3, "absolute"), mcid=5.0)
    assert (p.mean, p.sd) == (0.1, 0.3)
    with pytest.raises(ValueError, match="sd"):
        PriorPreset("bad", 0.0, -1.0)
    with pytest.raises(ValueError, match="mcid"):
        resolve_prior(PRIORS["neutral"], mcid=0.0)
