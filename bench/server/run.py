#!/usr/bin/env python3
"""`hepq serve` against PostgreSQL 15 streaming a large result to psycopg, side by side.

The same table (--rows rows; scalars and two jagged list columns, the shape of a skim:
`id int8, run int4, x float8, flag bool, pt float4[], charge int4[]`) is served by

* `hepq serve` (the release build) from Parquet files in a temporary warehouse, and
* PostgreSQL 15 (Debian's postgresql-15, a throw-away cluster from tests/pgcorpus/pg15.py,
  shared_buffers large enough to hold the table) from an unlogged heap table loaded with the
  very rows hepq serves (`COPY … TO STDOUT` from hepq into `COPY … FROM STDIN`),

to the same client, psycopg 3 in this process, on the same machine. The contents are checked
equal (row count, sums of id, of x and of the list lengths) before anything is timed. Each
way of reading runs once untimed, then --repeat times; the median is reported:

* `SELECT *` streamed in text and in binary format (`cursor.stream(…, size=10000)`: libpq's
  chunked rows; every value becomes a Python object, as an application sees it);
* `COPY (SELECT *) TO STDOUT (FORMAT binary)` read block by block (bytes counted, not decoded;
  psycopg still handles every row's CopyData message in Python), and the same COPY read by psql
  into a pipe (a C client that costs little: closest to the server's own speed; the RSS sampled
  for PostgreSQL there is an idle backend's, not psql's).

While each read runs, the serving process's resident memory is sampled every 20 ms: hepq's
server process, and PostgreSQL's backend of the reading connection.

    python bench/server/run.py                       # 10M rows, writes RESULTS.md and .json
    python bench/server/run.py --rows 1000000 --repeat 1 --out /tmp/x   # a quick look

Inputs are cached in bench/data/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "pgcorpus"))
sys.path.insert(0, str(REPO / "tests" / "python"))
from harness import label, machine  # noqa: E402
from pg15 import Postgres15  # noqa: E402

DATA = Path(os.environ.get("HEPQ_BENCH_DATA", REPO / "bench" / "data"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
FILES = 4
DDL = "id bigint, run integer, x double precision, flag boolean, pt real[], charge integer[]"
CHECK = "SELECT count(*), sum(id), sum(cardinality(pt)), sum(cardinality(charge)), sum(x) FROM bench"


def prepare(rows: int) -> Path:
    """--rows rows in FILES Parquet files (seeded; cached)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = DATA / f"server-{label(rows)}"
    if (folder / "_done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(8)
    per_file = rows // FILES
    for k in range(FILES):
        start = k * per_file
        n = per_file if k < FILES - 1 else rows - start
        ids = np.arange(start, start + n, dtype=np.int64)
        lengths = rng.integers(0, 6, n)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        total = int(offsets[-1])
        pt = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rng.exponential(30, total).astype(np.float32)))
        charge = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rng.choice([-1, 1], total).astype(np.int32)))
        table = pa.table({
            "id": ids,
            "run": (190_000 + ids // 100_000).astype(np.int32),
            "x": rng.normal(0, 1, n),
            "flag": rng.random(n) < 0.5,
            "pt": pt,
            "charge": charge,
        })
        pq.write_table(table, folder / f"part-{k}.parquet", compression="zstd", row_group_size=1 << 20)
    (folder / "_done").touch()
    return folder


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """Samples a process's resident memory while a read runs."""

    def __init__(self, pid: int):
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.before = rss_kib(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def read_select(conn, binary: bool) -> tuple[int, int]:
    n = total = 0
    with conn.cursor() as cur:
        for row in cur.stream("SELECT * FROM bench", binary=binary, size=10_000):
            n += 1
            total += row[0]
    return n, total


def read_copy(conn) -> tuple[int, int]:
    nbytes = 0
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT * FROM bench) TO STDOUT (FORMAT binary)") as copy:
            for block in copy:
                nbytes += len(block)
    return nbytes, 0


def read_copy_psql(conn) -> tuple[int, int]:
    """The same binary COPY read by psql (libpq, C) into a pipe: the servers' own speed with
    a client that costs little."""
    info = conn.info
    proc = subprocess.Popen(
        ["psql", "-X", "-h", info.host, "-p", str(info.port), "-U", info.user, info.dbname,
         "-c", "COPY (SELECT * FROM bench) TO STDOUT (FORMAT binary)"],
        stdout=subprocess.PIPE,
    )
    nbytes = 0
    while chunk := proc.stdout.read(1 << 20):
        nbytes += len(chunk)
    if proc.wait() != 0:
        raise SystemExit("psql COPY failed")
    return nbytes, 0


READS = {
    "SELECT * (text)": lambda c: read_select(c, False),
    "SELECT * (binary)": lambda c: read_select(c, True),
    "COPY TO STDOUT (binary)": read_copy,
    "COPY TO STDOUT (binary), read by psql": read_copy_psql,
}


def measure(dsn: str, pid_of, repeat: int) -> dict:
    import psycopg

    out = {}
    for name, read in READS.items():
        times, peaks, befores, answers = [], [], [], set()
        for k in range(repeat + 1):
            with psycopg.connect(dsn, autocommit=True) as conn:
                pid = pid_of(conn)
                with Sampler(pid) as s:
                    t = time.perf_counter()
                    answers.add(read(conn))
                    elapsed = time.perf_counter() - t
            if k > 0:
                times.append(elapsed)
                peaks.append(max(s.samples + [s.before]))
                befores.append(s.before)
        if len(answers) != 1:
            raise SystemExit(f"{name}: runs disagree: {answers}")
        out[name] = {"seconds": statistics.median(times), "all": times, "rss_before_kib": min(befores),
                     "rss_peak_kib": max(peaks), "answer": list(answers)[0]}
        print(f"  {name}: {out[name]['seconds']:.2f} s, RSS {min(befores) // 1024} -> {max(peaks) // 1024} MiB",
              file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hepq", type=Path, default=TARGET / "release" / "hepq")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS")
    args = ap.parse_args()
    if not args.hepq.exists():
        sys.exit(f"{args.hepq} is missing: cargo build --release --bin hepq")

    import psycopg
    from test_server_pg import Server

    folder = prepare(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "wh" / "tables").mkdir(parents=True)
        (tmp / "wh" / "tables" / "bench").symlink_to(folder)
        hepq = Server(args.hepq, ["--warehouse", str(tmp / "wh")])
        pg = Postgres15(log_statements=False,
                        settings={"shared_buffers": "'4GB'", "max_parallel_workers_per_gather": "0"})
        try:
            t = time.perf_counter()
            with psycopg.connect(hepq.dsn, autocommit=True) as src, psycopg.connect(pg.dsn, autocommit=True) as dst:
                dst.execute(f"CREATE UNLOGGED TABLE bench ({DDL})")
                with src.cursor().copy("COPY (SELECT * FROM bench) TO STDOUT") as out, \
                        dst.cursor().copy("COPY bench FROM STDIN") as into:
                    for block in out:
                        into.write(block)
                dst.execute("VACUUM ANALYZE bench")
                dst.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
                dst.execute("SELECT pg_prewarm('bench')")
                want, got = dst.execute(CHECK).fetchone(), src.execute(CHECK).fetchone()
                if [int(v) for v in want[:4]] != [int(v) for v in got[:4]] or abs(want[4] - got[4]) > 1e-6 * args.rows:
                    sys.exit(f"contents differ: PostgreSQL {want}, hepq {got}")
                pg_size = dst.execute("SELECT pg_total_relation_size('bench')").fetchone()[0]
            print(f"loaded {args.rows} rows into PostgreSQL in {time.perf_counter() - t:.0f} s; both hold {got}",
                  file=sys.stderr)
            print("hepq:", file=sys.stderr)
            hepq_res = measure(hepq.dsn, lambda c: hepq.proc.pid, args.repeat)
            print("PostgreSQL 15:", file=sys.stderr)
            pg_res = measure(pg.dsn, lambda c: c.execute("SELECT pg_backend_pid()").fetchone()[0], args.repeat)
            pg_version = pg.version()
        finally:
            pg.stop()
            hepq.stop()
    for name in READS:
        if hepq_res[name]["answer"] != pg_res[name]["answer"] and "COPY" not in name:
            sys.exit(f"{name}: hepq read {hepq_res[name]['answer']}, PostgreSQL {pg_res[name]['answer']}")
    parquet_bytes = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    doc = {
        "rows": args.rows,
        "repeat": args.repeat,
        "machine": machine(postgres=pg_version, psycopg=psycopg.__version__, libpq=str(psycopg.pq.version())),
        "hepq": hepq_res,
        "postgres": pg_res,
        "postgres_table_bytes": pg_size,
        "parquet_bytes": parquet_bytes,
    }
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [
        "# `hepq serve` vs PostgreSQL 15: a large result streamed to psycopg",
        "",
        f"Written by `bench/server/run.py --rows {args.rows} --repeat {args.repeat}`; median of {args.repeat} "
        "warm runs after one untimed run. The same client (psycopg "
        f"{psycopg.__version__}, libpq {psycopg.pq.version()}) in one process reads the same {args.rows:,} rows "
        f"(`{DDL}`) from each server on the same machine. PostgreSQL's table ({pg_size / 2**20:.0f} MiB) is "
        f"prewarmed in shared_buffers; hepq reads {FILES} zstd Parquet files ({parquet_bytes / 2**20:.0f} MiB) "
        "from the page cache.",
        "",
        f"Machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores; {pg_version.split(',')[0]}.",
        "",
        "| read | hepq | PostgreSQL 15 | PostgreSQL ÷ hepq (≥ 1: hepq at least as fast) | hepq server RSS before → peak | PostgreSQL backend RSS before → peak |",
        "|---|---|---|---|---|---|",
    ]
    for name in READS:
        h, p = hepq_res[name], pg_res[name]
        lines.append(
            f"| {name} | {h['seconds']:.2f} s | {p['seconds']:.2f} s | **{p['seconds'] / h['seconds']:.2f}×** | "
            f"{h['rss_before_kib'] / 1024:.0f} → {h['rss_peak_kib'] / 1024:.0f} MiB | "
            + ("— |" if "psql" in name else f"{p['rss_before_kib'] / 1024:.0f} → {p['rss_peak_kib'] / 1024:.0f} MiB |")
        )
    copies = {name: (hepq_res[name]["answer"][0], pg_res[name]["answer"][0]) for name in READS if "COPY" in name}
    lines += [
        "",
        "PostgreSQL's backend RSS counts the shared buffers it touches, so its peak includes the cached table.",
        "Binary COPY bytes (hepq / PostgreSQL): " + "; ".join(f"{n}: {a:,} / {b:,}" for n, (a, b) in copies.items()) + ".",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
