"""Load test of `hepq serve`: 64 concurrent psycopg connections (one thread each) run a mix of
queries (a tenth of them through named server-side cursors) for a bounded time
(HEPQ_LOAD_SECONDS, default 60 s, as issue 8 asks) over loopback. Every answer is
checked against DuckDB reading the same Parquet file; the test requires zero errors and prints
the latency percentiles (p50, p99, max) to the terminal.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from pathlib import Path

import duckdb
import pytest

from conftest import skip_or_fail
from test_server_pg import ROOT_FILE, Server, types_warehouse

CONNECTIONS = 64


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return types_warehouse(tmp_path_factory, "pg-load-warehouse")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = math.ceil(q / 100 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def test_64_connections_mixed_queries(hepq_bin, warehouse, capsys):
    psycopg = pytest.importorskip("psycopg")
    if not ROOT_FILE.exists():
        skip_or_fail(f"test data missing: {ROOT_FILE}")
    seconds = float(os.environ.get("HEPQ_LOAD_SECONDS", "60"))
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW types AS SELECT * FROM read_parquet('{warehouse}/tables/types/*.parquet')")
    srv = Server(
        hepq_bin,
        ["--warehouse", str(warehouse), "--register", f"events={ROOT_FILE}", "--max-connections", "100"],
    )

    def ref(sql: str, params=()):
        return [tuple(r) for r in duck.execute(sql.replace("%s", "?"), params).fetchall()]

    # (SQL for hepq, parameters, expected rows): a mix of point lookups, aggregates, list
    # columns, the ROOT table, catalog queries and parameters.
    thresholds = list(range(-100, 800, 37))
    mix = []
    for t in thresholds:
        sql = "SELECT count(*) FROM types WHERE i32 > %s"
        mix.append((sql, (t,), ref(sql, (t,))))
    for i in range(0, 300, 23):
        sql = "SELECT id, ints FROM types WHERE id BETWEEN %s AND %s ORDER BY id"
        mix.append((sql, (i, i + 9), ref(sql, (i, i + 9))))
    sql = "SELECT flag, count(*), sum(i16) FROM types GROUP BY flag ORDER BY flag NULLS FIRST"
    mix.append((sql, (), ref(sql)))
    mix.append(("SELECT count(*) FROM events", (), [(1000,)]))
    mix.append(("SELECT typname FROM pg_catalog.pg_type WHERE oid = %s", (1021,), [("_float4",)]))
    mix.append(("SELECT 1 + %s", (41,), [(42,)]))
    sql = "SELECT id, vals FROM types WHERE id >= %s ORDER BY id"
    cursor_query = (sql, (17,), ref(sql, (17,)))

    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    start_barrier = threading.Barrier(CONNECTIONS)

    def worker(k: int) -> None:
        rng = random.Random(k)
        mine: list[float] = []
        try:
            with psycopg.connect(srv.dsn, autocommit=True, connect_timeout=60) as conn:
                start_barrier.wait(timeout=120)
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    if rng.random() < 0.1:
                        # A named (server-side) cursor read in several fetches.
                        sql, params, want = cursor_query
                        t0 = time.monotonic()
                        with conn.transaction(), conn.cursor(f"load{k}") as cur:
                            cur.itersize = 37
                            cur.execute(sql, params)
                            got = [tuple(r) for r in cur]
                    else:
                        sql, params, want = rng.choice(mix)
                        t0 = time.monotonic()
                        got = [tuple(r) for r in conn.execute(sql, params).fetchall()]
                    mine.append(time.monotonic() - t0)
                    if got != want:
                        raise AssertionError(f"{sql} {params}: got {got[:3]}…, want {want[:3]}…")
        except Exception as e:  # noqa: BLE001 - every failure is reported below
            with lock:
                errors.append(f"connection {k}: {type(e).__name__}: {e}")
        with lock:
            latencies.extend(mine)

    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 300)
        assert not any(t.is_alive() for t in threads), "a load thread did not finish"
        assert srv.alive()
        with psycopg.connect(srv.dsn) as conn:
            assert conn.execute("SELECT count(*) FROM types").fetchone() == (300,)
    finally:
        srv.stop()
    assert errors == [], "\n".join(errors[:10])
    latencies.sort()
    assert len(latencies) >= CONNECTIONS
    report = (
        f"\nload: {CONNECTIONS} connections, {seconds:g} s, {len(latencies)} queries "
        f"({len(latencies) / seconds:.0f}/s), 0 errors; latency p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    with capsys.disabled():
        print(report)
