"""The shared PostgreSQL catalog (`--catalog postgres://…`), on a real PostgreSQL server started
for these tests (tests/python/pg_server.py; Debian's `postgresql` package in CI).

Several "hosts" share one warehouse directory and one catalog database: CLI processes, a server
and the Python module. References: psycopg reading the catalog's own rows, uproot for the ROOT
values, pyarrow for the skim's rows, and pyiceberg's SqlCatalog (through SQLAlchemy and
psycopg) reading hepq's Iceberg table from the same PostgreSQL database.
"""

from __future__ import annotations

import itertools

import pytest

from conftest import REPO_ROOT, skip_or_fail, write_views_concurrently
from pg_server import PostgresServer, free_port, server_binaries

psycopg = pytest.importorskip("psycopg")
pa = pytest.importorskip("pyarrow")

HZZ = REPO_ROOT.parent / "shared" / "testdata" / "scikit-hep-testdata" / "uproot-HZZ-zlib.root"
_names = itertools.count()


@pytest.fixture(scope="module")
def server():
    binaries = server_binaries()
    if binaries is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: apt-get install postgresql")
    pg = PostgresServer(binaries).start()
    yield pg
    pg.stop()


@pytest.fixture()
def catalog_url(server) -> str:
    """A fresh, empty catalog database."""
    return server.create_database(f"catalog_{next(_names)}")


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as con:
        return con.execute(query).fetchall()


def hzz_reference():
    uproot = pytest.importorskip("uproot")
    events = uproot.open(HZZ)["events"].arrays(["NMuon", "MET_px"], library="np")
    return len(events["NMuon"]), int(events["NMuon"].sum()), int((events["NMuon"] >= 2).sum())


def test_cli_tables_views_iceberg_and_skims_persist_in_postgres(hepq, tmp_path, catalog_url):
    n_events, n_muons, dimuon_events = hzz_reference()
    wh = tmp_path / "wh"
    at = ["--warehouse", str(wh), "--catalog", catalog_url]
    hepq.sql_run(
        "CREATE SCHEMA lhc; "
        f"CREATE EXTERNAL TABLE lhc.hzz STORED AS ROOT LOCATION '{HZZ}' OPTIONS ('tree' 'events'); "
        "CREATE VIEW lhc.dimuon AS SELECT * FROM lhc.hzz WHERE NMuon >= 2; "
        "CREATE TABLE lhc.counts AS SELECT NMuon, count(*) AS events FROM lhc.hzz GROUP BY NMuon; "
        "CREATE MATERIALIZED VIEW lhc.skim WITH (format = 'iceberg') AS "
        "SELECT NMuon, MET_px FROM lhc.hzz WHERE NMuon >= 2",
        extra=at,
    )
    # Everything is in PostgreSQL, nothing in a SQLite file.
    assert not (wh / "catalog.sqlite").exists()
    stored = rows(catalog_url, "SELECT schema_name, name, kind FROM hepq_tables ORDER BY name")
    assert [(s, n) for s, n, _ in stored] == [("lhc", "dimuon"), ("lhc", "hzz"), ("lhc", "skim")]
    iceberg = rows(catalog_url, "SELECT table_namespace, table_name FROM iceberg_tables ORDER BY table_name")
    assert iceberg == [("lhc", "counts"), ("lhc", "skim")]

    # A second process (another "host" with the same warehouse and catalog) sees all of it.
    got = hepq.sql(
        "SELECT (SELECT count(*) FROM lhc.hzz) AS events, (SELECT sum(NMuon) FROM lhc.hzz) AS muons, "
        "(SELECT count(*) FROM lhc.dimuon) AS dimuon, (SELECT sum(events) FROM lhc.counts) AS counted, "
        "(SELECT count(*) FROM lhc.skim) AS skim",
        extra=at,
    )
    assert got == [{"events": n_events, "muons": n_muons, "dimuon": dimuon_events, "counted": n_events, "skim": dimuon_events}]
    kinds = hepq.sql("SELECT table_name AS name, kind FROM hepq.tables WHERE schema_name = 'lhc' ORDER BY name", extra=at)
    assert {r["name"]: r["kind"] for r in kinds}["counts"] == "iceberg"
    assert hepq.sql("SELECT count(*) AS n FROM hepq.refreshes WHERE status = 'succeeded'", extra=at) == [{"n": 1}]

    # Refresh and drop from yet another process; the catalog rows follow.
    hepq.run("refresh", *at, "lhc.skim")
    assert rows(catalog_url, "SELECT count(*) FROM hepq_refreshes WHERE status = 'succeeded'") == [(2,)]
    hepq.sql_run("DROP VIEW lhc.dimuon; DROP TABLE lhc.counts", extra=at)
    assert [r[1] for r in rows(catalog_url, "SELECT schema_name, name FROM hepq_tables ORDER BY name")] == ["hzz", "skim"]
    assert rows(catalog_url, "SELECT table_name FROM iceberg_tables ORDER BY table_name") == [("skim",)]


