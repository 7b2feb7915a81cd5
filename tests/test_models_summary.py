"""Summary-level model against closed forms.

* Likelihood: the model log density at a point equals an independent scipy computation of
  N(ybar; mu, sigma^2/n) + the density of s^2 from (n-1)s^2/sigma^2 ~ chi2(n-1) (with Jacobian)
  + the priors.
* Flat prior, known sigma: the effect posterior is N(ybar_t - ybar_c, s_t^2/n_t + s_c^2/n_c)
  (control mean integrated out); compared within 4 MCSE (ArviZ ESS-based MCSE) for the mean
  and for the SD (MCSE of the SD from arviz on the squared deviations).
* Informative prior (tau ~ 0), known sigma: normal-normal conjugate posterior.
"""

import arviz as az
import numpy as np
import pytest
from scipy import stats

from msbayes.fit.sampling import compile_model, sample_compiled
from msbayes.models.summary import SummaryInputs, build_summary_model, stratum_status

DATA = SummaryInputs.two_arm(endpoint="t25fw", stratum="edss_6.0-6.5", n=(12, 10), mean=(0.066, -0.340),
                             sd=(0.237, 0.435), extra_strata=())
SIG = np.array([0.237, 0.435])
V = float((SIG**2 / DATA.n).sum())
RAW = float(DATA.mean[0] - DATA.mean[1])


