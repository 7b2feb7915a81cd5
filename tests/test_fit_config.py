"""Bad configs and inputs are refused before sampling, naming the field, leaving no output."""

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from msbayes.config import ConfigError
from msbayes.fit.config import load_fit_config, validate_fit_config
from msbayes.fit.prepare import prepare_inputs

BASE = {"name": "t", "seed": 1, "models": ["summary_log"],
        "assumed_n": {"edss_6.0-6.5": {"t25fw": {"msc_np": 12, "saline": 10}, "6mwt": {"msc_np": 12, "saline": 12}}}}


def _merge(**kw):
    d = {**BASE}
    d.update(kw)
    return d


def test_shipped_config_is_valid():
    cfg, text = load_fit_config("configs/reanalysis/harris2024.yaml")
    assert cfg.priors == ["skeptical", "neutral", "enthusiastic"] and "assumed_n" in text
    assert cfg.mcid.of("t25fw") == pytest.approx(math.log(1.2))


@pytest.mark.parametrize(
    "raw, field",
    [
        (_merge(bogus=1), "bogus"),
        (_merge(seed="abc"), "seed"),
        (_merge(sampler={"draws": "many"}), "sampler.draws"),
        (_merge(priors=[{"name": "c", "mean": 0.0, "sd": -1.0}]), "sd"),
        (_merge(priors=["optimistic"]), "priors"),
        (_merge(models=["summary_log", "magic"]), "models[1]"),
        (_merge(assumed_n={"edss_6.0-6.5": {"t25fw": {"msc_np": 1, "saline": 10}}}), "assumed_n.edss_6.0-6.5.t25fw.msc_np"),
        (_merge(assumed_n={"edss_6.0-6.5": {"t25fw": {"placebo_x": 5}}}), "assumed_n.edss_6.0-6.5.t25fw.placebo_x"),
        (_merge(data={"strata": ["edss_six"]}), "data.strata"),
        (_merge(data={"file": "does/not/exist.csv"}), "data.file"),
        (_merge(hierarchy={"tau_prior_sd": -0.5}), "hierarchy.tau_prior_sd"),
    ],
)
def test_structural_errors_name_the_field(raw, field):
    with pytest.raises(ConfigError) as ei:
        validate_fit_config(raw)
    assert any(f == field or f.startswith(field) or field in f for f, _ in ei.value.errors), ei.value.errors
    assert field.split(".")[0].split("[")[0] in str(ei.value)


@pytest.mark.parametrize(
    "raw, field",
    [
        (_merge(data={"treatment_arm": "it_msc"}), "data.treatment_arm"),
        (_merge(data={"strata": ["edss_3.0-5.5", "edss_7.0-8.0"]}), "data.strata"),
        (_merge(assumed_n={"edss_7.0-8.0": {"t25fw": {"msc_np": 5}}}), "assumed_n.edss_7.0-8.0"),
        (_merge(assumed_n={"edss_6.0-6.5": {"t25fw": {"sham": 5}}}), "assumed_n.edss_6.0-6.5.t25fw.sham"),
        ({"name": "t", "seed": 1, "models": ["summary_log"], "data": {"subgroup_n": "assumed"}},
         "assumed_n.edss_6.0-6.5.t25fw"),
    ],
)
def test_data_dependent_errors_name_the_field(raw, field):
    with pytest.raises(ConfigError) as ei:
        prepare_inputs(validate_fit_config(raw))
    assert any(f.startswith(field) for f, _ in ei.value.errors), ei.value.errors


def _summary_file(tmp_path, sd="0.3", n="10"):
    p = tmp_path / "mine.csv"
    p.write_text(
        "study,endpoint,population,arm,convention,n,mean,sd,events\n"
        f"s,t25fw,edss_6.0-6.5,msc_np,pct_improvement_time,{n},5.0,{sd},\n"
        "s,t25fw,edss_6.0-6.5,saline,pct_improvement_time,10,-20.0,30.0,\n"
    )
    return p


@pytest.mark.parametrize("sd, n, msg", [("-3.0", "10", r"SD must be > 0; got -3\.0"), ("0.0", "10", "SD must be > 0"),
                                         ("3.0", "1", "n must be >= 2")])
def test_user_table_problems_name_row_and_column(tmp_path, sd, n, msg):
    p = _summary_file(tmp_path, sd=sd, n=n)
    cfg = validate_fit_config({"name": "t", "seed": 1, "models": ["summary_log"], "data": {"file": str(p), "strata": ["edss_6.0-6.5"]}})
    with pytest.raises(ConfigError, match=msg) as ei:
        prepare_inputs(cfg)
    assert ei.value.errors[0][0] == "data.file" and "row 2" in str(ei.value)


