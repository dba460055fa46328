"""The LEGEND guide (connectors/datafusion/LEGEND.md) runs as written and is right.

Each `<!-- guide:NAME -->` SQL block of the guide is taken from the markdown itself (so the
guide cannot drift from what is tested), run by the `hepq` CLI in a folder laid out as the
guide says (`tier/` of legend-testdata's prod-ref-l200 production), and compared with the same
selection computed from legend-lh5io's `lh5.read` with numpy and hist: counts, histograms bin
by bin, the tcm event building and the LAr-veto anti-coincidence; the migration block's
Parquet lake is read back with pyarrow.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import REPO_ROOT, skip_or_fail
from test_lh5_lh5io import TESTDATA, reference

np = pytest.importorskip("numpy")
hist = pytest.importorskip("hist")
uhi_schema = pytest.importorskip("uhi.schema")
uhi_json = pytest.importorskip("uhi.io.json")
pq = pytest.importorskip("pyarrow.parquet")
pa_ds = pytest.importorskip("pyarrow.dataset")

GUIDE = REPO_ROOT / "connectors" / "datafusion" / "LEGEND.md"
PRODUCTION = TESTDATA / "prod-ref-l200" / "generated"


def guide_blocks() -> dict[str, str]:
    text = GUIDE.read_text()
    blocks = dict(re.findall(r"<!-- guide:([\w-]+) -->\s*```sql\n(.*?)```", text, re.S))
    assert {"setup", "spectrum", "calibration-peaks", "aoe", "multiplicity", "lar-veto", "migration"} <= set(
        blocks
    ), f"guide blocks found: {sorted(blocks)}"
    return blocks


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    if not (PRODUCTION / "tier").is_dir():
        skip_or_fail(f"missing test data {PRODUCTION / 'tier'}")
    work = tmp_path_factory.mktemp("legend")
    (work / "tier").symlink_to(PRODUCTION / "tier", target_is_directory=True)
    return work


@pytest.fixture(scope="module")
def run_block(hepq, workdir):
    blocks = guide_blocks()

    def run(name: str) -> list[dict]:
        script = workdir / f"{name}.sql"
        script.write_text(blocks["setup"] + "\n" + blocks[name])
        out = hepq.run("sql", "--format", "json", "-f", script, cwd=workdir)
        return json.loads(out.stdout) if out.stdout.strip() else []

    return run


def load(doc) -> hist.Hist:
    assert isinstance(doc, dict), f"expected a UHI document, got {doc!r}"
    uhi_schema.validate_histogram(doc)
    return hist.Hist(json.loads(json.dumps(doc), object_hook=uhi_json.object_hook))


def files(tier: str, datatype: str) -> list[Path]:
    return sorted((PRODUCTION / "tier" / tier / datatype).glob("*/*/*.lh5"))


def legend_name(path: Path) -> dict[str, str]:
    _, period, run, datatype, timestamp = path.name.split("-tier_")[0].split("-")
    return {"period": period, "run": run, "datatype": datatype, "timestamp": timestamp}


def hit_tables(datatype: str):
    """(file name fields, rawid, LGDO table) for every channel of every hit file."""
    lh5, _ = reference()
    for path in files("hit", datatype):
        for group in lh5.ls(str(path)):
            yield legend_name(path), int(group.removeprefix("ch")), lh5.read(f"{group}/hit", str(path))


def column(table, name):
    return table[name].nda if name in table else None


def test_spectrum_per_detector(run_block):
    rows = run_block("spectrum")
    expected = {}
    for _, rawid, t in hit_tables("cal"):
        e = column(t, "cuspEmax_ctc_cal")
        if e is None:
            continue
        keep = column(t, "is_valid_cal").astype(bool) & ~column(t, "is_saturated").astype(bool)
        h, n = expected.get(rawid, (hist.Hist.new.Reg(3000, 0, 3000).Int64(), 0))
        h.fill(e[keep])
        expected[rawid] = (h, n + int(keep.sum()))
    assert [r["channel"] for r in rows] == sorted(expected)
    for r in rows:
        h, n = expected[r["channel"]]
        got = load(r["spectrum"])
        assert r["n"] == n
        assert np.array_equal(got.values(flow=True), h.values(flow=True)), r["channel"]


def test_calibration_peaks_per_run(run_block):
    rows = run_block("calibration-peaks")
    expected = {}
    for name, rawid, t in hit_tables("cal"):
        e = column(t, "cuspEmax_ctc_cal")
        if e is None:
            continue
        e = e[column(t, "is_valid_cal").astype(bool)]
        key = (name["run"], rawid)
        if key not in expected:
            expected[key] = (
                hist.Hist.new.Reg(20, 573.5, 593.5).Int64(),
                hist.Hist.new.Reg(20, 2604.5, 2624.5).Int64(),
            )
        expected[key][0].fill(e)
        expected[key][1].fill(e)
    assert [(r["run"], r["channel"]) for r in rows] == sorted(expected)
    peak_events = 0
    for r in rows:
        h583, h2614 = expected[(r["run"], r["channel"])]
        assert np.array_equal(load(r["tl583"]).values(flow=True), h583.values(flow=True))
        assert np.array_equal(load(r["tl2614"]).values(flow=True), h2614.values(flow=True))
        peak_events += int(h2614.values().sum()) + int(h583.values().sum())
    assert peak_events > 0, "the test data has events in the peak windows"


def test_aoe_cut(run_block):
    rows = run_block("aoe")
    expected = defaultdict(int)
    for _, rawid, t in hit_tables("cal"):
        e = column(t, "cuspEmax_ctc_cal")
        if e is None:
            continue
        cut = column(t, "AoE_Double_Sided_Cut").astype(bool) & (e >= 1000) & (e <= 3000)
        if cut.any():
            expected[rawid] += int(cut.sum())
    assert {r["channel"]: r["passing"] for r in rows} == dict(expected)


def reference_events() -> list[dict]:
    """Per physics event of the tcm: file, event, Ge energies (non-NaN) and SiPM p.e. sum."""
    lh5, _ = reference()
    events = []
    for tcm_path in files("tcm", "phy"):
        name = legend_name(tcm_path)
        hit_path = PRODUCTION / "tier" / "hit" / "phy" / name["period"] / name["run"] / tcm_path.name.replace(
            "tier_tcm", "tier_hit"
        )
        tables = {int(g.removeprefix("ch")): lh5.read(f"{g}/hit", str(hit_path)) for g in lh5.ls(str(hit_path))}
        tcm = lh5.read("hardware_tcm_1", str(tcm_path))
        ends = tcm["table_key"].cumulative_length.nda
        keys = tcm["table_key"].flattened_data.nda
        rows = tcm["row_in_table"].flattened_data.nda
        start = 0
        for event, end in enumerate(ends):
            ge, pe = [], 0.0
            for k, r in zip(keys[start:end], rows[start:end]):
                t = tables[int(k)]
                e = column(t, "cuspEmax_ctc_cal")
                if e is not None and not np.isnan(e[r]):
                    ge.append(float(e[r]))
                light = column(t, "energy_in_pe")
                if light is not None:
                    pe += float(np.nansum(light[r]))
            events.append({"file": name["timestamp"], "event": event, "ge": ge, "pe": pe})
            start = int(end)
    return events


def test_multiplicity_from_tcm(run_block):
    rows = run_block("multiplicity")
    expected = [
        {"file": ev["file"], "event": ev["event"], "ge_multiplicity": sum(e > 25 for e in ev["ge"])}
        for ev in reference_events()
        if any(e > 25 for e in ev["ge"])
    ]
    assert rows == expected


def test_lar_veto_anticoincidence(run_block):
    rows = run_block("lar-veto")
    assert len(rows) == 1
    selected = [ev for ev in reference_events() if ev["ge"] and max(ev["ge"]) > 25]
    vetoed_out = [ev for ev in selected if ev["pe"] < 1]
    assert 0 < len(vetoed_out) < len(selected), "the test data has events on both sides of the veto"
    assert rows[0]["ge_events"] == len(selected)
    assert rows[0]["lar_anticoincident"] == len(vetoed_out)
    h = hist.Hist.new.Reg(30, 0, 3000).Int64()
    h.fill([max(ev["ge"]) for ev in vetoed_out])
    assert np.array_equal(load(rows[0]["spectrum_after_veto"]).values(flow=True), h.values(flow=True))


def test_migration_to_partitioned_parquet(run_block, workdir):
    run_block("migration")
    lake = workdir / "lake" / "hit"
    parts = sorted(str(p.relative_to(lake).parent) for p in lake.rglob("*.parquet"))
    assert set(parts) == {"period=p03/run=r001/datatype=cal", "period=p03/run=r001/datatype=phy"}, parts
    table = pa_ds.dataset(lake, format="parquet", partitioning="hive").to_table()
    expected_rows = 0
    expected_energy = 0.0
    for datatype in ("cal", "phy"):
        for _, _, t in hit_tables(datatype):
            expected_rows += len(t)
            e = column(t, "cuspEmax_ctc_cal")
            if e is not None:
                expected_energy += float(np.nansum(e))
    assert table.num_rows == expected_rows
    energies = table.column("cuspEmax_ctc_cal").to_numpy(zero_copy_only=False).astype(float)
    assert np.nansum(energies) == pytest.approx(expected_energy, rel=1e-12)
