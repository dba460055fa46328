"""ROOT TTrees as SQL tables (`STORED AS ROOT`, `--register x=f.root`, `read_root`), checked
against uproot + awkward on the same files: row counts, sums over scalar and jagged branches,
selections, LIMIT, Hive partitions over ROOT files, byte-range partitioning of one big file,
and clear errors for missing/ambiguous trees and broken files."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, skip_or_fail

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

TESTDATA = REPO_ROOT.parent / "shared" / "testdata"
CMS = TESTDATA / "cms-opendata" / "Run2012B_SingleMu_1000.root"
HZZ = TESTDATA / "scikit-hep-testdata" / "uproot-HZZ-zlib.root"


def need(path: Path) -> Path:
    if not path.exists():
        skip_or_fail(f"missing test data {path}")
    return path


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def test_cms_nanoaod_matches_uproot(hepq):
    path = need(CMS)
    t = uproot.open(path)["Events"]
    arrays = t.arrays(["MET_pt", "nJet", "Jet_pt", "Muon_pt", "Muon_charge", "run", "event"])
    (row,) = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{path}'; "
        "SELECT count(*) AS n, sum(MET_pt) AS met, sum(nJet) AS njet, "
        "sum(array_length(Jet_pt)) AS njet2, max(event) AS maxevent, min(run) AS minrun, "
        "count(*) FILTER (WHERE array_length(Muon_pt) = 2) AS dimu FROM ev"
    )
    assert row["n"] == t.num_entries == 1000
    # hepq sums Float32 in Float64; awkward's float32 sum is less precise.
    assert close(row["met"], float(np.sum(ak.to_numpy(arrays["MET_pt"]).astype(np.float64))), 1e-6)
    assert row["njet"] == int(ak.sum(arrays["nJet"])) == row["njet2"]
    assert row["maxevent"] == int(ak.max(arrays["event"]))
    assert row["minrun"] == int(ak.min(arrays["run"]))
    assert row["dimu"] == int(ak.sum(ak.num(arrays["Muon_pt"]) == 2))


def test_jagged_values_match_uproot_row_by_row(hepq):
    path = need(CMS)
    t = uproot.open(path)["Events"]
    ref = t.arrays(["event", "Jet_pt", "Muon_charge"], library="ak")
    rows = hepq.sql(
        "SELECT event, Jet_pt, Muon_charge FROM ev ORDER BY event", register={"ev": str(path)}
    )
    order = np.argsort(ak.to_numpy(ref["event"]), kind="stable")
    assert len(rows) == len(order)
    for row, i in zip(rows, order):
        i = int(i)
        assert row["event"] == int(ref["event"][i])
        assert row["Muon_charge"] == ak.to_list(ref["Muon_charge"][i])
        expect = ak.to_list(ref["Jet_pt"][i])
        assert len(row["Jet_pt"]) == len(expect)
        assert all(close(a, b, 1e-6) for a, b in zip(row["Jet_pt"], expect)), (row, expect)


def test_read_root_table_function_and_limit(hepq):
    path = need(HZZ)
    t = uproot.open(path)["events"]
    ref = t.arrays(["NMuon", "MET_px"], entry_stop=5)
    rows = hepq.sql(f"SELECT NMuon, MET_px FROM read_root('{path}', 'events') LIMIT 5")
    assert [r["NMuon"] for r in rows] == ak.to_list(ref["NMuon"])
    assert all(close(r["MET_px"], float(x), 1e-6) for r, x in zip(rows, ak.to_list(ref["MET_px"])))
    (row,) = hepq.sql(f"SELECT count(*) AS n FROM read_root('{path}')")
    assert row["n"] == t.num_entries


def test_every_codec_gives_the_same_table(hepq):
    sums = set()
    for codec in ("zlib", "lz4", "lzma", "zstd", "uncompressed"):
        path = need(TESTDATA / "scikit-hep-testdata" / f"uproot-HZZ-{codec}.root")
        (row,) = hepq.sql(
            "SELECT count(*) AS n, sum(NJet) AS nj, sum(array_length(Jet_Px)) AS nj2, "
            "round(sum(MET_px), 3) AS met FROM ev",
            register={"ev": str(path)},
        )
        assert row["nj"] == row["nj2"], row
        sums.add((row["n"], row["nj"], row["met"]))
    assert len(sums) == 1, sums
    # ... and they are uproot's answers, not just the same answer five times.
    t = uproot.open(need(HZZ))["events"]
    ref = t.arrays(["NJet"])
    ((n, nj, _met),) = sums
    assert (n, nj) == (t.num_entries, int(ak.sum(ref["NJet"])))


def test_hive_partitions_over_root_files(hepq, tmp_path):
    src = need(HZZ)
    for run in (1, 2, 3):
        d = tmp_path / "hzz" / f"run={run}"
        d.mkdir(parents=True)
        shutil.copy(src, d / "part-0.root")
    n = uproot.open(src)["events"].num_entries
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{tmp_path}/hzz/' OPTIONS ('tree' 'events'); "
        "SELECT run, arrow_typeof(run) AS t, count(*) AS n FROM ev GROUP BY run, t ORDER BY run"
    )
    assert rows == [{"run": r, "t": "Int64", "n": n} for r in (1, 2, 3)]
    (row,) = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{tmp_path}/hzz/' OPTIONS ('tree' 'events'); "
        "SELECT count(*) AS n FROM ev WHERE run = 2"
    )
    assert row["n"] == n


def test_one_big_file_is_split_across_partitions(hepq, tmp_path):
    """A file of many clusters is read by several partitions; every entry exactly once."""
    path = tmp_path / "big.root"
    n, step = 120_000, 10_000
    with uproot.recreate(path, compression=uproot.ZLIB(1)) as f:
        # mktree + extend writes a TTree (assigning a dict would write an RNTuple).
        f.mktree("Events", {"i": np.int64, "x": np.float32})
        for start in range(0, n, step):
            f["Events"].extend(
                {"i": np.arange(start, start + step, dtype=np.int64), "x": np.ones(step, dtype=np.float32)}
            )
    sql = "SELECT count(*) AS n, count(DISTINCT i) AS d, sum(i) AS s, sum(x) AS sx FROM ev WHERE x > 0"
    extra = ["--threads", "4"]
    # Make DataFusion split files above 64 kB into byte ranges.
    script = f"SET datafusion.optimizer.repartition_file_min_size = 65536; {sql}"
    (row,) = hepq.sql(script, register={"ev": str(path)}, extra=extra)
    assert row == {"n": n, "d": n, "s": n * (n - 1) // 2, "sx": float(n)}
    plan = hepq.sql_run(
        f"SET datafusion.optimizer.repartition_file_min_size = 65536; EXPLAIN {sql}",
        register={"ev": str(path)},
        extra=extra,
        fmt="csv",
    ).stdout
    assert "file_type=root" in plan, plan
    assert "4 groups" in plan, plan


def test_several_trees_need_the_tree_option(hepq, tmp_path):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        f.mktree("a", {"x": np.int32})
        f["a"].extend({"x": np.arange(3, dtype=np.int32)})
        f.mktree("b", {"y": np.int32})
        f["b"].extend({"y": np.arange(4, dtype=np.int32)})
    run = hepq.sql_run("SELECT * FROM t", register={"t": str(path)}, check=False)
    assert run.returncode == 1
    assert "a" in run.stderr and "b" in run.stderr and "tree" in run.stderr, run.stderr
    (row,) = hepq.sql(
        f"CREATE EXTERNAL TABLE t STORED AS ROOT LOCATION '{path}' OPTIONS ('tree' 'b'); "
        "SELECT count(*) AS n, sum(y) AS s FROM t"
    )
    assert row == {"n": 4, "s": 6}
    run = hepq.sql_run(
        f"CREATE EXTERNAL TABLE t STORED AS ROOT LOCATION '{path}' OPTIONS ('tree' 'nope'); SELECT 1",
        check=False,
    )
    assert run.returncode == 1 and "nope" in run.stderr, run.stderr


def test_broken_file_is_a_clear_error(hepq, tmp_path):
    data = need(HZZ).read_bytes()
    bad = tmp_path / "cut.root"
    bad.write_bytes(data[: len(data) // 2])
    run = hepq.sql_run("SELECT sum(MET_px) FROM ev", register={"ev": str(bad)}, check=False)
    assert run.returncode == 1
    assert "cut.root" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) <= 3, run.stderr
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"not a root file at all" * 10)
    run = hepq.sql_run("SELECT 1 FROM ev", register={"ev": str(junk)}, check=False)
    assert run.returncode == 1 and "junk.root" in run.stderr, run.stderr


def test_inspect_lists_trees_branches_and_unsupported_types(hepq):
    out = hepq.run("inspect", str(need(CMS))).stdout
    assert "Events" in out and "1000 entries" in out, out[:500]
    jet = next(line for line in out.splitlines() if line.strip().startswith("Jet_pt "))
    assert "List(Float32)" in jet and "zlib" in jet, jet
    stl = TESTDATA / "scikit-hep-testdata" / "uproot-stl_containers.root"
    out = hepq.run("inspect", str(need(stl))).stdout
    line = next(line for line in out.splitlines() if line.strip().startswith("map_int32_int16 "))
    assert "unsupported" in line, line
    run = hepq.run("inspect", "/no/such/file.root", check=False)
    assert run.returncode == 1 and "/no/such/file.root" in run.stderr, run.stderr


def test_zipped_collections_match_uproot_zip(hepq):
    """`'collections' 'zip'` gives the records uproot's `arrays(how="zip")` gives, row by row."""
    path = need(CMS)
    t = uproot.open(path)["Events"]
    ref = t.arrays(
        ["event", "nJet", "Jet_pt", "Jet_eta", "Jet_btag", "Jet_puId", "Muon_pt", "Muon_charge"],
        how="zip",
    )
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{path}' OPTIONS ('collections' 'zip'); "
        "SELECT event, nJet, Jet, Muon FROM ev ORDER BY event"
    )
    order = np.argsort(ak.to_numpy(ref["event"]), kind="stable")
    assert len(rows) == len(order) == 1000
    members = {"Jet": ["pt", "eta", "btag", "puId"], "Muon": ["pt", "charge"]}
    checked = 0
    for row, i in zip(rows, order):
        i = int(i)
        assert row["event"] == int(ref["event"][i])
        assert row["nJet"] == len(row["Jet"])
        for collection, names in members.items():
            expect = ak.to_list(ref[collection][i])
            got = row[collection]
            assert len(got) == len(expect), (collection, row["event"])
            for g, e in zip(got, expect):
                # hepq's zipped struct carries every member of the file's collection.
                for name in names:
                    if isinstance(e[name], float):
                        assert close(g[name], e[name], 1e-6), (collection, name, g, e)
                    else:
                        assert g[name] == e[name], (collection, name, g, e)
                    checked += 1
    assert checked > 5000


def test_zip_rejects_an_unknown_collections_mode(hepq):
    path = need(CMS)
    run = hepq.sql_run(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{path}' OPTIONS ('collections' 'zipped'); "
        "SELECT 1",
        check=False,
    )
    assert run.returncode != 0
    assert "'collections'" in run.stderr and "zipped" in run.stderr, run.describe()
