"""Hive partitions: discovered types, `PARTITIONED BY` overrides, pruning in EXPLAIN, and
`COPY ... PARTITIONED BY` output that other tools read back."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import duckdb_connect

STRING_TYPES = {"Utf8", "Utf8View", "LargeUtf8"}


def test_lhc_run_is_bigint(hepq, tables):
    rows = hepq.sql(
        "SELECT arrow_typeof(run) AS t, count(*) AS n FROM lhc GROUP BY 1", register=tables
    )
    assert rows == [{"t": "Int64", "n": 20_000}]


def test_legend_keys_are_varchar(hepq, tables):
    rows = hepq.sql(
        "SELECT arrow_typeof(period) AS p, arrow_typeof(run) AS r, arrow_typeof(datatype) AS d "
        "FROM legend LIMIT 1",
        register=tables,
    )
    assert rows == [{"p": "Utf8", "r": "Utf8", "d": "Utf8"}]


def test_partition_columns_come_last(hepq, tables):
    rows = hepq.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'legend' "
        "ORDER BY ordinal_position",
        register=tables,
    )
    names = [r["column_name"] for r in rows]
    assert names[-3:] == ["period", "run", "datatype"], names
    assert names[:3] == ["timestamp", "channel", "energy"], names
    rows = hepq.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'lhc' "
        "ORDER BY ordinal_position",
        register=tables,
    )
    assert rows[-1] == {"column_name": "run", "data_type": "Int64"}, rows[-3:]


def test_create_external_table_discovers_partitions(hepq, legend_dir):
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE hits STORED AS PARQUET LOCATION '{legend_dir}/'; "
        "SELECT period, run, datatype, arrow_typeof(run) AS t, count(*) AS n FROM hits "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3"
    )
    assert [(r["period"], r["run"], r["datatype"]) for r in rows] == [
        (p, r, d) for p in ("p03", "p04") for r in ("r000", "r001") for d in ("cal", "phy")
    ]
    assert {r["t"] for r in rows} == {"Utf8"}
    assert sum(r["n"] for r in rows) == 50_000


def test_partitioned_by_type_override(hepq, lhc_dir):
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS PARQUET PARTITIONED BY (run VARCHAR) "
        f"LOCATION '{lhc_dir}/'; "
        "SELECT run, arrow_typeof(run) AS t, count(*) AS n FROM ev GROUP BY run, t ORDER BY run"
    )
    assert rows, "no rows"
    assert {r["t"] for r in rows} <= STRING_TYPES, rows
    assert all(isinstance(r["run"], str) and r["run"].isdigit() for r in rows), rows
    assert sum(r["n"] for r in rows) == 20_000
    # Compared as text now.
    (row,) = hepq.sql(
        f"CREATE EXTERNAL TABLE ev STORED AS PARQUET PARTITIONED BY (run VARCHAR) "
        f"LOCATION '{lhc_dir}/'; SELECT count(*) AS n FROM ev WHERE run = '194050'"
    )
    assert 0 < row["n"] < 20_000


# ------------------------------------------------------------------------------ pruning

_FILE_GROUPS = re.compile(r"file_groups=\{(\d+) groups?: (\[.*?\]\])\}")
_FILE = re.compile(r"([^\s\[\],]+\.parquet)(?::\d+\.\.\d+)?")


def scanned_files(plan_text: str) -> set[str]:
    """The distinct Parquet files in the DataSourceExec lines of an EXPLAIN physical plan.

    DataFusion prints e.g. `DataSourceExec: file_groups={2 groups: [[a/x.parquet, b/y.parquet],
    [c/z.parquet:0..1024]]}, projection=[...]`; a file split into byte ranges counts once.
    """
    lines = [line for line in plan_text.splitlines() if "DataSourceExec" in line]
    assert lines, f"no DataSourceExec in the plan:\n{plan_text}"
    files: set[str] = set()
    for line in lines:
        groups = _FILE_GROUPS.findall(line)
        assert groups, f"no file_groups in: {line}"
        for _, body in groups:
            assert "..." not in body, f"file list truncated, cannot count: {line}"
            files.update(_FILE.findall(body))
    return files


def physical_plan(hepq, sql: str, register) -> str:
    rows = hepq.sql(f"EXPLAIN {sql}", register=register)
    plans = [r["plan"] for r in rows if r.get("plan_type") == "physical_plan"]
    assert plans, f"no physical_plan row in EXPLAIN output: {rows}"
    return plans[0]


def test_scanned_files_parser():
    text = (
        "ProjectionExec: expr=[count(Int64(1))@0 as count(*)]\n"
        "  DataSourceExec: file_groups={2 groups: [[tmp/lhc/run=1/part-00000.parquet, "
        "tmp/lhc/run=2/part-00000.parquet:0..100], [tmp/lhc/run=2/part-00000.parquet:100..200]]}, "
        "projection=[MET_pt], file_type=parquet"
    )
    assert scanned_files(text) == {"tmp/lhc/run=1/part-00000.parquet", "tmp/lhc/run=2/part-00000.parquet"}


_STATS_COUNT = re.compile(r"ProjectionExec: expr=\[(\d+) as count\(\*\)\]")


def test_partition_filter_prunes_files(hepq, tables, lhc_dir):
    all_files = sorted(lhc_dir.glob("run=*/*.parquet"))
    runs = sorted({int(p.parent.name.split("=")[1]) for p in all_files})
    assert len(runs) >= 2
    one = runs[0]
    sql = "SELECT sum(MET_pt) AS s FROM lhc{where}"
    unfiltered = physical_plan(hepq, sql.format(where=""), tables)
    filtered = physical_plan(hepq, sql.format(where=f" WHERE run = {one}"), tables)
    files_all = scanned_files(unfiltered)
    files_one = scanned_files(filtered)
    assert len(files_all) == len(all_files), f"unfiltered scan should read every file:\n{unfiltered}"
    assert 0 < len(files_one) < len(files_all), f"run = {one} did not prune:\n{filtered}"
    assert all(f"run={one}" in f for f in files_one), files_one


def test_count_star_with_partition_filter(hepq, tables, lhc_dir):
    """`count(*) ... WHERE run = R` either scans only R's files or is answered from the
    statistics of R's files alone (a constant equal to R's row count)."""
    runs = sorted({int(p.parent.name.split("=")[1]) for p in lhc_dir.glob("run=*/*.parquet")})
    one = runs[-1]
    plan = physical_plan(hepq, f"SELECT count(*) FROM lhc WHERE run = {one}", tables)
    if "DataSourceExec" in plan:
        files = scanned_files(plan)
        assert files and all(f"run={one}" in f for f in files), plan
    else:
        match = _STATS_COUNT.search(plan)
        assert match, f"neither a scan nor a statistics answer:\n{plan}"
        assert int(match.group(1)) == len_of_run(lhc_dir, one), plan
    (row,) = hepq.sql(f"SELECT count(*) AS n FROM lhc WHERE run = {one}", register=tables)
    assert row["n"] == len_of_run(lhc_dir, one)


def len_of_run(lhc_dir: Path, run: int) -> int:
    pq = pytest.importorskip("pyarrow.parquet")
    return sum(pq.ParquetFile(f).metadata.num_rows for f in lhc_dir.glob(f"run={run}/*.parquet"))


def test_string_partition_filter_prunes(hepq, tables, legend_dir):
    sql = "SELECT sum(energy) AS e FROM legend{where}"
    files_all = scanned_files(physical_plan(hepq, sql.format(where=""), tables))
    plan = physical_plan(hepq, sql.format(where=" WHERE datatype = 'cal' AND period = 'p03'"), tables)
    files = scanned_files(plan)
    assert len(files_all) == len(list(legend_dir.rglob("*.parquet")))
    assert 0 < len(files) < len(files_all), plan
    assert all("period=p03" in f and "datatype=cal" in f for f in files), files


def test_pruned_results_match(hepq, tables, lhc_dir):
    rows = hepq.sql("SELECT run, count(*) AS n FROM lhc GROUP BY run", register=tables)
    for row in rows:
        (one,) = hepq.sql(f"SELECT count(*) AS n FROM lhc WHERE run = {row['run']}", register=tables)
        assert one["n"] == row["n"] == len_of_run(lhc_dir, row["run"])


# ------------------------------------------------------------------------------ COPY


def test_copy_partitioned_by_reads_back(hepq, tables, tmp_path):
    out = tmp_path / "copied"
    hepq.sql(
        f"COPY (SELECT channel, energy, is_valid, datatype FROM legend WHERE period = 'p03') "
        f"TO '{out}/' STORED AS PARQUET PARTITIONED BY (datatype)",
        register=tables,
    )
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["datatype=cal", "datatype=phy"], folders
    for folder in folders:
        assert list((out / folder).glob("*.parquet")), f"no Parquet files in {folder}"

    expected = {
        r["datatype"]: r["n"]
        for r in hepq.sql(
            "SELECT datatype, count(*) AS n FROM legend WHERE period = 'p03' GROUP BY datatype",
            register=tables,
        )
    }
    assert set(expected) == {"cal", "phy"}

    # pyarrow, Hive partitioning.
    ds = pytest.importorskip("pyarrow.dataset")
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert Counter(table.column("datatype").to_pylist()) == expected
    assert set(table.column_names) >= {"channel", "energy", "is_valid", "datatype"}

    # DuckDB.
    con = duckdb_connect()
    got = dict(
        con.execute(
            f"SELECT datatype, count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true) "
            "GROUP BY datatype"
        ).fetchall()
    )
    con.close()
    assert got == expected

    # hepq itself: the copy is a Hive table again, keys as VARCHAR.
    rows = hepq.sql(
        "SELECT datatype, arrow_typeof(datatype) AS t, count(*) AS n FROM c GROUP BY 1, 2",
        register={"c": f"{out}/"},
    )
    assert {r["datatype"]: r["n"] for r in rows} == expected
    assert {r["t"] for r in rows} == {"Utf8"}
