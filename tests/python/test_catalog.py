"""The warehouse's persistent catalog across restarts of the CLI, the server and the Python module.

Each test creates a schema, external tables of several formats (a ROOT TTree, an LH5 table, a
Parquet file written here by pyarrow) and a view, ends the process (or session), starts a new
one on the same warehouse and checks the same queries give the same answers, which come from
independent readers: uproot for ROOT, h5py for LH5, pyarrow for Parquet. The catalog file is
also read with Python's own sqlite3 module (integrity, rows) after processes wrote it at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import REPO_ROOT, skip_or_fail, write_views_concurrently

TESTDATA = REPO_ROOT.parent / "shared" / "testdata"
HZZ = TESTDATA / "scikit-hep-testdata" / "uproot-HZZ-zlib.root"
LH5 = (
    TESTDATA
    / "legend-testdata/lh5/prod-ref-l200/generated/tier/hit/cal/p03/r001"
    / "l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5"
)


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path_factory.mktemp("catalog-data") / "runs.parquet"
    pq.write_table(pa.table({"run": [1, 1, 2, 3], "x": [1.5, 2.5, 4.0, -1.0]}), path)
    return path


@pytest.fixture(scope="module")
def reference(parquet_file: Path) -> dict:
    """The answers of QUERIES, from uproot, h5py and pyarrow."""
    for path in (HZZ, LH5):
        if not path.exists():
            skip_or_fail(f"test data missing: {path}")
    uproot = pytest.importorskip("uproot")
    h5py = pytest.importorskip("h5py")
    pq = pytest.importorskip("pyarrow.parquet")
    with uproot.open(HZZ) as f:
        tree = f["events"]
        njet = tree["NJet"].array(library="np")
        nmuon = tree["NMuon"].array(library="np")
    with h5py.File(LH5, "r") as f:
        energy = f["ch1084803/hit/cuspEmax_ctc_cal"][:]
    table = pq.read_table(parquet_file).to_pydict()
    return {
        "events": len(njet),
        "jets": int(njet.sum()),
        "two_muons": int((nmuon == 2).sum()),
        "hits": len(energy),
        "energy": round(float(energy.sum()), 4),
        "x_sum": sum(table["x"]),
        "runs": len(set(table["run"])),
    }


def create_statements(parquet_file: Path) -> list[str]:
    return [
        "CREATE SCHEMA lhc",
        f"CREATE EXTERNAL TABLE lhc.hzz STORED AS ROOT LOCATION '{HZZ}'",
        f"CREATE EXTERNAL TABLE hit STORED AS LH5 LOCATION '{LH5}' OPTIONS ('group' 'ch1084803/hit')",
        f"CREATE EXTERNAL TABLE runs STORED AS PARQUET LOCATION '{parquet_file}'",
        'CREATE VIEW lhc.two_muons AS SELECT count(*) AS n FROM lhc.hzz WHERE "NMuon" = 2',
    ]


# One row: events, jets, two-muon events, hits, energy sum, x sum, distinct runs.
QUERY = (
    'SELECT (SELECT count(*) FROM lhc.hzz) AS events, (SELECT sum("NJet") FROM lhc.hzz) AS jets, '
    "(SELECT n FROM lhc.two_muons) AS two_muons, (SELECT count(*) FROM hit) AS hits, "
    '(SELECT round(sum("cuspEmax_ctc_cal"), 4) FROM hit) AS energy, '
    "(SELECT sum(x) FROM runs) AS x_sum, (SELECT count(DISTINCT run) FROM runs) AS runs"
)
KEYS = ("events", "jets", "two_muons", "hits", "energy", "x_sum", "runs")


def check(row, reference: dict) -> None:
    got = dict(zip(KEYS, row)) if not isinstance(row, dict) else row
    for key in KEYS:
        assert got[key] == pytest.approx(reference[key]), (key, got, reference)


def catalog_rows(warehouse: Path) -> list[tuple]:
    """(schema, name, kind) of every catalog row, read with Python's sqlite3."""
    con = sqlite3.connect(warehouse / "catalog.sqlite")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        return con.execute(
            "SELECT schema_name, name, kind FROM hepq_tables ORDER BY schema_name, name"
        ).fetchall()
    finally:
        con.close()


