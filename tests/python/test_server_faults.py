"""`hepq serve` under faults: a protocol fuzzer, and clients killed in the middle of a result.

- The fuzzer mutates valid client sessions (startup, simple and extended query, COPY, cursors)
  with a fixed seed: flipped and inserted bytes, hostile length fields, truncation, unknown
  message types, reordered and spliced messages, and abrupt resets. Each mutated session goes
  to the server on its own connection; the server must answer or close every one within a
  few seconds, keep serving normal clients throughout, and end idle with no connection left.
- Killed clients: psql processes killed with SIGKILL while a large `COPY … TO STDOUT` or
  SELECT streams to them. Afterwards `pg_stat_activity` lists only the checking connection,
  the server burns no CPU (the engine's tasks stopped) and its resident memory does not grow
  from round to round.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import skip_or_fail
from test_server_pg import (
    N_ROWS,
    Server,
    assert_server_goes_idle,
    message,
    psycopg_mod,
    startup_packet,
    types_warehouse,
)

FUZZ_SEED = 20261203
FUZZ_CASES = 2500
FUZZ_SECONDS = 60.0


@pytest.fixture(scope="module")
def server(hepq_bin, tmp_path_factory):
    wh = types_warehouse(tmp_path_factory, "pg-faults-warehouse")
    srv = Server(hepq_bin, ["--warehouse", str(wh), "--max-connections", "64"])
    yield srv
    srv.stop()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connections(server) -> list[tuple]:
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        me = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        rows = conn.execute("SELECT pid, state, query FROM pg_stat_activity ORDER BY pid").fetchall()
    return [r for r in rows if r[0] != me]


def wait_for_no_connections(server, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = connections(server)
        if not left:
            return
        assert time.monotonic() < deadline, f"connections left behind: {left}"
        time.sleep(0.2)


# --- pg_stat_activity ------------------------------------------------------------------


def test_pg_stat_activity_shows_connections_and_cancels(server):
    psycopg = psycopg_mod()
    import threading

    with psycopg.connect(server.dsn, autocommit=True, application_name="watcher") as watcher, \
            psycopg.connect(server.dsn, application_name="worker") as worker:
        worker_pid = worker.execute("SELECT pg_backend_pid()").fetchone()[0]
        rows = watcher.execute(
            "SELECT pid, usename, datname, application_name, state, query, backend_type, "
            "xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = %s",
            (worker_pid,),
        ).fetchall()
        # psycopg opened a transaction block for the worker's SELECT and it is still open.
        assert rows == [(worker_pid, "hepq", "hepq", "worker", "idle in transaction",
                         "SELECT pg_backend_pid()", "client backend", True)], rows
        me = watcher.execute(
            "SELECT state, query, application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()
        assert me == ("active", "SELECT state, query, application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()", "watcher")
        worker.rollback()
        slow = "SELECT count(*) FROM generate_series(1, 100000000000) WHERE value % 7 = 3"
        failed = []

        def run():
            try:
                worker.execute(slow)
            except psycopg.errors.QueryCanceled as e:
                failed.append(e)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 10
        while True:
            (state, query) = watcher.execute(
                "SELECT state, query FROM pg_stat_activity WHERE pid = %s", (worker_pid,)
            ).fetchone()
            if state == "active":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert query == slow
        assert watcher.execute("SELECT pg_cancel_backend(%s)", (worker_pid,)).fetchone() == (True,)
        t.join(timeout=10)
        assert not t.is_alive() and len(failed) == 1
        assert watcher.execute("SELECT pg_cancel_backend(1)").fetchone() == (False,)
        worker.rollback()
    wait_for_no_connections(server)


# --- killed clients ----------------------------------------------------------------------


def psql_binary() -> str:
    binary = shutil.which("psql")
    if binary is None:
        skip_or_fail("psql (Debian postgresql-client) is not installed")
    return binary


BIG_COPY = ("COPY (SELECT value, value * 0.5 AS half, make_array(value, value + 1) AS pair "
            "FROM generate_series(1, 2000000000)) TO STDOUT")
BIG_SELECT = "SELECT value, repeat('x', 100) AS pad FROM generate_series(1, 2000000000)"


def kill_mid_result(server, sql: str) -> None:
    """Starts psql on `sql` (which streams for minutes), waits until rows flow, SIGKILLs it."""
    args = [psql_binary(), "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "hepq", "hepq", "-c", sql]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if sql.startswith("COPY"):
            got = 0
            while got < 1_000_000:  # a megabyte of COPY data has arrived
                chunk = proc.stdout.read1(65536)
                assert chunk, "psql ended before the COPY streamed"
                got += len(chunk)
        else:
            # psql collects a whole SELECT before printing: wait until the server is busy.
            deadline = time.monotonic() + 20
            while not any(state == "active" for _, state, _ in connections(server)):
                assert time.monotonic() < deadline, "the SELECT never started"
                time.sleep(0.05)
            time.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize("sql", [BIG_COPY, BIG_SELECT], ids=["copy", "select"])
def test_clients_killed_mid_result_leave_nothing_behind(server, sql):
    rss = []
    for _ in range(6):
        kill_mid_result(server, sql)
        wait_for_no_connections(server)
        rss.append(rss_kib(server.proc.pid))
    assert_server_goes_idle(server)
    # Memory is flat: after the first rounds (allocator warm-up), no round leaves memory behind.
    growth = max(rss[2:]) - rss[1]
    assert growth < 64 * 1024, f"resident memory grew by {growth} KiB over rounds: {rss}"
    psycopg = psycopg_mod()
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM types").fetchone() == (N_ROWS,)
    assert server.alive()


# --- fuzzer ------------------------------------------------------------------------------


def i32(v: int) -> bytes:
    return struct.pack("!i", v)


def i16(v: int) -> bytes:
    return struct.pack("!h", v)


def parse(name: bytes, sql: bytes, types: list[int]) -> bytes:
    return message(b"P", name + b"\0" + sql + b"\0" + i16(len(types)) + b"".join(i32(t) for t in types))


def bind(portal: bytes, stmt: bytes, params: list[bytes | None], fmts: list[int], results: list[int]) -> bytes:
    body = portal + b"\0" + stmt + b"\0" + i16(len(fmts)) + b"".join(i16(f) for f in fmts)
    body += i16(len(params))
    for p in params:
        body += i32(-1) if p is None else i32(len(p)) + p
    body += i16(len(results)) + b"".join(i16(r) for r in results)
    return message(b"B", body)


def query(sql: bytes) -> bytes:
    return message(b"Q", sql + b"\0")


SYNC = message(b"S", b"")
FLUSH = message(b"H", b"")
TERMINATE = message(b"X", b"")


def seed_sessions() -> list[list[bytes]]:
    """Valid sessions (after the startup packet), as lists of messages."""
    return [
        [query(b"SELECT 1"), TERMINATE],
        [query(b"SELECT id, name, vals, ints, rec FROM types WHERE id < 5; SELECT 2"), TERMINATE],
        [parse(b"s1", b"SELECT id, f64 FROM types WHERE id < $1", [20]),
         bind(b"", b"s1", [i32(0) + i32(7)], [1], [1]), message(b"D", b"P\0"),
         message(b"E", b"\0" + i32(0)), SYNC, TERMINATE],
        [parse(b"", b"SELECT name FROM types WHERE i32 > $1 AND name <> $2", []),
         bind(b"p", b"", [b"-50", b"x"], [], []), message(b"E", b"p\0" + i32(3)),
         message(b"E", b"p\0" + i32(0)), message(b"C", b"Pp\0"), SYNC],
        [parse(b"", b"SELECT $1::int4[]", [1007]), message(b"D", b"S\0"), FLUSH,
         bind(b"", b"", [b"{1,2,NULL}"], [0], [1]), message(b"E", b"\0" + i32(0)), SYNC],
        [query(b"COPY (SELECT id, ints FROM types) TO STDOUT (FORMAT binary)"), TERMINATE],
        [query(b"COPY (SELECT id, name FROM types) TO STDOUT (FORMAT csv, HEADER)"), TERMINATE],
        [query(b"BEGIN; DECLARE c CURSOR FOR SELECT id FROM types; FETCH 5 FROM c; MOVE 3 IN c; CLOSE c; COMMIT")],
        [query(b"BEGIN"), query(b"SAVEPOINT a"), query(b"SELECT nope"), query(b"ROLLBACK TO a"),
         query(b"SELECT count(*) FROM pg_catalog.pg_class"), query(b"COMMIT")],
        [query(b"SET statement_timeout = 100"), query(b"SHOW ALL"), query(b"DISCARD ALL")],
        [message(b"d", b"data"), message(b"c", b""), message(b"f", b"fail\0"), SYNC],
        [query(b"SELECT hist(f64, 10, 0, 1) FROM types"), TERMINATE],
    ]


INTERESTING_LENGTHS = [0, 1, 3, 4, 5, 8, 255, 65536, 0x7FFFFFFF, -1, -4, 0x10000000, 0x0FFFFFFF]


def mutate(rng: random.Random, msgs: list[bytes], seeds: list[list[bytes]]) -> bytes:
    msgs = list(msgs)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and msgs:  # reorder, duplicate, drop
            k = rng.randrange(len(msgs))
            choice = rng.randrange(3)
            if choice == 0:
                msgs.insert(rng.randrange(len(msgs) + 1), msgs[k])
            elif choice == 1:
                msgs.pop(k)
            else:
                msgs.insert(rng.randrange(len(msgs) + 1), msgs.pop(k))
        elif op == 1:  # splice in a message of another session
            other = rng.choice(seeds)
            msgs.insert(rng.randrange(len(msgs) + 1), rng.choice(other))
        elif op == 2 and msgs:  # a message of an unknown or wrong type
            k = rng.randrange(len(msgs))
            msgs[k] = bytes([rng.choice(b"QPBDESCHXFfdcpZTAVW\0\xff")]) + msgs[k][1:]
        elif op == 3 and msgs:  # hostile length field
            k = rng.randrange(len(msgs))
            if len(msgs[k]) >= 5:
                n = rng.choice(INTERESTING_LENGTHS + [len(msgs[k]) - 2, len(msgs[k])])
                msgs[k] = msgs[k][:1] + struct.pack("!I", n & 0xFFFFFFFF) + msgs[k][5:]
        else:  # byte-level damage to one message: flip, insert, truncate, overwrite counts
            if not msgs:
                msgs.append(b"")
            k = rng.randrange(len(msgs))
            m = bytearray(msgs[k])
            kind = rng.randrange(4)
            if kind == 0 and m:
                for _ in range(rng.randint(1, 8)):
                    m[rng.randrange(len(m))] ^= 1 << rng.randrange(8)
            elif kind == 1:
                pos = rng.randrange(len(m) + 1)
                m[pos:pos] = rng.randbytes(rng.randint(1, 16))
            elif kind == 2 and m:
                del m[rng.randrange(len(m)):]
            elif m and len(m) > 7:
                pos = rng.randrange(5, len(m) - 1)
                m[pos:pos + 2] = struct.pack("!h", rng.choice([-1, 0, 1, 2, 0x7FFF, -0x8000]))
            msgs[k] = bytes(m)
    return b"".join(msgs)


def mutated_startup(rng: random.Random) -> bytes:
    good = startup_packet()
    choice = rng.randrange(6)
    if choice == 0:
        return good[:rng.randrange(len(good))]
    if choice == 1:
        m = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            m[rng.randrange(len(m))] = rng.randrange(256)
        return bytes(m)
    if choice == 2:  # SSLRequest / GSSENCRequest / CancelRequest, then garbage
        code = rng.choice([80877103, 80877104, 80877102])
        return i32(8 if code != 80877102 else 16) + i32(code) + rng.randbytes(rng.randint(0, 40))
    if choice == 3:
        return i32(rng.choice(INTERESTING_LENGTHS)) + good[4:]
    if choice == 4:  # protocol 3.1 with unknown _pq_ options
        return i32(8 + 14) + i32(0x00030001) + b"_pq_.x\0yes\0\0\0"
    return rng.randbytes(rng.randint(1, 64))


def send_case(port: int, data: bytes, reset: bool) -> float:
    """Sends one case and reads until the server closes; returns how long the server took."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            s.sendall(data)
        except OSError:
            return time.monotonic() - start  # the server already closed: fine
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return time.monotonic() - start
        s.settimeout(10)
        try:
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass
        return time.monotonic() - start
    finally:
        s.close()


