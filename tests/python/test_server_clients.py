"""`hepq serve` with more clients and features: asyncpg, server-side (named) cursors with
psycopg 3 and psycopg2, the read-only role, and `hepq demo --serve`.

Same setup as test_server_pg.py: a server on a free 127.0.0.1 port over a temporary warehouse
holding the `types` Parquet table written by pyarrow, results compared with DuckDB reading the
same file (an independent reader) or with values computed here in Python.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from conftest import skip_or_fail
from test_server_pg import (
    COLUMNS,
    N_ROWS,
    ROOT_FILE,
    Server,
    assert_server_goes_idle,
    check_types_rows,
    connect_raw,
    free_port,
    md5_hash,
    message,
    read_messages,
    same,
    types_table,
    types_warehouse,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return types_warehouse(tmp_path_factory, "pg-clients-warehouse")


@pytest.fixture(scope="module")
def server(hepq_bin: Path, warehouse: Path):
    if not ROOT_FILE.exists():
        skip_or_fail(f"test data missing: {ROOT_FILE}")
    srv = Server(hepq_bin, ["--warehouse", str(warehouse), "--register", f"events={ROOT_FILE}"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def duck(warehouse: Path):
    con = duckdb.connect()
    con.execute(f"CREATE VIEW types AS SELECT * FROM read_parquet('{warehouse}/tables/types/*.parquet')")
    return con


def psycopg_mod():
    return pytest.importorskip("psycopg")


JSON_COLUMNS = {"jag", "rec"}


# ------------------------------------------------------------------------------------ asyncpg


def test_asyncpg_types_lists_parameters_nulls(server, duck):
    asyncpg = pytest.importorskip("asyncpg")

    async def main():
        conn = await asyncpg.connect(host="127.0.0.1", port=server.port, user="hepq", database="hepq")
        try:
            assert (await conn.fetchval("SELECT version()")).startswith("PostgreSQL 16.")
            assert conn.get_server_version().major == 16
            # Every type, lists as Python lists (asyncpg looks the array types up first).
            records = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM types ORDER BY id")
            rows = [
                tuple(json.loads(v) if c in JSON_COLUMNS and v is not None else v for c, v in zip(COLUMNS, r))
                for r in records
            ]
            check_types_rows(rows, duck)
            # Float32, Int32 and bool lists with NULL elements and NULL lists, and a parameter.
            sql = "SELECT id, vals, ints, make_array(flag, NOT flag) AS flags FROM types WHERE id < $1 ORDER BY id"
            got = await conn.fetch(sql, 40)
            want = duck.execute(
                "SELECT id, vals, ints, [flag, NOT flag] FROM types WHERE id < 40 ORDER BY id"
            ).fetchall()
            assert len(got) == len(want) == 40
            for g, w in zip(got, want):
                assert g["id"] == w[0]
                assert same("vals", g["vals"], w[1]), (g, w)
                assert g["ints"] == w[2] and g["flags"] == w[3], (g, w)
                assert g["vals"] is None or isinstance(g["vals"], list)
            # Parameters of several types, inferred from their columns; NULL parameters.
            name = types_table().column("name")[5].as_py()
            assert await conn.fetchval("SELECT id FROM types WHERE name = $1", name) == 5
            n = await conn.fetchval(
                "SELECT count(*) FROM types WHERE i32 > $1 AND f64 < $2 AND flag = $3", -50, 1.0, True
            )
            assert n == duck.execute(
                "SELECT count(*) FROM types WHERE i32 > -50 AND f64 < 1.0 AND flag = true"
            ).fetchone()[0]
            assert n > 0
            assert await conn.fetchval("SELECT count(*) FROM types WHERE i32 = $1", None) == 0
            assert await conn.fetchval("SELECT $1 IS NULL", None) is True
            # Array parameters (int4[], typed from the column or by a cast), which asyncpg
            # encodes after looking the type up; a parameter typed by its cast.
            n = await conn.fetchval("SELECT count(*) FROM types WHERE ints IS NOT DISTINCT FROM $1", [0, 1, 2])
            assert n == duck.execute("SELECT count(*) FROM types WHERE ints = [0, 1, 2]").fetchone()[0] > 0
            assert await conn.fetchval("SELECT cardinality($1::int4[])", [4, None, 6]) == 3
            assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
            assert await conn.fetchval("SELECT $1::text[]", ["a", None, "é"]) == ["a", None, "é"]
            # A prepared statement, run several times.
            stmt = await conn.prepare("SELECT vals FROM types WHERE id = $1")
            for i in (1, 2, 3, 9):
                (want_vals,) = duck.execute("SELECT vals FROM types WHERE id = ?", (i,)).fetchone()
                assert same("vals", await stmt.fetchval(i), want_vals)
            # A custom codec (asyncpg looks the type up by name, then introspects it).
            await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            assert await conn.fetchval("SELECT rec FROM types WHERE id = 1") == {"a": 1, "b": "s1"}
            await conn.reset_type_codec("json", schema="pg_catalog")
            # asyncpg's cursor: a portal fetched with row limits inside a transaction.
            async with conn.transaction():
                ids = [r["id"] async for r in conn.cursor("SELECT id FROM types ORDER BY id", prefetch=7)]
            assert ids == list(range(N_ROWS))
        finally:
            await conn.close()

        # A pool: connections go back with asyncpg's reset query (advisory unlock, CLOSE ALL,
        # UNLISTEN, RESET ALL).
        pool = await asyncpg.create_pool(
            host="127.0.0.1", port=server.port, user="hepq", database="hepq", min_size=1, max_size=2
        )
        try:
            for _ in range(3):
                async with pool.acquire() as c:
                    assert await c.fetchval("SELECT count(*) FROM types") == N_ROWS
        finally:
            await pool.close()

    asyncio.run(main())
    assert server.alive()


# ------------------------------------------------------------------------------------ cursors


def test_psycopg_named_cursor_streams_a_large_result(server):
    psycopg = psycopg_mod()
    n = 200_000
    with psycopg.connect(server.dsn) as conn:
        # Far more rows than one fetch, with a parameter bound in the DECLARE.
        with conn.cursor("big") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT value, value * 2 AS twice FROM generate_series(1, {n}) WHERE value > %s", (10,))
            assert [d.name for d in cur.description] == ["value", "twice"]
            rows = list(cur)
        assert sorted(v for v, _ in rows) == list(range(11, n + 1))
        assert all(t == 2 * v for v, t in rows)
        conn.rollback()
        # A cursor over a trillion rows answers its first fetches at once: rows are produced
        # as they are fetched, never materialised.
        start = time.monotonic()
        with conn.cursor("huge") as cur:
            cur.execute("SELECT value FROM generate_series(1, 1000000000000)")
            got = cur.fetchmany(1000) + cur.fetchmany(1000) + cur.fetchmany(1000)
        assert len(got) == 3000 and all(1 <= v <= 10**12 for (v,) in got)
        assert len({v for (v,) in got}) == 3000
        assert time.monotonic() - start < 30
        conn.rollback()
    assert server.alive()


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_named_cursor_every_type(server, duck, binary):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn) as conn:
        with conn.cursor("every", binary=binary) as cur:
            cur.itersize = 7
            cur.execute(f"SELECT {', '.join(COLUMNS)} FROM types ORDER BY id")
            first = cur.fetchmany(3)
            cur.scroll(2)  # MOVE 2
            fifth = cur.fetchone()
            cur.scroll(100, mode="absolute")  # MOVE ABSOLUTE 100
            rest = cur.fetchall()
        conn.rollback()
        with conn.cursor("again", binary=binary) as cur:
            cur.itersize = 11
            cur.execute(f"SELECT {', '.join(COLUMNS)} FROM types ORDER BY id")
            rows = list(cur)
        conn.rollback()
    check_types_rows(rows, duck)
    assert [r[0] for r in first] == [0, 1, 2] and fifth[0] == 5
    assert [r[0] for r in rest] == list(range(100, N_ROWS))
    assert rest == rows[100:] and first == rows[:3] and fifth == rows[5]


def test_psycopg_withhold_cursor_survives_commit(server):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn) as conn:
        conn.execute("SELECT 1")
        # A named cursor closed before it ran: psycopg asks pg_cursors whether to CLOSE it.
        conn.cursor("never").close()
        assert conn.execute("SELECT 2").fetchone() == (2,)
        conn.commit()
        with conn.cursor("held", withhold=True) as cur:
            cur.execute("SELECT id FROM types ORDER BY id")
            assert cur.fetchmany(2) == [(0,), (1,)]
            conn.commit()
            assert cur.fetchmany(2) == [(2,), (3,)]
        conn.commit()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        # WITH HOLD cursors may be declared outside a transaction, and outlive it.
        with conn.cursor("auto", withhold=True) as cur:
            cur.execute("SELECT id FROM types WHERE id < 5 ORDER BY id")
            assert cur.fetchall() == [(i,) for i in range(5)]


def test_cursor_sql_commands_and_errors(server):
    psycopg = psycopg_mod()
    errors = psycopg.errors
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        with pytest.raises(errors.NoActiveSqlTransaction):
            conn.execute("DECLARE c CURSOR FOR SELECT 1")
        conn.execute("BEGIN")
        conn.execute("DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR SELECT id FROM types ORDER BY id")
        # FETCH as a prepared statement (extended protocol), then in the simple protocol.
        assert conn.execute("FETCH 2 FROM c", prepare=True).fetchall() == [(0,), (1,)]
        cur = conn.execute("MOVE FORWARD 3 IN c")
        assert cur.statusmessage == "MOVE 3"
        assert conn.execute("FETCH NEXT FROM c").fetchall() == [(5,)]
        assert conn.execute("FETCH ABSOLUTE 10 FROM c").fetchall() == [(9,)]
        assert conn.execute("FETCH RELATIVE 3 FROM c").fetchall() == [(12,)]
        cur = conn.execute("FETCH FORWARD ALL FROM c")
        assert cur.fetchall() == [(i,) for i in range(13, N_ROWS)]
        assert cur.statusmessage == f"FETCH {N_ROWS - 13}"
        cur = conn.execute("FETCH c")
        assert cur.fetchall() == [] and cur.statusmessage == "FETCH 0"
        with pytest.raises(errors.DuplicateCursor):
            conn.execute("DECLARE c CURSOR FOR SELECT 1")
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        conn.execute("DECLARE c CURSOR FOR SELECT id FROM types ORDER BY id")
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="forward"):
            conn.execute("FETCH PRIOR FROM c")
        conn.execute("ROLLBACK")
        # CLOSE, CLOSE ALL, and the end of the transaction closing WITHOUT HOLD cursors.
        conn.execute("BEGIN")
        conn.execute("DECLARE a CURSOR FOR SELECT 1 AS x")
        conn.execute("DECLARE b CURSOR FOR SELECT 2 AS x")
        assert conn.execute("CLOSE a").statusmessage == "CLOSE CURSOR"
        assert conn.execute("FETCH ALL FROM b").fetchall() == [(2,)]
        with pytest.raises(errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM a")
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        conn.execute("DECLARE h CURSOR WITH HOLD FOR SELECT id FROM types ORDER BY id")
        conn.execute("DECLARE t CURSOR FOR SELECT id FROM types ORDER BY id")
        shown = conn.execute("SELECT name, is_holdable, statement FROM pg_cursors ORDER BY name").fetchall()
        assert [(n, h) for n, h, _ in shown] == [("h", True), ("t", False)]
        assert shown[0][2].startswith("DECLARE h CURSOR WITH HOLD FOR SELECT id FROM types")
        conn.execute("COMMIT")
        assert conn.execute("SELECT name FROM pg_cursors").fetchall() == [("h",)]
        assert conn.execute("FETCH 1 FROM h").fetchall() == [(0,)]
        with pytest.raises(errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM t")
        conn.execute("CLOSE ALL")
        with pytest.raises(errors.InvalidCursorName):
            conn.execute("FETCH 1 FROM h")
        # A BINARY cursor sends binary rows in the simple protocol too.
        conn.execute("BEGIN")
        conn.execute("DECLARE bin BINARY CURSOR FOR SELECT id, vals, name FROM types ORDER BY id")
        cur = conn.execute("FETCH 3 FROM bin")
        assert [d.type_code for d in cur.description] == [20, 1021, 25]
        assert cur.pgresult.fformat(0) == 1 and cur.pgresult.fformat(1) == 1
        got = cur.fetchall()
        conn.execute("ROLLBACK")
        want = types_table().slice(0, 3).to_pylist()
        assert [r[0] for r in got] == [0, 1, 2] and [r[2] for r in got] == [w["name"] for w in want]
        assert all(same("vals", g[1], w["vals"]) for g, w in zip(got, want))
        # Several cursor statements in one simple-protocol message.
        conn.execute("BEGIN")
        cur = conn.cursor()
        cur.execute("DECLARE m CURSOR FOR SELECT id FROM types ORDER BY id; MOVE 4 FROM m; FETCH 2 FROM m")
        tags, fetched = [], []
        while True:
            tags.append(cur.statusmessage)
            if cur.description is not None:
                fetched.extend(cur.fetchall())
            if not cur.nextset():
                break
        assert tags == ["DECLARE CURSOR", "MOVE 4", "FETCH 2"] and fetched == [(4,), (5,)]
        conn.execute("ROLLBACK")
    assert server.alive()


def test_cursor_idle_cancel_and_hang_up_stop_the_engine(server):
    psycopg = psycopg_mod()
    import threading

    endless = "SELECT value FROM generate_series(1, 1000000000000) WHERE value % 7 = 3"
    with psycopg.connect(server.dsn) as conn:
        cur = conn.cursor("endless")
        cur.execute(endless)
        assert [v for (v,) in cur.fetchmany(100)] and len(cur.fetchmany(50)) == 50
        # An open cursor between fetches costs nothing: the engine waits to be asked.
        assert_server_goes_idle(server)
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            cur.fetchall()
        timer.join()
        assert time.monotonic() - start < 5
        conn.rollback()
        assert_server_goes_idle(server)
    # A client that hangs up while holding a cursor: the cursor and its engine tasks go.
    s = connect_raw(server)
    s.sendall(message(b"Q", f"BEGIN; DECLARE gone CURSOR FOR {endless}; FETCH 10 FROM gone\0".encode()))
    msgs = read_messages(s)
    assert [t for t, _ in msgs].count(b"D") == 10, msgs[-3:]
    s.close()
    assert_server_goes_idle(server)
    assert server.alive()


def test_psql_cursor_over_simple_protocol(server):
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(server.port), "-U", "hepq", "hepq", "-c",
         "BEGIN; DECLARE s CURSOR FOR SELECT id FROM types ORDER BY id; MOVE 4 FROM s; "
         "FETCH 2 FROM s; CLOSE s; COMMIT"],
        capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0 and "No such file" in out.stderr:
        skip_or_fail("psql is not installed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["4", "5"]


def test_psycopg2_named_cursors(server, duck):
    psycopg2 = pytest.importorskip("psycopg2")
    conn = psycopg2.connect(server.dsn)
    try:
        cur = conn.cursor("p2")
        cur.itersize = 3000
        cur.execute("SELECT value FROM generate_series(1, 100000) WHERE value %% 3 = %s", (1,))
        values = [v for (v,) in cur]
        cur.close()
        assert sorted(values) == list(range(1, 100001, 3))
        cur = conn.cursor("p3")
        cur.execute("SELECT id, name, vals, ints FROM types ORDER BY id")
        first = cur.fetchmany(3)
        cur.scroll(2)
        sixth = cur.fetchone()
        cur.scroll(200, mode="absolute")
        rest = cur.fetchall()
        cur.close()
        want = duck.execute("SELECT id, name, vals, ints FROM types ORDER BY id").fetchall()
        for got, w in zip(first + [sixth] + rest, want[:3] + [want[5]] + want[200:]):
            assert got[0] == w[0] and got[1] == w[1] and got[3] == w[3]
            assert same("vals", got[2], w[2])
        assert len(rest) == N_ROWS - 200
        conn.commit()
        held = conn.cursor("p4", withhold=True)
        held.execute("SELECT id FROM types WHERE id < 10 ORDER BY id")
        conn.commit()
        assert held.fetchall() == [(i,) for i in range(10)]
        held.close()
        conn.commit()
    finally:
        conn.close()
    assert server.alive()


# ------------------------------------------------------------------------------ read-only role


WRITES = [
    "CREATE TABLE ro_t AS SELECT 1 AS x",
    "CREATE VIEW ro_v AS SELECT 1 AS x",
    "CREATE EXTERNAL TABLE ro_e STORED AS PARQUET LOCATION '{wh}/tables/types'",
    "DROP TABLE types",
    "ALTER TABLE types RENAME TO other",
    "INSERT INTO types (id) VALUES (1)",
    "COPY (SELECT 1 AS x) TO '{out}' STORED AS CSV",
    "PREPARE ro_p AS INSERT INTO types (id) VALUES (1)",
    "EXPLAIN ANALYZE INSERT INTO types (id) VALUES (1)",
]


def assert_writes_refused(psycopg, conn, warehouse, out, reason):
    for sql in WRITES:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction") as e:
            conn.execute(sql.format(wh=warehouse, out=out))
        assert e.value.sqlstate == "25006"
        assert str(e.value).endswith(reason), e.value
    assert list((Path(warehouse) / "tables" / "types").iterdir()) == [
        Path(warehouse) / "tables" / "types" / "part-0.parquet"
    ]
    # EXPLAIN without ANALYZE runs nothing.
    assert conn.execute("EXPLAIN INSERT INTO types (id) VALUES (1)").fetchall()
    assert not Path(out).exists()
    assert conn.execute("SELECT count(*) FROM types").fetchone() == (N_ROWS,)


def test_read_only_users(hepq_bin, warehouse, tmp_path):
    psycopg = psycopg_mod()
    config = tmp_path / "hepq.toml"
    config.write_text(
        'auth = "password"\nread_only_users = ["viewer"]\n[users]\n'
        f'viewer = "{md5_hash("look", "viewer")}"\nalice = "{md5_hash("write", "alice")}"\n'
    )
    srv = Server(hepq_bin, ["--config", str(config), "--warehouse", str(warehouse)])
    out = tmp_path / "copied.csv"
    try:
        dsn = f"host=127.0.0.1 port={srv.port} dbname=hepq"
        with psycopg.connect(f"{dsn} user=viewer password=look", autocommit=True) as conn:
            assert conn.info.parameter_status("default_transaction_read_only") == "on"
            assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
            assert conn.execute("SELECT current_setting('transaction_read_only')").fetchone() == ("on",)
            assert_writes_refused(psycopg, conn, warehouse, out, ': user "viewer" is read-only')
            # SELECT, COPY TO STDOUT and cursors work.
            with conn.cursor().copy("COPY (SELECT id FROM types ORDER BY id) TO STDOUT") as copy:
                lines = b"".join(bytes(b) for b in copy).decode().split()
            assert lines == [str(i) for i in range(N_ROWS)]
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("SET default_transaction_read_only = off")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
            conn.execute("BEGIN READ WRITE")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("CREATE TABLE ro_t AS SELECT 1 AS x")
            conn.execute("ROLLBACK")
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with psycopg.connect(f"{dsn} user=viewer password=look") as conn:
            with conn.cursor("ro_cursor") as cur:
                cur.execute("SELECT id FROM types ORDER BY id")
                assert cur.fetchmany(3) == [(0,), (1,), (2,)]
        # Other users write.
        with psycopg.connect(f"{dsn} user=alice password=write", autocommit=True) as conn:
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("off",)
            conn.execute("CREATE TABLE rw_t AS SELECT 1 AS x")
            assert conn.execute("SELECT x FROM rw_t").fetchone() == (1,)
            # A read-only transaction (psycopg's read_only sends BEGIN READ ONLY) and
            # default_transaction_read_only refuse writes for as long as they last.
            conn.autocommit = False
            conn.read_only = True
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("CREATE TABLE rw_u AS SELECT 1 AS x")
            conn.rollback()
            conn.read_only = None
            conn.autocommit = True
            conn.execute("SET default_transaction_read_only = on")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("DROP TABLE rw_t")
            conn.execute("RESET default_transaction_read_only")
            conn.execute("DROP TABLE rw_t")
        assert srv.alive()
    finally:
        srv.stop()


def test_read_only_server(hepq_bin, warehouse, tmp_path):
    psycopg = psycopg_mod()
    srv = Server(hepq_bin, ["--read-only", "--warehouse", str(warehouse)])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as conn:
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
            assert_writes_refused(psycopg, conn, warehouse, tmp_path / "out.csv", ": the server is read-only")
    finally:
        srv.stop()


# -------------------------------------------------------------------------------- hepq demo


def test_demo_serves_the_warehouse(hepq_bin, tmp_path):
    psycopg = psycopg_mod()
    port = free_port()
    warehouse = tmp_path / "demo"
    proc = subprocess.Popen(
        [str(hepq_bin), "demo", "--warehouse", str(warehouse), "--lhc-events", "2000",
         "--legend-hits", "2000", "--serve", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 600
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                conn = psycopg.connect(f"host=127.0.0.1 port={port} user=hepq dbname=hepq", connect_timeout=2)
                break
            except psycopg.OperationalError:
                assert time.time() < deadline, "hepq demo --serve did not start serving"
                time.sleep(0.5)
        with conn:
            assert conn.execute("SELECT count(*) FROM lhc_events").fetchone() == (2000,)
            assert conn.execute("SELECT count(*) FROM legend_hits").fetchone() == (2000,)
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=30)
    assert f"psql -h 127.0.0.1 -p {port} -U hepq hepq" in stdout, stdout + stderr
    # Without --serve, and not at a terminal, the demo ends after the tour (test_cli runs it).
    done = subprocess.run(
        [str(hepq_bin), "demo", "--warehouse", str(warehouse), "--no-serve"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "hepq serve --warehouse" in done.stdout


# ------------------------------------------------------------------------------------- pgjdbc

JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
JDBC_SOURCE = Path(__file__).parent / "jdbc" / "HepqJdbcCheck.java"


def test_pgjdbc(server, duck, tmp_path):
    import shutil

    if not JDBC_JAR.exists():
        skip_or_fail(f"pgjdbc missing: {JDBC_JAR} (Debian package libpostgresql-jdbc-java)")
    if shutil.which("javac") is None or shutil.which("java") is None:
        skip_or_fail("no JDK (javac, java)")
    build = subprocess.run(
        ["javac", "-cp", str(JDBC_JAR), "-d", str(tmp_path), str(JDBC_SOURCE)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run(
        ["java", "-cp", f"{tmp_path}:{JDBC_JAR}", "HepqJdbcCheck",
         f"jdbc:postgresql://127.0.0.1:{server.port}/hepq"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    records: dict[str, list[list[str]]] = {}
    for line in run.stdout.splitlines():
        kind, *values = line.split("\t")
        records.setdefault(kind, []).append(values)
    assert records["product"] == [["PostgreSQL", "16"]]
    assert ["public", "types", "TABLE"] in records["table"]
    columns = {name: (type_name, int(data_type)) for name, type_name, data_type, _, _ in records["column"]}
    assert [r[0] for r in records["column"]] == COLUMNS
    assert {name: t for name, (t, _) in columns.items()} == {
        "id": "int8", "i32": "int4", "i16": "int2", "f32": "float4", "f64": "float8", "flag": "bool",
        "name": "text", "day": "date", "ts": "timestamp", "dec": "numeric", "blob": "bytea",
        "vals": "_float4", "ints": "_int4", "pair": "_float8", "grid": "_int4", "jag": "json", "rec": "json",
    }
    ARRAY, BIGINT, INTEGER, REAL = 2003, -5, 4, 7  # java.sql.Types
    assert columns["vals"][1] == columns["ints"][1] == columns["pair"][1] == ARRAY
    assert (columns["id"][1], columns["i32"][1], columns["f32"][1]) == (BIGINT, INTEGER, REAL)
    # Prepared statements: the same answers before and after pgjdbc switches to a named
    # server-side statement (prepareThreshold 5).
    want = duck.execute(
        "SELECT id, name, vals, ints, [flag, NOT flag] FROM types WHERE id < 20 AND (i32 > -1000 OR i32 IS NULL) ORDER BY id"
    ).fetchall()
    assert records["count"] == [[str(k), str(len(want))] for k in range(6)]

    def parse_array(text, convert):
        if text == "\\N":
            return None
        inner = text[1:-1]
        return [None if v == "\\N" else convert(v) for v in inner.split(", ")] if inner else []

    for got, w in zip(records["row"], want, strict=True):
        assert int(got[0]) == w[0]
        assert (None if got[1] == "\\N" else got[1]) == w[1]
        assert same("vals", parse_array(got[2], float), w[2])
        assert parse_array(got[3], int) == w[3]
        assert parse_array(got[4], lambda v: v == "true") == w[4]
    assert records["null_param"] == [["0"]]
    n = duck.execute("SELECT count(*) FROM types WHERE ints = [0, 1, 2]").fetchone()[0]
    assert records["array_param"] == [[str(n)]]
    assert records["fetch"] == [["100000", str(100000 * 100001 // 2)]]
    assert records["huge"] == [["2500"]]
    assert records["done"] == [[]]
    assert server.alive()