def test_cli_tables_survive_the_process(hepq, tmp_path, parquet_file, reference):
    wh = ["--warehouse", str(tmp_path / "wh")]
    hepq.sql_run("; ".join(create_statements(parquet_file)), extra=wh)
    # A second process, and a third through HEPQ_WAREHOUSE.
    check(hepq.sql(QUERY, extra=wh)[0], reference)
    check(hepq.sql(QUERY, env={"HEPQ_WAREHOUSE": str(tmp_path / "wh")})[0], reference)
    assert catalog_rows(tmp_path / "wh") == [
        ("lhc", "hzz", "external"),
        ("lhc", "two_muons", "view"),
        ("public", "hit", "external"),
        ("public", "runs", "external"),
    ]
    listed = hepq.sql("SELECT schema_name, table_name, kind, format FROM hepq.tables ORDER BY 1, 2", extra=wh)
    assert [r["format"] for r in listed] == ["ROOT", None, "LH5", "PARQUET"]

    # A statement the engine refuses records nothing; DROP persists.
    run = hepq.sql_run(
        "CREATE EXTERNAL TABLE nothing STORED AS ROOT LOCATION '/no/such/file.root'", extra=wh, check=False
    )
    assert run.returncode != 0 and "/no/such/file.root" in run.stderr, run.describe()
    hepq.sql_run("DROP TABLE hit; DROP VIEW lhc.two_muons", extra=wh)
    assert catalog_rows(tmp_path / "wh") == [("lhc", "hzz", "external"), ("public", "runs", "external")]
    run = hepq.sql_run("SELECT count(*) FROM hit", extra=wh, check=False)
    assert run.returncode != 0 and "hit" in run.stderr

    # Without a warehouse nothing is kept (and nothing of this one is seen).
    run = hepq.sql_run("SELECT count(*) FROM lhc.hzz", check=False)
    assert run.returncode != 0


def test_clis_writing_at_once_keep_every_table(hepq_bin, hepq, tmp_path):
    wh = tmp_path / "wh"
    hepq.sql_run("CREATE SCHEMA busy", extra=["--warehouse", str(wh)])
    write_views_concurrently(hepq_bin, hepq, ["--warehouse", str(wh)])
    assert len(catalog_rows(wh)) == 45
    rows = hepq.sql("SELECT count(*) AS n FROM hepq.tables WHERE schema_name = 'busy'", extra=["--warehouse", str(wh)])
    assert rows == [{"n": 45}]
    assert hepq.sql("SELECT i FROM busy.v_2_14", extra=["--warehouse", str(wh)]) == [{"i": 14}]


def test_a_damaged_catalog_is_named(hepq, tmp_path):
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / "catalog.sqlite").write_bytes(b"not a database " * 300)
    run = hepq.sql_run("SELECT 1", extra=["--warehouse", str(wh)], check=False)
    assert run.returncode != 0, run.describe()
    assert str(wh / "catalog.sqlite") in run.stderr, run.describe()


def test_server_tables_survive_a_restart(hepq_bin, tmp_path, parquet_file, reference):
    psycopg = pytest.importorskip("psycopg")
    from test_server_pg import Server

    wh = tmp_path / "wh"
    srv = Server(hepq_bin, ["--warehouse", str(wh)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            for statement in create_statements(parquet_file):
                con.execute(statement)
            check(con.execute(QUERY).fetchone(), reference)
        # Another connection of the same server has its own session, opened from the catalog.
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            check(con.execute(QUERY).fetchone(), reference)
            tables = con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('public', 'lhc') ORDER BY 1, 2"
            ).fetchall()
            assert tables == [("lhc", "hzz"), ("lhc", "two_muons"), ("public", "hit"), ("public", "runs")]
    finally:
        srv.stop()

    srv = Server(hepq_bin, ["--warehouse", str(wh)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            check(con.execute(QUERY).fetchone(), reference)
            con.execute("DROP VIEW lhc.two_muons")
            with pytest.raises(psycopg.Error):
                con.execute("CREATE VIEW broken AS SELECT * FROM no_such_table")
    finally:
        srv.stop()
    assert ("lhc", "two_muons", "view") not in catalog_rows(wh)
    assert all(name != "broken" for _, name, _ in catalog_rows(wh))


def test_python_module_tables_survive_a_new_connection(tmp_path, parquet_file, reference):
    try:
        import hepq as hq
    except ImportError as e:
        skip_or_fail(f"the hepq Python module is not importable ({e}); scripts/test.sh builds it")
    wh = tmp_path / "wh"
    con = hq.connect(warehouse=wh, threads=2)
    for statement in create_statements(parquet_file):
        con.sql(statement)
    con.register("session_only", str(parquet_file))
    first = con.sql(QUERY).fetchall()[0]
    check(first, reference)
    con.close()

    con = hq.connect(warehouse=wh, threads=2)
    try:
        assert con.sql(QUERY).fetchall()[0] == first
        tables = con.tables()
        assert "lhc.hzz" in tables and "hit" in tables and "session_only" not in tables, tables
        assert "tables" not in tables, "system tables are not listed"
    finally:
        con.close()
