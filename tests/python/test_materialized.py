"""Materialised views (skims) through the server and the CLI: a server killed in the middle of a
refresh restarts with the last good snapshot and the next refresh gives exactly the rows of a
from-scratch computation; the server's scheduler refreshes due views; `hepq refresh` works for
cron; other tools (pyarrow) read a skim's files as listed in `hepq.files`.

The reference for every result is pyarrow computing the same selection from the same source
files.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conftest import skip_or_fail

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")
pq = pytest.importorskip("pyarrow.parquet")
psycopg = pytest.importorskip("psycopg")

VIEW = "SELECT id, x * 2 AS y FROM src WHERE id % 3 = 0"
# The same rows with a deliberately expensive column, so that a refresh takes seconds and the
# test can kill the server in the middle of it.
SLOW_VIEW = (
    "SELECT id, x * 2 AS y, length(regexp_replace(repeat(CAST(id AS VARCHAR), 30), '[0-9]', "
    "'zz', 'g')) AS l FROM src WHERE id % 3 = 0"
)


def write_part(folder: Path, n: int, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ids = pa.array(range(n * rows, (n + 1) * rows), pa.int64())
    xs = pc.multiply(pc.cast(ids, pa.float64()), 0.5)
    pq.write_table(pa.table({"id": ids, "x": xs}), folder / f"part-{n}.parquet")


def reference(folder: Path) -> tuple[int, float]:
    """count(*) and sum(y) of VIEW, from pyarrow."""
    table = pq.read_table(folder)
    ids = table["id"].to_numpy()
    xs = table["x"].to_numpy()
    mask = ids % 3 == 0
    return int(mask.sum()), float((xs[mask] * 2).sum())


def catalog(warehouse: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{warehouse / 'catalog.sqlite'}?mode=ro", uri=True, timeout=30)


@pytest.mark.parametrize("fmt", ["parquet", "iceberg"])
def test_a_server_killed_mid_refresh_keeps_the_last_snapshot(hepq_bin, tmp_path, fmt):
    """For format 'iceberg' pyiceberg, reading the same SQLite catalog, must agree at each step:
    the Iceberg snapshot and hepq's refresh record are committed in one transaction."""
    from test_server_pg import Server

    def iceberg_rows() -> tuple[int, float] | None:
        if fmt != "iceberg":
            return None
        from test_iceberg import sql_catalog

        table = sql_catalog(wh).load_table("public.skim").scan().to_arrow()
        return table.num_rows, pc.sum(table["y"]).as_py()

    wh = tmp_path / "wh"
    src = tmp_path / "src"
    rows = 250_000
    for n in range(2):
        write_part(src, n, rows)
    srv = Server(hepq_bin, ["--warehouse", str(wh)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            con.execute(f"CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{src}/'")
            con.execute(f"CREATE MATERIALIZED VIEW skim WITH (format = '{fmt}') AS {SLOW_VIEW}")
            before = con.execute("SELECT count(*), sum(y) FROM skim").fetchone()
        assert before == pytest.approx(reference(src))
        if fmt == "iceberg":
            assert iceberg_rows() == pytest.approx(reference(src))
        old = reference(src)
        for n in range(2, 12):
            write_part(src, n, rows)

        failure: list[BaseException] = []

        def run_refresh() -> None:
            try:
                with psycopg.connect(srv.dsn, autocommit=True) as con:
                    con.execute("REFRESH MATERIALIZED VIEW skim FULL")
            except BaseException as e:  # the server dies under it
                failure.append(e)

        worker = threading.Thread(target=run_refresh)
        worker.start()
        # Wait until the refresh is running, let it work for a while (it takes several
        # seconds), then kill the server under it.
        data = wh / "materialized" / "public" / "skim" / "data"
        deadline = time.time() + 60
        running = False
        while time.time() < deadline and not running:
            with catalog(wh) as db:
                running = (
                    db.execute(
                        "SELECT count(*) FROM hepq_refreshes WHERE status = 'running'"
                    ).fetchone()[0]
                    > 0
                )
            time.sleep(0.05)
        time.sleep(1.5)
        assert running, "the refresh never started"
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        worker.join(timeout=30)
        assert failure, "the refresh finished before the kill; make the data larger"
    finally:
        srv.stop()

    with catalog(wh) as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM hepq_refreshes ORDER BY refresh_id")]
    assert statuses == ["succeeded", "running"], statuses
    if fmt == "iceberg":
        # Iceberg readers, too, still see the last good snapshot.
        assert iceberg_rows() == pytest.approx(old)

    srv = Server(hepq_bin, ["--warehouse", str(wh)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            # The last good snapshot, intact.
            assert con.execute("SELECT count(*), sum(y) FROM skim").fetchone() == pytest.approx(old)
            con.execute("REFRESH MATERIALIZED VIEW skim")
            got = con.execute("SELECT count(*), sum(y) FROM skim").fetchone()
            runs = con.execute(
                "SELECT status, mode, source_files FROM hepq.refreshes ORDER BY refresh_id"
            ).fetchall()
            files = [r[0] for r in con.execute(
                "SELECT path FROM hepq.files WHERE table_name = 'skim' AND is_current ORDER BY path"
            ).fetchall()]
    finally:
        srv.stop()
    # Exactly the rows of a from-scratch computation (pyarrow over every source file).
    assert got == pytest.approx(reference(src))
    assert runs[1][0] == "interrupted", runs
    # The next refresh read only the ten files added after the last good snapshot.
    assert runs[2] == ("succeeded", "incremental", 10), runs
    # The killed refresh's folder is gone: only the current snapshot's folders remain.
    folders = {p.name for p in data.iterdir()}
    assert folders == {Path(f).parent.name for f in files}, (folders, files)
    # Another tool reads the skim from the files the catalog lists.
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert (table.num_rows, pc.sum(table["y"]).as_py()) == pytest.approx(reference(src))
    if fmt == "iceberg":
        assert iceberg_rows() == pytest.approx(reference(src))


def test_the_server_runs_scheduled_refreshes(hepq_bin, tmp_path):
    from test_server_pg import Server

    wh = tmp_path / "wh"
    src = tmp_path / "src"
    write_part(src, 0, 1000)
    srv = Server(hepq_bin, ["--warehouse", str(wh)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as con:
            con.execute(f"CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{src}/'")
            con.execute(
                f"CREATE MATERIALIZED VIEW skim WITH (refresh = 'every 1 second') AS {VIEW}"
            )
            write_part(src, 1, 1000)
            expected = reference(src)
            deadline = time.time() + 60
            got = None
            while time.time() < deadline:
                got = con.execute("SELECT count(*), sum(y) FROM skim").fetchone()
                if got == pytest.approx(expected):
                    break
                time.sleep(0.2)
            assert got == pytest.approx(expected)
            modes = {r[0] for r in con.execute(
                "SELECT mode FROM hepq.refreshes WHERE status = 'succeeded'"
            ).fetchall()}
            assert "incremental" in modes
            shown = con.execute("SHOW MATERIALIZED VIEWS").fetchall()
            assert [(r[1], r[5]) for r in shown] == [("skim", "every 1 second")]
    finally:
        srv.stop()


def test_hepq_refresh_for_cron(hepq, tmp_path):
    wh = tmp_path / "wh"
    src = tmp_path / "src"
    write_part(src, 0, 3000)
    hepq.sql_run(
        f"CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{src}/'; "
        f"CREATE MATERIALIZED VIEW skim WITH (refresh = '0 * * * *') AS {VIEW}",
        extra=["--warehouse", str(wh)],
    )
    write_part(src, 1, 3000)
    run = hepq.run("refresh", "--warehouse", wh, "skim")
    assert "public.skim: incremental refresh (1 new source file(s)), 1000 rows written" in run.stdout, run.stdout
    rows = hepq.sql("SELECT count(*) AS n, sum(y) AS s FROM skim", extra=["--warehouse", str(wh)])
    assert (rows[0]["n"], rows[0]["s"]) == pytest.approx(reference(src))
    # Errors name the view; nothing is due right after a refresh of an hourly view.
    run = hepq.run("refresh", "--warehouse", wh, "nothing", check=False)
    assert run.returncode != 0 and "public.nothing" in run.stderr, run.describe()
    run = hepq.run("refresh", "--warehouse", wh, "--due")
    assert run.stdout == "", run.describe()


def test_the_python_module_creates_and_refreshes_skims(tmp_path):
    try:
        import hepq as hq
    except ImportError as e:
        skip_or_fail(f"the hepq Python module is not importable ({e}); scripts/test.sh builds it")
    wh = tmp_path / "wh"
    src = tmp_path / "src"
    write_part(src, 0, 2000)
    con = hq.connect(warehouse=str(wh))
    con.sql(f"CREATE EXTERNAL TABLE src STORED AS PARQUET LOCATION '{src}/'")
    con.sql(f"CREATE MATERIALIZED VIEW skim AS {VIEW}")
    write_part(src, 1, 2000)
    report = con.sql("REFRESH MATERIALIZED VIEW skim").arrow().to_pylist()
    assert [(r["mode"], r["source_files"]) for r in report] == [("incremental", 1)]
    # A new connection (a restart) reads the skim; pyarrow computes the reference.
    table = hq.connect(warehouse=str(wh)).sql("SELECT count(*) AS n, sum(y) AS s FROM skim").arrow()
    assert (table["n"][0].as_py(), table["s"][0].as_py()) == pytest.approx(reference(src))


def test_a_root_skim_is_read_by_uproot(hepq, tmp_path):
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    hzz = Path(__file__).resolve().parents[2].parent / "shared/testdata/scikit-hep-testdata/uproot-HZZ-zlib.root"
    if not hzz.exists():
        skip_or_fail(f"test data missing: {hzz}")
    wh = tmp_path / "wh"
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE hzz STORED AS ROOT LOCATION '{hzz}'; "
        "CREATE MATERIALIZED VIEW dimuon WITH (format = 'root') AS "
        'SELECT "NJet", "Muon_Px" FROM hzz WHERE "NMuon" = 2; '
        "SELECT path FROM hepq.files WHERE table_name = 'dimuon' AND is_current",
        extra=["--warehouse", str(wh)],
    )
    assert len(rows) == 1, rows
    with uproot.open(rows[0]["path"]) as f:
        skim = f["Events"].arrays()
    with uproot.open(hzz) as f:
        events = f["events"].arrays(["NJet", "NMuon", "Muon_Px"])
    events = events[events.NMuon == 2]
    assert len(skim) == len(events) == 1371
    # Row order may differ (the skim is written in parallel): compare as sorted values.
    def key(a):
        return sorted(zip(ak.to_list(a.NJet), (tuple(m) for m in ak.to_list(a.Muon_Px))))

    assert key(skim) == key(events)
