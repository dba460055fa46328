"""RNTuples as SQL tables (`STORED AS RNTUPLE`, `read_rntuple`), checked against uproot +
awkward on the same files: Hive partitions over RNTuple files, one many-cluster file split
across partitions (every entry read exactly once), and values of NanoAOD-style collections."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, skip_or_fail

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

TESTDATA = REPO_ROOT.parent / "shared" / "testdata" / "scikit-hep-testdata"
STAFF = TESTDATA / "ntpl001_staff_rntuple_v1-0-0-0.root"
MUONS = TESTDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"


def need(path: Path) -> Path:
    if not path.exists():
        skip_or_fail(f"missing test data {path}")
    return path


def test_hive_partitions_over_rntuple_files(hepq, tmp_path):
    src = need(STAFF)
    for run in (1, 2, 3):
        d = tmp_path / "staff" / f"run={run}"
        d.mkdir(parents=True)
        shutil.copy(src, d / "part-0.root")
    nt = uproot.open(src)["Staff"]
    n, age = nt.num_entries, int(ak.sum(nt["Age"].array()))
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE st STORED AS RNTUPLE LOCATION '{tmp_path}/staff/'; "
        'SELECT run, arrow_typeof(run) AS t, count(*) AS n, sum("Age") AS age FROM st GROUP BY run, t ORDER BY run'
    )
    assert rows == [{"run": r, "t": "Int64", "n": n, "age": age} for r in (1, 2, 3)]
    (row,) = hepq.sql(
        f"CREATE EXTERNAL TABLE st STORED AS RNTUPLE LOCATION '{tmp_path}/staff/'; "
        "SELECT count(*) AS n FROM st WHERE run = 2"
    )
    assert row["n"] == n


def test_one_many_cluster_file_is_split_across_partitions(hepq, tmp_path):
    """An RNTuple of many clusters is read by several partitions; every entry exactly once."""
    path = tmp_path / "big.root"
    n, step = 120_000, 10_000
    with uproot.recreate(path, compression=uproot.ZLIB(1)) as f:
        f["Events"] = {"i": np.arange(0, step, dtype=np.int64), "x": np.ones(step, dtype=np.float32)}
        for start in range(step, n, step):  # each extend writes one cluster
            f["Events"].extend(
                {"i": np.arange(start, start + step, dtype=np.int64), "x": np.ones(step, dtype=np.float32)}
            )
    assert len(uproot.open(path)["Events"].cluster_summaries) == n // step
    sql = (
        f"SET datafusion.optimizer.repartition_file_min_size = 65536; "
        f"SELECT count(*) AS n, count(DISTINCT i) AS d, sum(i) AS s, sum(x) AS sx "
        f"FROM read_rntuple('{path}') WHERE x > 0"
    )
    (row,) = hepq.sql(sql, extra=["--threads", "4"])
    assert row == {"n": n, "d": n, "s": n * (n - 1) // 2, "sx": float(n)}
    explain = sql.replace("SELECT count(*)", "EXPLAIN SELECT count(*)")
    plan = hepq.sql_run(explain, extra=["--threads", "4"], fmt="csv").stdout
    assert "file_type=rntuple" in plan, plan
    assert "4 groups" in plan, plan


def test_nanoaod_collections_match_uproot(hepq):
    path = need(MUONS)
    a = uproot.open(path)["Events"].arrays(["nMuon", "Muon_pt", "Muon_charge"])
    (row,) = hepq.sql(
        f"SELECT count(*) AS n, sum(\"nMuon\") AS nmu, sum(array_length(\"Muon_pt\")) AS npt, "
        f"count(*) FILTER (WHERE \"nMuon\" = 2) AS dimu, "
        f"sum(\"Muon_pt\"[1]) AS lead FROM read_rntuple('{path}')"
    )
    assert row["n"] == len(a)
    assert row["nmu"] == int(ak.sum(a["nMuon"])) == row["npt"]
    assert row["dimu"] == int(ak.sum(a["nMuon"] == 2))
    lead = ak.to_numpy(ak.firsts(a["Muon_pt"])).astype(np.float64)
    assert math.isclose(row["lead"], float(np.nansum(lead)), rel_tol=1e-9)
    rows = hepq.sql(f"SELECT \"Muon_charge\" AS q FROM read_rntuple('{path}') LIMIT 5")
    assert [r["q"] for r in rows] == ak.to_list(a["Muon_charge"][:5])


def test_inspect_lists_rntuple_fields_columns_and_clusters(hepq):
    path = need(TESTDATA / "test_multiple_representations_rntuple_v1-0-0-0.root")
    out = hepq.run("inspect", str(path)).stdout
    nt = uproot.open(path)["ntuple"]
    assert "1 RNTuple" in out and "ROOT::RNTuple" in out, out
    assert f"{nt.num_entries} entries, {len(nt.cluster_summaries)} clusters" in out, out
    # the field with its C++ and Arrow types, both column representations and their encodings
    assert "real" in out and "float" in out and "Float32" in out, out
    assert "Real32" in out and "Real16" in out, out
    out = hepq.run("inspect", str(need(TESTDATA / "uproot-physlite-rntuple_v1-0-0-0.root"))).stdout
    assert "4 RNTuples" in out and "EventData" in out and "SplitIndex64" in out, out[:2000]