def test_protocol_fuzzer_never_hurts_the_server(server, capsys):
    psycopg = psycopg_mod()
    rng = random.Random(FUZZ_SEED)
    seeds = seed_sessions()
    start = time.monotonic()
    slowest = 0.0
    cases = 0
    with psycopg.connect(server.dsn, autocommit=True) as probe:
        while cases < FUZZ_CASES and time.monotonic() - start < FUZZ_SECONDS:
            if rng.random() < 0.15:
                data = mutated_startup(rng) + rng.randbytes(rng.randint(0, 32))
            else:
                data = startup_packet() + mutate(rng, rng.choice(seeds), seeds)
            took = send_case(server.port, data, reset=rng.random() < 0.1)
            slowest = max(slowest, took)
            cases += 1
            assert server.alive(), f"server died on case {cases}: {data[:200]!r}\n{server.log()[-3000:]}"
            if cases % 100 == 0:
                assert probe.execute("SELECT count(*) FROM types").fetchone() == (N_ROWS,)
    elapsed = time.monotonic() - start
    with capsys.disabled():
        print(f"\nprotocol fuzzer: {cases} mutated sessions in {elapsed:.1f} s "
              f"(seed {FUZZ_SEED}), slowest answered in {slowest:.2f} s, server alive")
    assert cases >= 200, f"only {cases} cases ran in {FUZZ_SECONDS} s"
    assert slowest < 10, f"a case kept the connection for {slowest:.1f} s"
    assert "panicked" not in server.log()
    wait_for_no_connections(server)
    assert_server_goes_idle(server)