def test_log_density_matches_scipy():
    m = build_summary_model(DATA, prior_mean=0.1, prior_sd=0.2, tau_sd=0.15, control_sd=1.0, sigma_sd=1.5,
                            prior_on="mean_effect")
    pt_ = {"z_mu": np.array([0.3]), "tau_raw_log__": np.array([np.log(0.5)]),
           "z_stratum": np.array([[-0.4]]), "z_control": np.array([0.2]), "sigma_raw_log__": np.log([0.2, 0.3])}
    lp = float(m.compile_logp()(pt_))
    mu = 0.1 + 0.2 * 0.3
    tau = 0.15 * 0.5
    theta = mu + tau * -0.4
    ctrl = 1.0 * 0.2
    sig = 1.5 * np.array([0.2, 0.3])
    arm = np.array([ctrl + theta, ctrl])
    n = DATA.n
    s2 = DATA.sd**2
    ref = stats.norm.logpdf(0.3) + stats.norm.logpdf(-0.4) + stats.norm.logpdf(0.2)
    # half-normal(1) on tau_raw and sigma_raw with log-transform Jacobian (log x)
    ref += stats.halfnorm.logpdf(0.5) + np.log(0.5)
    ref += (stats.halfnorm.logpdf([0.2, 0.3]) + np.log([0.2, 0.3])).sum()
    ref += stats.norm.logpdf(DATA.mean, arm, sig / np.sqrt(n)).sum()
    q = (n - 1) * s2 / sig**2
    ref += (stats.chi2.logpdf(q, n - 1) + np.log((n - 1) / sig**2)).sum()
    assert lp == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_log_density_matches_scipy_prior_on_stratum_effect():
    """Default parameterisation: theta = m + s (sqrt(1 - w) u + sqrt(w) z), w ~ Beta(a, b)."""
    m = build_summary_model(DATA, prior_mean=0.1, prior_sd=0.2, tau_sd=0.15, control_sd=1.0, sigma_sd=1.5,
                            share_a=2.0, share_b=3.0)
    w = 0.3
    pt_ = {"z_mu": np.array([0.3]), "between_share_logodds__": np.array([np.log(w / (1 - w))]),
           "z_stratum": np.array([[-0.4]]), "z_control": np.array([0.2]), "sigma_raw_log__": np.log([0.2, 0.3])}
    lp = float(m.compile_logp()(pt_))
    theta = 0.1 + 0.2 * (np.sqrt(1 - w) * 0.3 + np.sqrt(w) * -0.4)
    ctrl = 0.2
    sig = 1.5 * np.array([0.2, 0.3])
    arm = np.array([ctrl + theta, ctrl])
    n, s2 = DATA.n, DATA.sd**2
    ref = stats.norm.logpdf(0.3) + stats.norm.logpdf(-0.4) + stats.norm.logpdf(0.2)
    ref += stats.beta.logpdf(w, 2.0, 3.0) + np.log(w * (1 - w))  # logit-transform Jacobian
    ref += (stats.halfnorm.logpdf([0.2, 0.3]) + np.log([0.2, 0.3])).sum()
    ref += stats.norm.logpdf(DATA.mean, arm, sig / np.sqrt(n)).sum()
    q = (n - 1) * s2 / sig**2
    ref += (stats.chi2.logpdf(q, n - 1) + np.log((n - 1) / sig**2)).sum()
    assert lp == pytest.approx(ref, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def known_sigma_fit():
    m = build_summary_model(DATA, prior_mean=0.0, prior_sd=100.0, tau_sd=1e-8, control_sd=100.0, sigma_sd=1.0,
                            known_sigma=SIG)
    return compile_model(m, backend="auto")


def _check_normal(draws: np.ndarray, mean: float, sd: float) -> None:
    mc_mean = float(az.mcse(az.convert_to_dataset({"x": draws}), method="mean")["x"])
    # MCSE of the SD by the delta method from the ESS-based MCSE of the squared deviations
    sq = (draws - draws.mean()) ** 2
    mc_var = float(az.mcse(az.convert_to_dataset({"x": sq}), method="mean")["x"])
    mc_sd = mc_var / (2 * draws.std(ddof=1))
    assert abs(draws.mean() - mean) < 4 * mc_mean, (draws.mean(), mean, mc_mean)
    assert abs(draws.std(ddof=1) - sd) < 4 * mc_sd, (draws.std(ddof=1), sd, mc_sd)


def test_flat_prior_known_sigma_reproduces_closed_form(known_sigma_fit):
    idata = sample_compiled(known_sigma_fit, draws=2000, tune=1000, chains=2, cores=2, seed=11)
    th = idata.posterior["theta"].values[:, :, 0, 0]
    _check_normal(th, RAW, np.sqrt(V))


def test_conjugate_informative_prior(known_sigma_fit):
    m0, s0 = 0.0, 0.11
    idata = sample_compiled(known_sigma_fit, data={"prior_mean": [m0], "prior_sd": [s0]}, draws=2000, tune=1000,
                            chains=2, cores=2, seed=12)
    th = idata.posterior["theta"].values[:, :, 0, 0]
    prec = 1 / s0**2 + 1 / V
    _check_normal(th, (m0 / s0**2 + RAW / V) / prec, np.sqrt(1 / prec))


def test_unreported_stratum_is_a_prediction():
    d = SummaryInputs.two_arm(endpoint="t25fw", stratum="edss_6.0-6.5", n=(12, 10), mean=(0.0, 0.0),
                              sd=(0.2, 0.2), extra_strata=("edss_3.0-5.5",))
    assert stratum_status(d).tolist() == [["estimate", "prediction"]]


def test_bad_inputs_refused():
    with pytest.raises(ValueError, match="n >= 2"):
        SummaryInputs.two_arm(endpoint="t25fw", stratum="s", n=(1, 10), mean=(0, 0), sd=(1, 1))
    with pytest.raises(ValueError, match="positive"):
        SummaryInputs.two_arm(endpoint="t25fw", stratum="s", n=(5, 10), mean=(0, 0), sd=(-1, 1))


def test_power_prior_external_study_closed_form():
    """Flat prior, known sigma, no between-stratum / between-study spread: the mean effect is the
    precision-weighted average of the primary and the external raw effects, the external
    likelihood's precision multiplied by the power-prior weight a."""
    a = 0.4
    d = SummaryInputs(
        endpoints=("t25fw",), strata=("s",), group_labels=("primary", "external"),
        group_endpoint=np.array([0, 0]), group_stratum=np.array([0, -1]), group_weight=np.array([1.0, a]),
        row_labels=("p_t", "p_c", "x_t", "x_c"), row_group=np.array([0, 0, 1, 1]),
        row_treated=np.array([1, 0, 1, 0]), n=np.array([12.0, 10.0, 32.0, 32.0]),
        mean=np.array([0.07, -0.34, 0.07, -0.11]), sd=np.array([0.24, 0.44, 0.17, 0.22]),
    )
    sig = d.sd.copy()
    m = build_summary_model(d, prior_mean=0.0, prior_sd=100.0, tau_sd=1e-8, control_sd=100.0, sigma_sd=1.0,
                            between_study_sd=0.0, known_sigma=sig, prior_on="mean_effect")
    idata = sample_compiled(compile_model(m), draws=2000, tune=1000, chains=2, cores=2, seed=21)
    v1 = (sig[:2] ** 2 / d.n[:2]).sum()
    v2 = (sig[2:] ** 2 / d.n[2:]).sum()
    r1, r2 = d.mean[0] - d.mean[1], d.mean[2] - d.mean[3]
    prec = 1 / v1 + a / v2
    _check_normal(idata.posterior["theta"].values[:, :, 0, 0], (r1 / v1 + a * r2 / v2) / prec, np.sqrt(1 / prec))


def test_endpoint_pooling_keeps_marginal_prior_and_sets_correlation():
    """Prior draws (forward sampling, no MCMC): each endpoint's mean effect keeps its preset
    N(m_e, s_e^2) and the standardised effects have correlation rho (checked within 4 SE)."""
    import pymc as pm

    d = SummaryInputs(
        endpoints=("t25fw", "6mwt"), strata=("s",), group_labels=("g1", "g2"),
        group_endpoint=np.array([0, 1]), group_stratum=np.array([0, 0]), group_weight=np.array([1.0, 1.0]),
        row_labels=("a", "b", "c", "e"), row_group=np.array([0, 0, 1, 1]), row_treated=np.array([1, 0, 1, 0]),
        n=np.full(4, 10.0), mean=np.zeros(4), sd=np.full(4, 0.3),
    )
    rho, mean, sd = 0.6, np.array([0.18, 0.08]), np.array([0.11, 0.05])
    m = build_summary_model(d, prior_mean=mean, prior_sd=sd, tau_sd=0.1, control_sd=1.0, sigma_sd=1.0,
                            endpoint_correlation=rho, prior_on="mean_effect")
    N = 20000
    with m:
        pr = pm.sample_prior_predictive(draws=N, random_seed=3, var_names=["mu_effect"])
    mu = pr.prior["mu_effect"].values.reshape(N, 2)
    u = (mu - mean) / sd
    assert np.all(np.abs(u.mean(0)) < 4 / np.sqrt(N))
    assert np.all(np.abs(u.std(0) - 1) < 4 * np.sqrt(0.5 / N))
    assert abs(np.corrcoef(u.T)[0, 1] - rho) < 4 * (1 - rho**2) / np.sqrt(N)
