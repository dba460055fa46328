"""`hepq serve`: real PostgreSQL clients over loopback against independent references.

A server is started on a free 127.0.0.1 port over a temporary warehouse holding a Parquet table
written here by pyarrow with every type hepq sends (`types`), plus the CMS open-data ROOT file
registered as `events`. Results are compared with DuckDB reading the same Parquet file and with
uproot reading the same ROOT file. Clients: psycopg 3 (text and binary, server-side prepared
statements, COPY), psycopg2, SQLAlchemy 2 + pandas, psql, and a raw-socket client for row
limits (PortalSuspended) and malformed messages.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO_ROOT, skip_or_fail

ROOT_FILE = REPO_ROOT.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"
N_ROWS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `hepq serve`; stopped by the fixture's finalizer."""

    def __init__(self, binary: Path, args: list[str]):
        self.port = free_port()
        # The server's output goes to a file, not a pipe: a pipe nobody reads fills up and
        # would block a server that logs a lot (the fuzzer's connections are logged).
        fd, name = tempfile.mkstemp(prefix="hepq-serve-", suffix=".log")
        os.close(fd)
        self.output = Path(name)
        with open(self.output, "a") as out:
            self.proc = subprocess.Popen(
                [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hepq serve exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("hepq serve did not start listening within 60 s")

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=hepq dbname=hepq"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.output.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        """What the server has printed so far."""
        return self.output.read_text(errors="replace")


def types_table() -> pa.Table:
    """Every Arrow type the server encodes, with NULLs in every nullable column."""
    rows = range(N_ROWS)

    def maybe(i, v):
        return None if i % 7 == 3 else v

    return pa.table(
        {
            "id": pa.array(list(rows), pa.int64()),
            "i32": pa.array([maybe(i, i * 3 - 100) for i in rows], pa.int32()),
            "i16": pa.array([maybe(i, (i % 50) - 25) for i in rows], pa.int16()),
            "f32": pa.array([maybe(i, i / 8 - 3.3) for i in rows], pa.float32()),
            "f64": pa.array([maybe(i, i * 1.0e-3 + 1 / 3) for i in rows], pa.float64()),
            "flag": pa.array([maybe(i, i % 3 == 0) for i in rows], pa.bool_()),
            "name": pa.array([maybe(i, f"n{i} \"q\" {{x}}, \\ é") for i in rows], pa.string()),
            "day": pa.array(
                [maybe(i, dt.date(2012, 1, 1) + dt.timedelta(days=i)) for i in rows], pa.date32()
            ),
            "ts": pa.array(
                [maybe(i, dt.datetime(2012, 5, 1, 12, 0) + dt.timedelta(seconds=i * 37, microseconds=i * 11)) for i in rows],
                pa.timestamp("us"),
            ),
            "dec": pa.array(
                [maybe(i, decimal.Decimal(i * 1234 - 99999) / 1000) for i in rows], pa.decimal128(10, 3)
            ),
            "blob": pa.array([maybe(i, bytes([i % 256, 0, 255])) for i in rows], pa.binary()),
            "vals": pa.array(
                [maybe(i, [float(i) / 4, None, -1.5][: i % 4]) for i in rows], pa.list_(pa.float32())
            ),
            "ints": pa.array([maybe(i, list(range(i % 5))) for i in rows], pa.list_(pa.int32())),
            "pair": pa.array([maybe(i, [i * 0.5, -i * 0.5]) for i in rows], pa.list_(pa.float64(), 2)),
            "grid": pa.array(
                [maybe(i, [[i, i + 1, i + 2]] * (i % 3)) for i in rows],
                pa.list_(pa.list_(pa.int32(), 3)),
            ),
            "jag": pa.array([maybe(i, [[1, 2], [], [i]][: i % 4]) for i in rows], pa.list_(pa.list_(pa.int64()))),
            "rec": pa.array(
                [maybe(i, {"a": i, "b": f"s{i}"}) for i in rows],
                pa.struct([("a", pa.int32()), ("b", pa.string())]),
            ),
        }
    )


def types_warehouse(tmp_path_factory, name: str) -> Path:
    """A fresh warehouse whose one table `types` holds `types_table()` (shared by the server
    test modules)."""
    wh = tmp_path_factory.mktemp(name)
    (wh / "tables" / "types").mkdir(parents=True)
    pq.write_table(types_table(), wh / "tables" / "types" / "part-0.parquet")
    return wh


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return types_warehouse(tmp_path_factory, "pg-warehouse")


@pytest.fixture(scope="module")
def server(hepq_bin: Path, warehouse: Path):
    if not ROOT_FILE.exists():
        skip_or_fail(f"test data missing: {ROOT_FILE}")
    srv = Server(
        hepq_bin,
        ["--warehouse", str(warehouse), "--register", f"events={ROOT_FILE}", "--max-connections", "40"],
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def duck(warehouse: Path):
    con = duckdb.connect()
    con.execute(f"CREATE VIEW types AS SELECT * FROM read_parquet('{warehouse}/tables/types/*.parquet')")
    return con


@pytest.fixture(scope="module")
def muon_pt():
    uproot = pytest.importorskip("uproot")
    with uproot.open(ROOT_FILE) as f:
        tree = f["Events"]
        return [list(map(float, a)) for a in tree["Muon_pt"].array(library="np")], [
            int(x) for x in tree["run"].array(library="np")
        ]


def psycopg_mod():
    return pytest.importorskip("psycopg")


COLUMNS = ["id", "i32", "i16", "f32", "f64", "flag", "name", "day", "ts", "dec", "blob", "vals", "ints", "pair", "grid", "jag", "rec"]
FLOAT4 = {"f32", "vals"}


def same(col: str, got, want) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if col in FLOAT4:
        if isinstance(want, list):
            return len(got) == len(want) and all(
                (g is None and w is None) or (g is not None and w is not None and math.isclose(g, w, rel_tol=1e-6))
                for g, w in zip(got, want)
            )
        return math.isclose(got, want, rel_tol=1e-6)
    if col == "f64":
        return math.isclose(got, want, rel_tol=1e-15)
    if col == "blob":
        return bytes(got) == bytes(want)
    return got == want


def check_types_rows(rows, duck):
    want = duck.execute(f"SELECT {', '.join(COLUMNS)} FROM types ORDER BY id").fetchall()
    assert len(rows) == len(want) == N_ROWS
    for got_row, want_row in zip(rows, want):
        for col, g, w in zip(COLUMNS, got_row, want_row):
            assert same(col, g, w), f"column {col}, id {want_row[0]}: got {g!r}, want {w!r}"


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_every_type_matches_duckdb(server, duck, binary):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        cur = conn.cursor(binary=binary)
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM types ORDER BY id")
        rows = cur.fetchall()
        oids = {d.name: d.type_code for d in cur.description}
    # Arrays carry their element types; fixed-size inner lists are 2-D arrays; jagged
    # nested lists and structs are json.
    assert oids == {
        "id": 20, "i32": 23, "i16": 21, "f32": 700, "f64": 701, "flag": 16, "name": 25,
        "day": 1082, "ts": 1114, "dec": 1700, "blob": 17, "vals": 1021, "ints": 1007,
        "pair": 1022, "grid": 1007, "jag": 114, "rec": 114,
    }
    check_types_rows(rows, duck)


def test_oid_and_name_casts_over_columns(server, duck):
    """`::oid` and `::name` over table columns: whole columns cast, sent as oid and name."""
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        cur = conn.execute("SELECT id::oid AS o, name::name AS n FROM types WHERE id < 30 ORDER BY id")
        assert [d.type_code for d in cur.description] == [26, 19]
        assert cur.fetchall() == duck.execute("SELECT id, name FROM types WHERE id < 30 ORDER BY id").fetchall()


def test_server_version_strings(server):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn) as conn:
        assert conn.info.server_version // 10000 == 16
        assert conn.info.parameter_status("server_version").startswith("16.")
        (v,) = conn.execute("SELECT version()").fetchone()
        assert v.startswith("PostgreSQL 16.") and "(hepq " in v


def test_parameters_nulls_and_many(server, duck):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        # Typed by inference from the column, with a NULL and more than nine parameters.
        sql = "SELECT count(*) FROM types WHERE i32 > %s AND f64 < %s AND name IS NOT NULL"
        (n,) = conn.execute(sql, (-50, 1.0)).fetchone()
        (want,) = duck.execute(sql.replace("%s", "?"), (-50, 1.0)).fetchone()
        assert n == want and n > 0
        values = list(range(12))
        got = conn.execute("SELECT " + ", ".join(["%s"] * 12), values).fetchone()
        assert list(got) == values
        got = conn.execute("SELECT %s IS NULL, %s::int + 1, %s", (None, 41, "text é")).fetchone()
        assert got == (True, 42, "text é")
        ids = conn.execute("SELECT id FROM types WHERE id IN (%s, %s, %s) ORDER BY id", (5, 7, 999)).fetchall()
        assert ids == [(5,), (7,)]
        # A Python list binds as a PostgreSQL array.
        (length,) = conn.execute("SELECT cardinality(%s)", ([1.5, 2.5, 3.5],)).fetchone()
        assert length == 3


def test_prepared_after_five_executions_and_deallocate(server, duck):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        assert conn.prepare_threshold == 5
        sql = "SELECT count(*) FROM types WHERE i16 > %s"
        for k in range(-20, -12):
            (n,) = conn.execute(sql, (k,)).fetchone()
            (want,) = duck.execute(sql.replace("%s", "?"), (k,)).fetchone()
            assert n == want
        conn.execute("DEALLOCATE ALL")
        (n,) = conn.execute(sql, (0,)).fetchone()
        assert n == duck.execute(sql.replace("%s", "?"), (0,)).fetchone()[0]
        # A named statement prepared explicitly.
        (n,) = conn.execute(sql, (3,), prepare=True).fetchone()
        assert n == duck.execute(sql.replace("%s", "?"), (3,)).fetchone()[0]


def test_root_lists_match_uproot(server, muon_pt):
    psycopg = psycopg_mod()
    pts, runs = muon_pt
    for binary in (False, True):
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            cur = conn.cursor(binary=binary)
            cur.execute('SELECT run, "Muon_pt" FROM events')
            rows = cur.fetchall()
            assert cur.description[1].type_code == 1021  # _float4
        assert [r[0] for r in rows] == runs
        assert len(rows) == len(pts)
        for (_, got), want in zip(rows, pts):
            assert len(got) == len(want)
            assert all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(got, want))


def test_histograms_are_json_matching_numpy(server):
    psycopg = psycopg_mod()
    np = pytest.importorskip("numpy")
    uproot = pytest.importorskip("uproot")
    with uproot.open(ROOT_FILE) as f:
        met = f["Events"]["MET_pt"].array(library="np")
    counts, _ = np.histogram(met, bins=4, range=(0, 100))
    want = [int((met < 0).sum()), *map(int, counts), int((met >= 100).sum())]
    for binary in (False, True):
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            cur = conn.cursor(binary=binary)
            cur.execute('SELECT hist("MET_pt", 4, 0, 100) AS h FROM events')
            assert cur.description[0].type_code == 114  # json
            doc = cur.fetchone()[0]
        assert doc["uhi_schema"] == 1
        assert doc["storage"]["values"] == want


def test_memory_limit_fails_the_query_not_the_server(hepq_bin, warehouse):
    psycopg = psycopg_mod()
    srv = Server(hepq_bin, ["--register", f"events={ROOT_FILE}", "--memory-limit", "2MB"])
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.Error) as e:
                conn.execute('SELECT array_agg(a."Muon_pt") FROM events a, events b')
            assert e.value.sqlstate == "53200", e.value
            assert conn.execute("SELECT count(*) FROM events").fetchone() == (1000,)
        assert srv.alive()
    finally:
        srv.stop()


def test_transactions_savepoints_and_type_lookups(server):
    psycopg = psycopg_mod()
    from psycopg.pq import TransactionStatus as TS
    from psycopg.types import TypeInfo

    with psycopg.connect(server.dsn) as conn:
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == TS.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_table")
        assert conn.info.transaction_status == TS.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.info.transaction_status == TS.IDLE
        with conn.transaction():
            with conn.transaction():  # a SAVEPOINT
                info = TypeInfo.fetch(conn, "float4")
                assert (info.oid, info.array_oid) == (700, 1021)
            with pytest.raises(psycopg.errors.SyntaxError):
                with conn.transaction():
                    conn.execute("SELEC 1")
            assert conn.execute("SELECT 2").fetchone() == (2,)
        assert TypeInfo.fetch(conn, "hstore") is None
        conn.commit()
        # psycopg opens a transaction before each statement: DISCARD ALL is refused there,
        # as by PostgreSQL, and accepted outside one.
        with pytest.raises(psycopg.errors.ActiveSqlTransaction):
            conn.execute("DISCARD ALL")
        conn.rollback()
        conn.autocommit = True
        conn.execute("DISCARD ALL")
        assert conn.info.transaction_status == TS.IDLE


def test_set_show_are_per_session(server):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as a, psycopg.connect(server.dsn, autocommit=True) as b:
        a.execute("SET application_name = 'analysis-a'")
        a.execute("SET statement_timeout = 12345")
        assert a.execute("SHOW application_name").fetchone() == ("analysis-a",)
        assert a.execute("SELECT current_setting('statement_timeout')").fetchone() == ("12345",)
        assert b.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert b.execute("SHOW application_name").fetchone() != ("analysis-a",)
        assert a.info.parameter_status("application_name") == "analysis-a"
        assert b.execute("SHOW transaction isolation level").fetchone() == ("read committed",)
        # Engine settings pass through to this session's engine only.
        a.execute("SET datafusion.execution.batch_size = 1234")
        assert a.execute("SHOW datafusion.execution.batch_size").fetchone()[-1] == "1234"
        assert b.execute("SHOW datafusion.execution.batch_size").fetchone()[-1] != "1234"


@pytest.mark.parametrize(
    "sql, state",
    [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM types", "42703"),
        ("SELECT 1 / 0", "22012"),
        ("SELECT CAST('abc' AS INT)", "22P02"),
    ],
)
def test_errors_carry_sqlstates(server, sql, state):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as e:
            conn.execute(sql)
        assert e.value.sqlstate == state, e.value
        assert conn.execute("SELECT 1").fetchone() == (1,)


SLOW = "SELECT count(*) FROM events a, events b, events c WHERE a.\"MET_pt\" + b.\"MET_pt\" > c.\"MET_pt\""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_server_goes_idle(server) -> None:
    """The engine's tasks really stopped: the server burns (almost) no CPU afterwards."""
    time.sleep(0.3)
    before = cpu_seconds(server.proc.pid)
    time.sleep(1.0)
    used = cpu_seconds(server.proc.pid) - before
    assert used < 0.3, f"server still used {used:.2f} s of CPU in the second after the query stopped"


def test_cancel_stops_a_running_query(server):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(SLOW)
        elapsed = time.monotonic() - start
        timer.join()
        assert elapsed < 3.0, f"cancel took {elapsed:.2f} s"
        assert_server_goes_idle(server)
        assert conn.execute("SELECT 7").fetchone() == (7,)


def test_statement_timeout(server):
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300ms'")
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as e:
            conn.execute(SLOW)
        assert "statement timeout" in str(e.value)
        assert time.monotonic() - start < 3.0
        assert_server_goes_idle(server)
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SELECT 8").fetchone() == (8,)


def test_copy_to_stdout_text_csv_binary(server, duck):
    psycopg = psycopg_mod()
    sql = "SELECT id, i32, name, vals FROM types ORDER BY id"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        cur = conn.cursor()
        with cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
            text_rows = list(copy.rows())
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            csv_text = b"".join(bytes(b) for b in copy).decode()
        with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(["int8", "int4", "text", "float4[]"])
            binary_rows = list(copy.rows())
    want = duck.execute("SELECT id, i32, name FROM types ORDER BY id").fetchall()
    # Text COPY rows come back as strings (psycopg does not know the types there).
    assert [(int(r[0]), None if r[1] is None else int(r[1]), r[2]) for r in text_rows] == want
    import csv
    import io

    parsed = list(csv.reader(io.StringIO(csv_text)))
    assert parsed[0] == ["id", "i32", "name", "vals"]
    assert [int(r[0]) for r in parsed[1:]] == [w[0] for w in want]
    assert [r[2] for r in parsed[1:]] == ["" if w[2] is None else w[2] for w in want]
    assert [(r[0], r[1], r[2]) for r in binary_rows] == want
    want_vals = duck.execute("SELECT vals FROM types ORDER BY id").fetchall()
    for (g,), (_, _, _, b) in zip(want_vals, binary_rows):
        assert same("vals", b, g)


def test_psycopg2(server, duck):
    psycopg2 = pytest.importorskip("psycopg2")
    conn = psycopg2.connect(server.dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, name, ints, day FROM types WHERE id < %s ORDER BY id", (20,))
        rows = cur.fetchall()
        want = duck.execute("SELECT id, name, ints, day FROM types WHERE id < 20 ORDER BY id").fetchall()
        assert rows == want
        conn.rollback()
    finally:
        conn.close()


def test_sqlalchemy_inspect_and_pandas(server, duck):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pd = pytest.importorskip("pandas")
    from sqlalchemy.dialects import postgresql

    engine = sqlalchemy.create_engine(f"postgresql+psycopg://hepq@127.0.0.1:{server.port}/hepq")
    try:
        insp = sqlalchemy.inspect(engine)
        names = insp.get_table_names()
        assert {"types", "events"} <= set(names)
        cols = {c["name"]: c["type"] for c in insp.get_columns("types")}
        assert isinstance(cols["id"], sqlalchemy.BigInteger)
        assert isinstance(cols["f64"], sqlalchemy.Double) or isinstance(cols["f64"], sqlalchemy.Float)
        assert isinstance(cols["vals"], postgresql.ARRAY) and isinstance(cols["vals"].item_type, sqlalchemy.REAL)
        assert isinstance(cols["ts"], sqlalchemy.TIMESTAMP)
        assert isinstance(cols["rec"], sqlalchemy.JSON)
        assert insp.get_pk_constraint("types")["constrained_columns"] == []
        ev = {c["name"]: c["type"] for c in insp.get_columns("events")}
        assert isinstance(ev["Muon_pt"], postgresql.ARRAY)
        sql = "SELECT id, i32, f64, name, day FROM types WHERE id < 100 AND i16 > -10 ORDER BY id"
        got = pd.read_sql(sql, engine)
        want = duck.execute(sql).df()
        assert list(got.columns) == list(want.columns)
        assert got["id"].tolist() == want["id"].tolist()
        assert got["name"].where(got["name"].notna(), None).tolist() == want["name"].where(want["name"].notna(), None).tolist()
        assert got["f64"].fillna(-1).round(12).tolist() == want["f64"].fillna(-1).round(12).tolist()
    finally:
        engine.dispose()


def psql(server, *commands: str) -> str:
    binary = shutil.which("psql")
    if binary is None:
        skip_or_fail("psql (Debian postgresql-client) is not installed")
    args = [binary, "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.port), "-U", "hepq", "hepq"]
    for c in commands:
        args += ["-c", c]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_psql_meta_commands(server):
    out = psql(server, r"\dt")
    assert "types" in out and "events" in out and "table" in out
    out = psql(server, r"\d events")
    lines = {l.split("|")[0].strip(): l for l in out.splitlines() if "|" in l}
    assert "real[]" in lines["Muon_pt"] and "integer[]" in lines["Muon_charge"], out
    assert "real" in lines["MET_pt"]
    out = psql(server, r"\d types")
    lines = {l.split("|")[0].strip(): l for l in out.splitlines() if "|" in l}
    assert "numeric(10,3)" in lines["dec"] and "json" in lines["rec"] and "timestamp without time zone" in lines["ts"]
    assert "public" in psql(server, r"\dn")
    assert "hepq" in psql(server, r"\l")
    out = psql(server, r"\x", 'SELECT "Muon_pt", "nMuon" FROM events LIMIT 1')
    assert "Muon_pt | {12.777097}" in out, out
    out = psql(server, "SELECT count(*) FROM events; SELECT 40 + 2 AS answer")
    assert "1000" in out and "42" in out


# --- Raw protocol client: row limits and malformed messages ------------------------------


def message(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("!i", len(body) + 4) + body


def startup_packet() -> bytes:
    body = struct.pack("!i", 196608) + b"user\0hepq\0database\0hepq\0\0"
    return struct.pack("!i", len(body) + 4) + body


def read_messages(sock: socket.socket, until: bytes = b"Z") -> list[tuple[bytes, bytes]]:
    out = []
    buf = b""
    while True:
        while len(buf) < 5:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            buf += chunk
        tag, length = buf[:1], struct.unpack("!i", buf[1:5])[0]
        while len(buf) < 1 + length:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            buf += chunk
        out.append((tag, buf[5 : 1 + length]))
        buf = buf[1 + length :]
        if tag == until:
            return out


def connect_raw(server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(startup_packet())
    msgs = read_messages(s)
    assert msgs[-1][0] == b"Z", msgs
    return s


def test_row_limits_and_portal_suspended(server):
    s = connect_raw(server)
    try:
        query = b"SELECT id FROM types WHERE id < $1 ORDER BY id\0"
        bind_params = struct.pack("!hh", 0, 1) + struct.pack("!i", 1) + b"5" + struct.pack("!h", 0)
        s.sendall(
            message(b"P", b"st\0" + query + struct.pack("!h", 0))
            + message(b"B", b"po\0st\0" + bind_params)
            + message(b"E", b"po\0" + struct.pack("!i", 2))
            + message(b"E", b"po\0" + struct.pack("!i", 2))
            + message(b"E", b"po\0" + struct.pack("!i", 2))
            + message(b"S", b"")
        )
        tags = [t for t, _ in read_messages(s)]
        assert tags == [b"1", b"2", b"D", b"D", b"s", b"D", b"D", b"s", b"D", b"C", b"Z"], tags
        # Describe of a statement: parameter types inferred from the column.
        s.sendall(message(b"D", b"Sst\0") + message(b"S", b""))
        msgs = read_messages(s)
        assert msgs[0][0] == b"t"
        assert struct.unpack("!hI", msgs[0][1]) == (1, 20)  # one parameter, int8
        assert msgs[1][0] == b"T"
    finally:
        s.close()


def test_client_hanging_up_mid_query_stops_the_engine(server):
    s = connect_raw(server)
    s.sendall(message(b"Q", SLOW.encode() + b"\0"))
    time.sleep(0.7)
    s.close()
    assert_server_goes_idle(server)
    assert server.alive()


def test_malformed_messages_do_not_hurt_the_server(server):
    psycopg = psycopg_mod()
    attacks = [
        b"\x00\x00\x00\x08\x04\xd2\x16\x2f" + b"garbage after ssl request" * 10,
        b"\xff" * 64,
        struct.pack("!i", 2_000_000_000) + b"\x00\x03\x00\x00",
        startup_packet() + b"Q" + struct.pack("!i", 1_000_000) + b"SELECT",
        startup_packet() + message(b"B", b"\0\0" + struct.pack("!hh", 0, 30000)),
        startup_packet() + message(b"P", b"x\0SELECT 1\0" + struct.pack("!h", -1)),
        startup_packet() + message(b"Q", b"SELECT 1"),
        startup_packet() + b"Z" + struct.pack("!i", 4),
        startup_packet() + message(b"E", b"nope"),
        startup_packet()[:6],
    ]
    for data in attacks:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            while s.recv(65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
        assert server.alive()
    # Another client is served normally afterwards.
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM types").fetchone() == (N_ROWS,)


def test_max_connections_and_listen_safety(hepq_bin, warehouse):
    psycopg = psycopg_mod()
    srv = Server(hepq_bin, ["--warehouse", str(warehouse), "--max-connections", "2"])
    try:
        a = psycopg.connect(srv.dsn)
        b = psycopg.connect(srv.dsn)
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            psycopg.connect(srv.dsn)
        a.close()
        time.sleep(0.2)
        c = psycopg.connect(srv.dsn)
        c.close()
        b.close()
    finally:
        srv.stop()
    r = subprocess.run(
        [str(hepq_bin), "serve", "--listen", f"0.0.0.0:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "--insecure" in r.stderr, r.stderr


# --- Authentication -----------------------------------------------------------------------


def scram_hash(password: str, salt: bytes, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier computed independently with hashlib (RFC 5802)."""
    import base64
    import hashlib
    import hmac

    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def md5_hash(password: str, user: str) -> str:
    import hashlib

    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


@pytest.mark.parametrize("method", ["scram-sha-256", "md5", "password"])
def test_password_authentication(hepq_bin, tmp_path, method):
    psycopg = psycopg_mod()
    users = {
        "alice": scram_hash("wonderland", b"0123456789abcdef"),
        "bob": md5_hash("builder", "bob"),
    }
    config = tmp_path / "hepq.toml"
    config.write_text(f'auth = "{method}"\n[users]\n' + "".join(f'{u} = "{h}"\n' for u, h in users.items()))
    srv = Server(hepq_bin, ["--config", str(config)])
    try:
        ok_user, ok_password = ("bob", "builder") if method == "md5" else ("alice", "wonderland")
        dsn = f"host=127.0.0.1 port={srv.port} dbname=hepq"
        with psycopg.connect(f"{dsn} user={ok_user} password={ok_password}") as conn:
            assert conn.execute("SELECT current_user").fetchone() == (ok_user,)
        for user, password in [(ok_user, "wrong"), ("mallory", ok_password)]:
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(f"{dsn} user={user} password={password}")
        if method == "password":  # a cleartext password also checks against an md5 hash
            with psycopg.connect(f"{dsn} user=bob password=builder") as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        assert srv.alive()
    finally:
        srv.stop()


def test_hash_password_and_non_loopback_with_auth(hepq_bin, tmp_path):
    psycopg = psycopg_mod()
    import base64

    r = subprocess.run([str(hepq_bin), "serve", "--hash-password"], input="s3cret\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    verifier = r.stdout.strip()
    iterations, salt = verifier.split("$")[1].split(":")
    # The printed verifier is the one hashlib derives from the same password and salt.
    assert verifier == scram_hash("s3cret", base64.b64decode(salt), int(iterations))
    config = tmp_path / "hepq.toml"
    config.write_text(f'auth = "scram-sha-256"\n[users]\ncarol = "{verifier}"\n')
    port = free_port()
    proc = subprocess.Popen(
        [str(hepq_bin), "serve", "--listen", f"0.0.0.0:{port}", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                conn = psycopg.connect(f"host=127.0.0.1 port={port} user=carol password=s3cret dbname=hepq")
                break
            except psycopg.OperationalError:
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.2)
        with conn:
            assert conn.execute("SELECT 5").fetchone() == (5,)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = tmp_path / "bad.toml"
    bad.write_text('auth = "scram-sha-256"\n[users]\ndave = "hunter2"\n')
    r = subprocess.run([str(hepq_bin), "serve", "--config", str(bad), "--listen", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "dave" in r.stderr, r.stderr


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1, made with `cryptography`."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_tls(hepq_bin, tmp_path):
    psycopg = psycopg_mod()
    cert, key = self_signed_cert(tmp_path)
    verifier = scram_hash("tls-secret", b"fedcba9876543210")
    config = tmp_path / "hepq.toml"
    config.write_text(
        f'auth = "scram-sha-256"\n[users]\nerin = "{verifier}"\n[tls]\ncert = "{cert}"\nkey = "{key}"\n'
    )
    srv = Server(hepq_bin, ["--config", str(config)])
    try:
        dsn = f"host=127.0.0.1 port={srv.port} dbname=hepq user=erin password=tls-secret"
        with psycopg.connect(f"{dsn} sslmode=verify-full sslrootcert={cert}") as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 6 * 7").fetchone() == (42,)
        with psycopg.connect(f"{dsn} sslmode=disable") as conn:
            assert not conn.pgconn.ssl_in_use
    finally:
        srv.stop()
    # A configured TLS that cannot load stops the server from starting.
    broken = tmp_path / "broken.toml"
    broken.write_text(f'[tls]\ncert = "{tmp_path / "missing.crt"}"\nkey = "{key}"\n')
    r = subprocess.run(
        [str(hepq_bin), "serve", "--config", str(broken), "--listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0 and "missing.crt" in r.stderr, r.stderr