def test_pyiceberg_reads_hepqs_table_from_the_postgres_catalog(hepq, tmp_path, catalog_url):
    pytest.importorskip("sqlalchemy")
    try:
        from pyiceberg.catalog.sql import SqlCatalog
    except ImportError:
        skip_or_fail("pyiceberg is not installed (tests/requirements.txt)")
    wh = tmp_path / "wh"
    at = ["--warehouse", str(wh), "--catalog", catalog_url]
    hepq.sql_run(
        "CREATE SCHEMA s; CREATE TABLE s.t (run BIGINT, pt REAL[]) PARTITIONED BY (run); "
        "INSERT INTO s.t VALUES (1, [1.5, 2.5]), (2, []), (1, [4.0])",
        extra=at,
    )
    catalog = SqlCatalog(
        "hepq",
        uri=catalog_url.replace("postgres://", "postgresql+psycopg://", 1),
        warehouse=f"file://{wh}/iceberg",
    )
    table = catalog.load_table(("s", "t")).scan().to_arrow().sort_by("run")
    assert table.column("run").to_pylist() == [1, 1, 2]
    assert sorted(map(tuple, table.column("pt").to_pylist()[:2])) == [(1.5, 2.5), (4.0,)]
    assert table.column("pt").to_pylist()[2] == []


def test_concurrent_writers_are_serialised(hepq_bin, hepq, tmp_path, catalog_url):
    """Three processes writing at once (each 15 views) lose nothing: PostgreSQL's advisory lock
    serialises them as SQLite's single writer does."""
    wh = tmp_path / "wh"
    at = ["--warehouse", str(wh), "--catalog", catalog_url]
    hepq.sql_run("CREATE SCHEMA busy", extra=at)
    write_views_concurrently(hepq_bin, hepq, at)
    assert rows(catalog_url, "SELECT count(*) FROM hepq_tables WHERE schema_name = 'busy'") == [(45,)]
    assert hepq.sql("SELECT i FROM busy.v_1_14", extra=at) == [{"i": 14}]


def test_server_and_python_module_share_the_catalog(hepq_bin, tmp_path, catalog_url):
    from test_server_pg import Server

    hq = pytest.importorskip("hepq")
    n_events, n_muons, _ = hzz_reference()
    wh = tmp_path / "wh"
    server = Server(hepq_bin, ["--warehouse", str(wh), "--catalog", catalog_url])
    try:
        with psycopg.connect(server.dsn, autocommit=True) as con:
            con.execute(f"CREATE EXTERNAL TABLE hzz STORED AS ROOT LOCATION '{HZZ}' OPTIONS ('tree' 'events')")
        # The module, in this process, opens the same catalog and sees the server's table.
        py = hq.connect(warehouse=wh, catalog=catalog_url, threads=2)
        assert py.sql("SELECT count(*) AS n, sum(NMuon) AS m FROM hzz").fetchall() == [(n_events, n_muons)]
        py.sql("CREATE VIEW few AS SELECT * FROM hzz WHERE NMuon = 1")
        py.close()
        # The server's next session sees the module's view.
        with psycopg.connect(server.dsn, autocommit=True) as con:
            (count,) = con.execute("SELECT count(*) FROM few").fetchone()
        assert count == rows_with_one_muon(), server.log()
    finally:
        server.stop()
    with pytest.raises(hq.ProgrammingError, match="needs a warehouse"):
        hq.connect(catalog=catalog_url)


def rows_with_one_muon() -> int:
    uproot = pytest.importorskip("uproot")
    n = uproot.open(HZZ)["events"]["NMuon"].array(library="np")
    return int((n == 1).sum())


def test_unreachable_catalog_is_a_clear_error(hepq, tmp_path, server):
    # A port nothing listens on, and a password that must not be printed.
    url = f"postgres://hepq:s3cret@127.0.0.1:{free_port()}/lake"
    run = hepq.sql_run("SELECT 1", extra=["--warehouse", str(tmp_path / "wh"), "--catalog", url], check=False)
    assert run.returncode != 0
    assert "postgres://hepq@127.0.0.1" in run.stderr and "s3cret" not in run.stderr, run.describe()
    # A database that does not exist on a live server is named too.
    run = hepq.sql_run("SELECT 1", extra=["--warehouse", str(tmp_path / "wh"), "--catalog", server.url("missing")], check=False)
    assert run.returncode != 0 and "missing" in run.stderr, run.describe()
    run = hepq.sql_run("SELECT 1", extra=["--catalog", server.url()], check=False)
    assert run.returncode != 0 and "--warehouse" in run.stderr, run.describe()
