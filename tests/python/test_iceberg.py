"""Iceberg tables and skims against independent readers and writers.

hepq keeps Iceberg tables in the warehouse's SQLite catalog (iceberg-catalog-sql's tables, the
layout of pyiceberg's SqlCatalog). Here pyiceberg 0.12 reads what hepq wrote (values, list
columns, partition specs and the partition value of every data file, recomputed with pyiceberg's
own transforms), hepq reads what pyiceberg wrote (and its older snapshots), and DuckDB's iceberg
extension reads a hepq table and a hepq skim by their metadata files. Reference values come from
the rows written here, from uproot (ROOT branches) and from pyiceberg/DuckDB themselves.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import REPO_ROOT, skip_or_fail

HZZ = REPO_ROOT.parent / "shared" / "testdata" / "scikit-hep-testdata" / "uproot-HZZ-zlib.root"


def sql_catalog(warehouse: Path):
    try:
        from pyiceberg.catalog.sql import SqlCatalog
    except ImportError:
        skip_or_fail("pyiceberg is not installed (tests/requirements.txt)")
    return SqlCatalog(
        "hepq",
        uri=f"sqlite:///{warehouse}/catalog.sqlite",
        warehouse=f"file://{warehouse}/iceberg",
    )


def duckdb_with_iceberg():
    duckdb = pytest.importorskip("duckdb")
    found = {}
    for module, name in (("duckdb_extension_avro", "avro"), ("duckdb_extension_iceberg", "iceberg")):
        try:
            ext = __import__(module)
        except ImportError:
            skip_or_fail(f"{module} is not installed (tests/requirements.txt)")
        paths = sorted(Path(ext.__file__).parent.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
        if not paths:
            skip_or_fail(f"no {name} extension for DuckDB {duckdb.__version__} in {ext.__file__}")
        found[name] = paths[0]
    con = duckdb.connect()
    con.execute(f"LOAD '{found['avro']}'")
    con.execute(f"LOAD '{found['iceberg']}'")
    return con


def metadata_location(warehouse: Path, namespace: str, table: str) -> str:
    with sqlite3.connect(warehouse / "catalog.sqlite") as db:
        row = db.execute(
            "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = 'hepq' "
            "AND table_namespace = ? AND table_name = ?",
            (namespace, table),
        ).fetchone()
    assert row, f"{namespace}.{table} is not in iceberg_tables"
    return row[0]


ROWS = [
    (194050, 1, [31.5, 20.25], "a"),
    (194050, 2, [], "b"),
    (194075, 3, None, None),
    (194108, 40, [45.0], "c"),
    (194108, 41, [1.0, 2.0, 3.0], "abcdef"),
]


def values(rows) -> str:
    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return f"'{v}'"
        if isinstance(v, list):
            return "[" + ", ".join(repr(float(x)) for x in v) + "]::REAL[]" if v else "[]::REAL[]"
        return str(v)

    return ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)


@pytest.fixture(scope="module")
def warehouse(hepq, tmp_path_factory) -> Path:
    """hepq writes: a partitioned table in two inserts, and a CTAS of ROOT branches."""
    w = tmp_path_factory.mktemp("iceberg-warehouse")
    hepq.sql_run(
        "CREATE SCHEMA lhc; "
        "CREATE TABLE lhc.ev (run INT, event BIGINT, pt REAL[], tag VARCHAR) "
        "PARTITIONED BY (run, bucket(8, event), truncate(2, tag)); "
        f"INSERT INTO lhc.ev VALUES {values(ROWS[:3])}; "
        f"INSERT INTO lhc.ev VALUES {values(ROWS[3:])}; "
        f"CREATE TABLE lhc.hzz AS SELECT NJet, Jet_Px, Muon_Px, MET_px FROM read_root('{HZZ}')",
        extra=["--warehouse", str(w)],
    )
    return w


def test_pyiceberg_reads_hepq_tables(warehouse: Path):
    catalog = sql_catalog(warehouse)
    assert sorted(catalog.list_tables("lhc")) == [("lhc", "ev"), ("lhc", "hzz")]
    ev = catalog.load_table("lhc.ev")
    got = sorted(ev.scan().to_arrow().to_pylist(), key=lambda r: r["event"])
    want = [dict(zip(["run", "event", "pt", "tag"], r)) for r in ROWS]
    assert got == want
    history = sorted(ev.snapshots(), key=lambda s: s.sequence_number)
    assert [s.summary["added-records"] for s in history] == ["3", "2"]
    assert history[-1].summary["total-records"] == "5"
    assert history[-1].snapshot_id == ev.current_snapshot().snapshot_id
    # The partition spec, and every data file's partition values recomputed with pyiceberg's
    # own transforms from the rows in the file.
    spec = [(f.name, str(f.transform)) for f in ev.spec().fields]
    assert spec == [("run", "identity"), ("event_bucket", "bucket[8]"), ("tag_trunc", "truncate[2]")]
    from pyiceberg.transforms import BucketTransform, TruncateTransform
    from pyiceberg.types import LongType, StringType

    bucket = BucketTransform(8).transform(LongType())
    truncate = TruncateTransform(2).transform(StringType())
    import pyarrow.parquet as pq

    files = list(ev.scan().plan_files())
    assert sum(t.file.record_count for t in files) == 5
    for task in files:
        rows = pq.read_table(task.file.file_path.removeprefix("file://")).to_pylist()
        assert len(rows) == task.file.record_count
        keys = {(r["run"], bucket(r["event"]), None if r["tag"] is None else truncate(r["tag"])) for r in rows}
        assert keys == {tuple(task.file.partition)}, task.file.file_path


def test_pyiceberg_reads_root_branches_as_lists(warehouse: Path):
    uproot = pytest.importorskip("uproot")
    table = sql_catalog(warehouse).load_table("lhc.hzz").scan().to_arrow()
    events = uproot.open(HZZ)["events"].arrays(["NJet", "Jet_Px", "Muon_Px", "MET_px"], library="np")
    assert table.num_rows == len(events["NJet"])
    assert table.column("NJet").to_pylist() == events["NJet"].tolist()
    assert table.column("MET_px").to_pylist() == pytest.approx(events["MET_px"].tolist(), rel=0, abs=0)
    for branch in ("Jet_Px", "Muon_Px"):
        assert table.column(branch).to_pylist() == [list(map(float, x)) for x in events[branch]], branch


def test_hepq_reads_pyiceberg_tables_and_their_snapshots(hepq, warehouse: Path):
    pa = pytest.importorskip("pyarrow")
    catalog = sql_catalog(warehouse)
    first = pa.table(
        {
            "run": pa.array([5, 5, 6], pa.int32()),
            "energy": pa.array([1.5, 2.5, 3.5]),
            "hits": pa.array([[1, 2], [], [3]], pa.list_(pa.int64())),
        }
    )
    second = first.slice(0, 1)
    table = catalog.create_table("lhc.written_by_pyiceberg", schema=first.schema)
    table.append(first)
    table.append(second)
    snapshots = [s.snapshot_id for s in table.snapshots()]
    rows = hepq.sql(
        "SELECT run, energy, hits FROM lhc.written_by_pyiceberg ORDER BY run, energy",
        extra=["--warehouse", str(warehouse)],
    )
    want = sorted(pa.concat_tables([first, second]).to_pylist(), key=lambda r: (r["run"], r["energy"]))
    assert rows == want
    old = hepq.sql(
        f'SELECT count(*) AS n, sum(energy) AS e FROM lhc."written_by_pyiceberg@{snapshots[0]}"',
        extra=["--warehouse", str(warehouse)],
    )
    assert old == [{"n": 3, "e": 7.5}]
    listed = hepq.sql(
        "SELECT snapshot_id, rows, is_current FROM hepq.snapshots "
        "WHERE view_name = 'written_by_pyiceberg' ORDER BY committed_at, snapshot_id",
        extra=["--warehouse", str(warehouse)],
    )
    assert [r["snapshot_id"] for r in listed] == snapshots
    assert [r["rows"] for r in listed] == [3, 4]
    assert [r["is_current"] for r in listed] == [False, True]
    # hepq appends to it; pyiceberg sees the new snapshot.
    hepq.sql_run(
        "INSERT INTO lhc.written_by_pyiceberg VALUES (7, 9.0, [8, 9])",
        extra=["--warehouse", str(warehouse)],
    )
    table = catalog.load_table("lhc.written_by_pyiceberg")
    assert table.scan().to_arrow().num_rows == 5
    assert len(table.snapshots()) == 3


def test_duckdb_reads_hepq_table_by_its_metadata_file(hepq, warehouse: Path):
    con = duckdb_with_iceberg()
    location = metadata_location(warehouse, "lhc", "ev")
    got = con.execute(f"SELECT run, event, pt, tag FROM iceberg_scan('{location}') ORDER BY event").fetchall()
    assert [tuple(r) for r in got] == [tuple(r) for r in ROWS]
    location = metadata_location(warehouse, "lhc", "hzz")
    duck = con.execute(
        f"SELECT count(*), sum(NJet), sum(len(Jet_Px)), round(sum(MET_px), 3) FROM iceberg_scan('{location}')"
    ).fetchone()
    ours = hepq.sql(
        "SELECT count(*) AS n, sum(NJet) AS j, sum(cardinality(Jet_Px)) AS l, "
        "round(sum(MET_px), 3) AS m FROM lhc.hzz",
        extra=["--warehouse", str(warehouse)],
    )[0]
    assert tuple(duck) == (ours["n"], ours["j"], ours["l"], pytest.approx(ours["m"]))


def test_iceberg_skim_read_by_pyiceberg_and_duckdb(hepq, tmp_path: Path):
    """A materialised view in Iceberg format: each refresh one snapshot, readable elsewhere."""
    uproot = pytest.importorskip("uproot")
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.root").write_bytes(HZZ.read_bytes())
    w = tmp_path / "wh"
    args = ["--warehouse", str(w)]
    hepq.sql_run(
        f"CREATE EXTERNAL TABLE ev STORED AS ROOT LOCATION '{source}/'; "
        "CREATE MATERIALIZED VIEW dimuon PARTITIONED BY (NMuon) WITH (format = 'iceberg') "
        "AS SELECT NMuon, Muon_Px, MET_px FROM ev WHERE NMuon >= 2",
        extra=args,
    )
    muons = uproot.open(HZZ)["events"].arrays(["NMuon", "Muon_Px"], library="np")
    selected = [(n, list(map(float, px))) for n, px in zip(muons["NMuon"], muons["Muon_Px"]) if n >= 2]
    table = sql_catalog(w).load_table("public.dimuon")
    got = sorted((r["NMuon"], r["Muon_Px"]) for r in table.scan().to_arrow().to_pylist())
    assert got == sorted(selected)
    # A new source file: an incremental refresh appends one snapshot.
    (source / "b.root").write_bytes(HZZ.read_bytes())
    hepq.sql_run("REFRESH MATERIALIZED VIEW dimuon", extra=args)
    table = sql_catalog(w).load_table("public.dimuon")
    # (Metadata files need not list snapshots in order: their sequence numbers give it.)
    history = sorted(table.snapshots(), key=lambda s: s.sequence_number)
    assert [s.summary.operation.value for s in history] == ["overwrite", "append"]
    assert table.scan().to_arrow().num_rows == 2 * len(selected)
    refresh = hepq.sql("SELECT mode, rows_out FROM hepq.refreshes ORDER BY refresh_id", extra=args)
    assert refresh == [{"mode": "full", "rows_out": len(selected)}, {"mode": "incremental", "rows_out": len(selected)}]
    con = duckdb_with_iceberg()
    location = metadata_location(w, "public", "dimuon")
    assert con.execute(f"SELECT count(*) FROM iceberg_scan('{location}')").fetchone()[0] == 2 * len(selected)


def test_failed_insert_and_refresh_commit_nothing(hepq, tmp_path: Path):
    """A statement that fails while writing leaves the last snapshot and no stray data files."""
    w = tmp_path / "wh"
    args = ["--warehouse", str(w)]
    hepq.sql_run(
        "CREATE TABLE t (x BIGINT, y DOUBLE); INSERT INTO t VALUES (1, 1.0), (2, 2.0)", extra=args
    )
    data = w / "iceberg" / "public" / "t" / "data"
    before = sorted(p.name for p in data.rglob("*.parquet"))
    # The cast fails on a row late in the input, after other rows were written.
    run = hepq.sql_run(
        "INSERT INTO t SELECT value, CAST(CASE WHEN value = 900000 THEN 'x' ELSE '1' END AS DOUBLE) "
        "FROM generate_series(1, 1000000)",
        extra=args,
        check=False,
    )
    assert run.returncode != 0, run.describe()
    assert sorted(p.name for p in data.rglob("*.parquet")) == before
    assert hepq.sql("SELECT count(*) AS n FROM t", extra=args) == [{"n": 2}]
    table = sql_catalog(w).load_table("public.t")
    assert len(table.snapshots()) == 1
    # The same in a partitioned table whose folder names need escaping (`tag_trunc=a%20b`).
    hepq.sql_run("CREATE TABLE p (tag VARCHAR, y DOUBLE) PARTITIONED BY (truncate(3, tag))", extra=args)
    run = hepq.sql_run(
        "INSERT INTO p SELECT 'a b c', CAST(CASE WHEN value = 900000 THEN 'x' ELSE '1' END AS DOUBLE) "
        "FROM generate_series(1, 1000000)",
        extra=args,
        check=False,
    )
    assert run.returncode != 0, run.describe()
    assert not list((w / "iceberg" / "public" / "p").rglob("*.parquet"))
    # CREATE TABLE AS whose query fails creates no table.
    run = hepq.sql_run("CREATE TABLE u AS SELECT CAST('x' AS DOUBLE) AS y", extra=args, check=False)
    assert run.returncode != 0
    assert ("public", "u") not in sql_catalog(w).list_tables("public")


def test_drop_table_removes_its_files(hepq, tmp_path: Path):
    w = tmp_path / "wh"
    args = ["--warehouse", str(w)]
    hepq.sql_run("CREATE TABLE gone AS VALUES (1), (2)", extra=args)
    folder = w / "iceberg" / "public" / "gone"
    assert list(folder.rglob("*.parquet"))
    hepq.sql_run("DROP TABLE gone", extra=args)
    assert not list(folder.rglob("*.parquet"))
    assert not list(folder.rglob("*.metadata.json"))
    assert sql_catalog(w).list_tables("public") == []


def test_server_clients_create_insert_and_read(hepq_bin: Path, tmp_path: Path):
    """Through `hepq serve`: psycopg creates a partitioned table, inserts with parameters (the
    extended protocol plans statements before running them), reads it back; pyiceberg agrees."""
    psycopg = pytest.importorskip("psycopg")
    from test_server_pg import Server

    w = tmp_path / "wh"
    server = Server(hepq_bin, ["--warehouse", str(w)])
    try:
        with psycopg.connect(server.dsn, autocommit=True) as con:
            con.execute("CREATE TABLE runs (run INT, lumi BIGINT, name TEXT) PARTITIONED BY (run, truncate(3, name))")
            for row in [(1, 10, "alpha"), (1, 11, "beta"), (2, 12, "gamma")]:
                con.execute("INSERT INTO runs VALUES (%s, %s, %s)", row)
            got = con.execute("SELECT run, lumi, name FROM runs ORDER BY lumi").fetchall()
            assert got == [(1, 10, "alpha"), (1, 11, "beta"), (2, 12, "gamma")]
            snapshots = con.execute("SELECT count(*) FROM hepq.snapshots WHERE view_name = 'runs'").fetchone()
            assert snapshots == (3,)
    finally:
        server.stop()
    table = sql_catalog(w).load_table("public.runs")
    assert sorted(r["name"] for r in table.scan().to_arrow().to_pylist()) == ["alpha", "beta", "gamma"]
    assert {tuple(t.file.partition) for t in table.scan().plan_files()} == {(1, "alp"), (1, "bet"), (2, "gam")}


def test_python_module_keeps_iceberg_tables(tmp_path: Path):
    """`hepq.connect(warehouse=…)`: an Iceberg table written in one connection is there in the
    next, with its list column, and pyiceberg reads the same rows."""
    try:
        import hepq as module
    except ImportError as e:
        skip_or_fail(f"the hepq Python module is not importable ({e}); scripts/test.sh builds it")
    w = tmp_path / "wh"
    con = module.connect(warehouse=str(w))
    con.sql("CREATE TABLE hits (channel INT, energy DOUBLE, samples SMALLINT[]) PARTITIONED BY (channel)")
    con.sql("INSERT INTO hits VALUES (1084803, 2614.5, [1, 2, 3]), (1084804, 583.2, [])")
    con.close()
    again = module.connect(warehouse=str(w))
    rows = again.sql("SELECT channel, energy, samples FROM hits ORDER BY channel").fetchall()
    assert rows == [(1084803, 2614.5, [1, 2, 3]), (1084804, 583.2, [])]
    again.close()
    table = sql_catalog(w).load_table("public.hits").scan().to_arrow()
    assert sorted(table.column("energy").to_pylist()) == [583.2, 2614.5]
    # SMALLINT is stored as Iceberg int.
    assert str(table.schema.field("samples").type) == "list<element: int32>"
