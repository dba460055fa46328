#!/usr/bin/env python3
"""Skim benchmark: a per-event filter and projection of a NanoAOD-like ROOT dataset written to
an Iceberg table, against the same query without writing, side by side in one run.

* "query": `EXPLAIN ANALYZE <skim>` — runs the whole plan (reads, filters, builds every
  projected column) and discards the rows;
* "Iceberg": `CREATE TABLE skim AS <skim>` in a fresh warehouse — the same plan, plus Parquet
  files with Iceberg field ids and the Iceberg commit (iceberg-rust manifests, SQLite pointer);
* "Parquet": `COPY (<skim>) TO 'dir/' STORED AS PARQUET` — DataFusion's own writer, for context.

Each is a `hepq sql` process of the release build (cargo build --release --bin hepq), on the
same file, warm page cache: one untimed run, then the median of --repeat runs. The target
(issue 9): Iceberg ≤ 1.5 × query.

    python bench/skim/run.py                      # 1M events (bench/prepare.py), RESULTS.md
    python bench/skim/run.py --events 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from harness import REPO, TARGET, label, machine  # noqa: E402

DATA = Path(os.environ.get("HEPQ_BENCH_DATA", REPO / "bench" / "data"))

SKIM = (
    "SELECT run, luminosityBlock, event, MET_pt, MET_phi, nMuon, Muon_pt, Muon_eta, Muon_phi, "
    "Muon_mass, Muon_charge, Muon_pfRelIso04_all, Muon_tightId, nJet, Jet_pt, Jet_eta, Jet_btag "
    "FROM events WHERE nMuon >= 1 AND MET_pt > 15"
)


def prepare(events: int) -> Path:
    path = DATA / f"events-{label(events)}-zstd.root"
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "bench" / "prepare.py"), "--events", str(events),
                        "--codec", "zstd", "--out", str(path)], check=True)
    return path


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hepq", type=Path, default=TARGET / "release" / "hepq")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if not args.hepq.is_file():
        sys.exit(f"{args.hepq} not found: cargo build --release --bin hepq")
    source = prepare(args.events)
    hepq = str(args.hepq)
    register = ["--register", f"events={source}"]
    work = Path(tempfile.mkdtemp(prefix="hepq-skim-"))
    rows = subprocess.run([hepq, "sql", *register, "--format", "csv", "-c",
                           f"SELECT count(*) FROM ({SKIM})"], check=True, capture_output=True,
                          text=True).stdout.split()[-1]

    def query() -> float:
        return timed([hepq, "sql", *register, "-c", f"EXPLAIN ANALYZE {SKIM}"])

    def iceberg() -> float:
        warehouse = work / "warehouse"
        shutil.rmtree(warehouse, ignore_errors=True)
        return timed([hepq, "sql", "--warehouse", str(warehouse), *register, "-c",
                      f"CREATE TABLE skim AS {SKIM}"])

    def parquet() -> float:
        out = work / "parquet"
        shutil.rmtree(out, ignore_errors=True)
        return timed([hepq, "sql", *register, "-c",
                      f"COPY ({SKIM}) TO '{out}/' STORED AS PARQUET"])

    cases = {"query (EXPLAIN ANALYZE)": query, "Iceberg (CREATE TABLE AS)": iceberg,
             "Parquet (COPY TO)": parquet}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for f in cases.values():
        f()  # untimed: warm cache
    for _ in range(args.repeat):
        # Interleaved, so drifts of the machine hit every case alike.
        for name, f in cases.items():
            times[name].append(f())
    # Checks: the Iceberg table holds every row of the skim.
    counted = subprocess.run([hepq, "sql", "--warehouse", str(work / "warehouse"), "--format", "csv",
                              "-c", "SELECT count(*) FROM skim"], check=True, capture_output=True,
                             text=True).stdout.split()[-1]
    assert counted == rows, (counted, rows)
    size = sum(p.stat().st_size for p in (work / "warehouse" / "iceberg").rglob("*.parquet"))
    shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["query (EXPLAIN ANALYZE)"]
    result = {"events": args.events, "skim_rows": int(rows), "iceberg_bytes": size,
              "source": source.name, "repeat": args.repeat, "seconds": times,
              "median_seconds": medians, "machine": machine()}
    (args.out.with_suffix(".json")).write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Skim to Iceberg vs the same query without writing",
        "",
        f"`bench/skim/run.py --events {args.events} --repeat {args.repeat}`: {label(args.events)} "
        f"NanoAOD-like events ({source.name}, zstd), skim `{SKIM}` keeps {int(rows):,} events; "
        f"the Iceberg data files take {size / 2**20:.1f} MiB. Median wall time of a `hepq sql` "
        f"process (release build), warm cache. Machine: {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores.",
        "",
        "| run | median s | ÷ query |",
        "|---|---|---|",
    ]
    for name, m in medians.items():
        lines.append(f"| {name} | {m:.2f} | {m / base:.2f}× |")
    lines.append("")
    lines.append(f"Target: Iceberg ≤ 1.5 × query — {'met' if medians['Iceberg (CREATE TABLE AS)'] <= 1.5 * base else 'missed'}.")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
