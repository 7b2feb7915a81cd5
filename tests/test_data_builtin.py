"""Built-in data: typed tables, options, hashes, and agreement with the raw evidence files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import msbayes.data.builtin as builtin
from msbayes.data import (
    dataset_path,
    dataset_sha256,
    list_datasets,
    load_design_facts,
    load_pvalues,
    load_summaries,
)
from msbayes.data.vocab import ARMS, CONVENTIONS, ENDPOINTS, N_STATUS, SUMMARY_COLUMNS, valid_population

RAW = Path("/work/shared/data")


def test_list_and_unknown_name():
    assert list_datasets() == ["harris2024", "petrou2020"]
    with pytest.raises(ValueError, match="available: harris2024, petrou2020"):
        load_summaries("harris2025")
    with pytest.raises(ValueError, match="available"):
        dataset_path("nope")


@pytest.mark.parametrize("name", ["harris2024", "petrou2020"])
def test_schema_and_vocabulary(name):
    df = load_summaries(name)
    assert tuple(df.columns) == SUMMARY_COLUMNS
    assert str(df.n.dtype) == "Int64" and str(df.events.dtype) == "Int64"
    assert df["mean"].dtype == "float64" and df.sd.dtype == "float64"
    assert df.endpoint.isin(ENDPOINTS).all() and df.convention.isin(CONVENTIONS).all()
    assert df.arm.isin(ARMS).all() and df.n_status.isin(N_STATUS).all()
    assert all(valid_population(p) for p in df.population)
    assert (df.source.str.startswith("https://")).all()
    assert not df.duplicated(["study", "endpoint", "population", "arm"]).any()
    assert df.attrs["sha256"] == dataset_sha256(name)


def test_harris_rows():
    df = load_summaries("harris2024").set_index(["endpoint", "population", "arm"])
    t = df.loc[("t25fw", "edss_6.0-6.5", "saline")]
    assert (t["mean"], t.sd, t.convention, t.n_status) == (-54.4, 70.5, "pct_improvement_time", "unknown")
    assert pd.isna(t.n)
    assert df.loc[("6mwt", "edss_6.0-6.5", "msc_np"), "convention"] == "pct_improvement_distance"
    for ep in ("t25fw", "6mwt"):
        for arm in ("msc_np", "saline"):
            r = df.loc[(ep, "edss_3.0-5.5", arm)]
            assert pd.isna(r["mean"]) and pd.isna(r.sd)
            assert "not reported; effect is a model prediction" in r.note
    e = df.loc[("edss_plus", "all", "msc_np")]
    assert (e.n, e.events) == (27, 9)
    s = df.loc[("edss_plus", "all", "saline")]
    assert (s.n, s.events) == (27, 10)
    assert (df.horizon_months == 13).all()


def test_completers_option():
    df = load_summaries("harris2024", edss_plus_denominator="completers").set_index(["endpoint", "arm"])
    assert (df.loc[("edss_plus", "msc_np"), "n"], df.loc[("edss_plus", "msc_np"), "events"]) == (24, 8)
    assert (df.loc[("edss_plus", "saline"), "n"], df.loc[("edss_plus", "saline"), "events"]) == (27, 10)
    assert "ALTERNATIVE" in df.loc[("edss_plus", "msc_np"), "note"]
    # the other rows are untouched
    base = load_summaries("harris2024").set_index(["endpoint", "arm"])
    pd.testing.assert_series_equal(df.loc[("t25fw", "saline"), "mean"], base.loc[("t25fw", "saline"), "mean"])
    with pytest.raises(ValueError, match="edss_plus_denominator"):
        load_summaries("harris2024", edss_plus_denominator="analysed")


def test_petrou_rows():
    df = load_summaries("petrou2020").set_index("arm")
    assert set(df.index) == {"it_msc", "iv_msc", "sham"}
    assert (df.convention == "pct_change_time").all() and (df.horizon_months == 6).all()
    assert (df.n == 32).all() and (df.n_status == "assumed").all()


def test_pvalues_and_design():
    pv = load_pvalues("harris2024").set_index("endpoint")
    assert pv.loc["t25fw", "p_value"] == 0.030 and pv.loc["t25fw", "p_text"] == "0.030"
    assert pv.loc["6mwt", "p_value"] == 0.036 and (pv.test == "not named").all()
    pp = load_pvalues("petrou2020").set_index("arm")
    assert pp.loc["it_msc", "p_value"] == 0.0017 and pp.loc["iv_msc", "p_value"] == 0.0009
    f = load_design_facts("harris2024").set_index("key")
    assert f.loc["dose_cells_per_injection", "value"] == 1e7
    assert f.loc["n_injections", "value"] == 6
    assert f.loc["mcid_t25fw_pct_improvement", "value"] == 20
    assert {"key", "value", "unit", "source"} <= set(f.reset_index().columns)


def _raw_value(raw: pd.DataFrame, **kw) -> float:
    m = pd.Series(True, index=raw.index)
    for k, v in kw.items():
        m &= raw[k] == v
    assert m.sum() == 1, kw
    return float(raw.loc[m, "value"].iloc[0])


@pytest.mark.skipif(not RAW.is_dir(), reason="raw evidence folder not present")
def test_shipped_numbers_match_raw_fact_list():
    """Independent source: the raw one-fact-per-row evidence files."""
    raw = pd.read_csv(RAW / "harris2024/arm_summaries.csv", dtype=str)
    df = load_summaries("harris2024")
    for _, r in df[df["mean"].notna() & (df.endpoint != "edss_plus")].iterrows():
        outcome = f"{r.endpoint}_pct_improvement"
        assert r["mean"] == _raw_value(raw, period="year1", population=r.population, arm=r.arm, outcome=outcome, statistic="mean")
        assert r.sd == _raw_value(raw, period="year1", population=r.population, arm=r.arm, outcome=outcome, statistic="sd")
    pv = load_pvalues("harris2024")
    for _, r in pv.iterrows():
        raw_p = _raw_value(raw, population=r.population, arm="msc_np_vs_saline", outcome=f"{r.endpoint}_pct_improvement",
                           statistic="p_value")
        assert abs(r.p_value - raw_p) < 1e-12
    e = df[df.endpoint == "edss_plus"].set_index("arm")
    assert e.loc["msc_np", "events"] == _raw_value(raw, arm="msc_np", outcome="edss_plus_improved", statistic="events_if_denominator_27")
    assert e.loc["saline", "events"] == _raw_value(raw, arm="saline", outcome="edss_plus_improved", statistic="events_if_denominator_27")
    assert e.loc["msc_np", "n"] == _raw_value(raw, period="year1", arm="msc_np", outcome="n_randomized")
    praw = pd.read_csv(RAW / "petrou2020/arm_summaries.csv", dtype=str)
    for _, r in load_summaries("petrou2020").iterrows():
        assert r["mean"] == _raw_value(praw, arm=r.arm, outcome="t25fw_pct_change_time", statistic="mean")
        assert r.sd == _raw_value(praw, arm=r.arm, outcome="t25fw_pct_change_time", statistic="sd")


def test_sha256_changes_with_content(tmp_path, monkeypatch):
    h0 = dataset_sha256("harris2024")
    assert len(h0) == 64 and h0 == dataset_sha256("harris2024")
    for f in builtin.BUILTIN_DIR.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(builtin, "BUILTIN_DIR", tmp_path)
    assert dataset_sha256("harris2024") == h0
    p = tmp_path / "harris2024_pvalues.csv"
    p.write_text(p.read_text().replace("0.036,0.036", "0.037,0.037"))
    assert dataset_sha256("harris2024") != h0


def test_fill_assumed_n():
    from msbayes.data import fill_assumed_n
    from msbayes.data.infer_n import default_subgroup_n

    base = load_summaries("harris2024")
    df = fill_assumed_n(base)
    sizes = default_subgroup_n("harris2024")
    sub = df[(df.population == "edss_6.0-6.5")]
    assert (sub.n_status == "assumed").all()
    assert sub.set_index(["endpoint", "arm"]).n.to_dict() == {
        (ep, a): sizes[a] for ep in ("t25fw", "6mwt") for a in ("msc_np", "saline")}
    assert df[df.population == "edss_3.0-5.5"].n.isna().all()  # still a prediction
    assert base.n_status.eq("unknown").sum() == 8  # input untouched
    per = fill_assumed_n(base, {"t25fw": {"msc_np": 12, "saline": 10}, "6mwt": {"msc_np": 12, "saline": 12}})
    assert per.set_index(["endpoint", "population", "arm"]).loc[("t25fw", "edss_6.0-6.5", "saline"), "n"] == 10
    with pytest.raises(ValueError, match="no assumed n"):
        fill_assumed_n(base, {"msc_np": 12})