def test_cli_refuses_bad_config_with_exit_2_and_no_output(tmp_path):
    import typer

    from msbayes.fit.cli import fit_command

    app = typer.Typer()
    app.command("fit")(fit_command)
    app.command("other")(lambda: None)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_merge(assumed_n={"edss_6.0-6.5": {"t25fw": {"msc_np": 1}}})))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["fit", str(bad), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "assumed_n.edss_6.0-6.5.t25fw.msc_np" in r.output and "Traceback" not in r.output
    assert not out.exists()
    missing = tmp_path / "missing.yaml"
    r = CliRunner().invoke(app, ["fit", str(missing), "--out", str(out)])
    assert r.exit_code == 2 and not out.exists()


def test_prepared_inputs_follow_the_documented_conversions():
    """Log scale = log-normal moment matching (DESIGN.md formulas, computed here by hand);
    % scale = as published, Petrou's % change in time negated; sizes from assumed_n."""
    cfg = validate_fit_config(_merge(models=["summary_log", "summary_pct", "binary"],
                                     data={"external": [{"dataset": "petrou2020"}]}))
    prep = prepare_inputs(cfg)
    d = prep.summary["log"]
    i = d.row_labels.index("harris2024/t25fw/edss_6.0-6.5/saline")
    m, s = 1.544, 0.705  # time ratio mean and SD of the saline arm
    sig2 = math.log(1 + s**2 / m**2)
    assert d.sd[i] == pytest.approx(math.sqrt(sig2)) and d.mean[i] == pytest.approx(-(math.log(m) - sig2 / 2))
    assert d.n[i] == 10
    p = prep.summary["pct"]
    j = p.row_labels.index("petrou2020/t25fw/all/sham")
    assert (p.mean[j], p.sd[j]) == (-14.0, 25.4)
    assert p.group_weight[p.row_group[j]] == 0.5
    assert (prep.binary.events_t[0], prep.binary.n_t[0]) == (9, 27)
    comp = prepare_inputs(validate_fit_config(_merge(models=["binary"], data={"edss_plus_denominator": "completers"})))
    assert (comp.binary.events_t[0], comp.binary.n_t[0], comp.binary.events_c[0], comp.binary.n_c[0]) == (8, 24, 10, 27)


def test_user_patient_table_is_read_and_checked(tmp_path):
    """A user patient table (CSV) becomes the patient model's inputs: y = -log(T1/T0) for T25FW,
    x = centred log baseline; stratum labels outside data.strata are refused."""
    import pandas as pd

    rows = []
    for i, (arm, st, b, f) in enumerate([("msc_np", "edss_6.0-6.5", 10.0, 9.0), ("saline", "edss_6.0-6.5", 12.0, 15.0),
                                         ("msc_np", "edss_3.0-5.5", 6.0, 6.0), ("saline", "edss_3.0-5.5", 5.0, 5.5)]):
        rows.append({"patient_id": f"P{i}", "study": "mine", "arm": arm, "stratum": st, "subtype": "spms",
                     "endpoint": "t25fw", "baseline": b, "followup": f, "synthetic": False})
    p = tmp_path / "ipd.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    cfg = validate_fit_config(_merge(models=["patient"], patient={"source": "file", "file": str(p)}))
    prep = prepare_inputs(cfg)
    d = prep.patient
    assert not prep.patient_synthetic
    np.testing.assert_allclose(d.y, -np.log([0.9, 15 / 12, 1.0, 1.1]))
    lb = np.log([10.0, 12.0, 6.0, 5.0])
    np.testing.assert_allclose(d.x, lb - lb.mean())
    assert d.treated.tolist() == [1, 0, 1, 0]
    bad = validate_fit_config(_merge(models=["patient"], patient={"source": "file", "file": str(p)},
                                     data={"strata": ["edss_6.0-6.5"]}))
    with pytest.raises(ConfigError, match="edss_3.0-5.5"):
        prepare_inputs(bad)


def test_builtin_config_assumed_n_is_what_infer_n_reports():
    """The shipped config's EDSS 6.0-6.5 sizes are the per-endpoint pairs infer-n derives
    from the published p-values (not numbers typed in by hand that could drift)."""
    from pathlib import Path

    import yaml

    from msbayes.data.infer_n import default_subgroup_n_details

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "configs/reanalysis/harris2024.yaml").read_text())
    per = default_subgroup_n_details("harris2024")["per_endpoint"]
    assert cfg["assumed_n"]["edss_6.0-6.5"] == {ep: dict(s) for ep, s in per.items()}
