#!/usr/bin/env python3
"""Jagged-array functions and histogram aggregates: hepq against DuckDB and boost-histogram.

Everything runs side by side in one run, on the same machine and the same data (warm page
cache, one untimed run first, then the median of --repeat runs):

* **List functions vs DuckDB** (issue 5), over the same Parquet file of --events NanoAOD-like
  events (bench/prepare.py replicates the real CMS events): the sum of jet pT above 30 GeV,
  ΔR matching of every muon to its nearest jet, and the masses of all muon pairs. hepq uses
  its functions (`list_where`, `min_delta_r`, `inv_masses` + `list_argcombinations`); DuckDB
  the way its documentation writes such things (lambdas with `list_filter`/`list_transform`,
  index lambdas for the pairs). Both engines return the same number, checked here; the hepq
  figure is the whole `hepq sql` process (start-up included), DuckDB's an in-process query.
* **Histogram fill vs boost-histogram** (issue 6): --values Float32 numbers into a 100-bin
  regular axis. boost-histogram's `h.fill(numpy_array)` with the array already in memory,
  against hepq filling the same numbers (a) from memory through the engine (the criterion
  benchmark `hist/fill_100_bins` of `udf_kernels`) and (b) end to end from Parquet through the
  CLI, with one thread each (per core). The histograms are compared bin by bin.
* **GROUP BY scaling**: the same fill with `GROUP BY g` over 10,000 groups against the
  ungrouped fill, in memory (criterion) and from Parquet (CLI).
* The criterion micro-benchmarks of the list kernels on in-memory data (`jets/*`).

    python bench/udfs/run.py                       # writes bench/udfs/RESULTS.md and .json
    python bench/udfs/run.py --events 100000 --values 10000000 --repeat 3   # a quick look

Inputs are cached in bench/data/ (not committed). hepq runs from the release build
(`cargo build --release --workspace --bins --features hepq-bench/criterion`, which also
builds `udf_kernels`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import hepq_module  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = Path(os.environ.get("HEPQ_BENCH_DATA", REPO / "bench" / "data"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
CLOCK = os.environ.get("HEPQ_BENCH_CLOCK", "wall")

TWO_PI = "(2 * pi())"


def _dphi(a: str, b: str) -> str:
    """DuckDB: a - b wrapped to [-pi, pi)."""
    return f"(({a}) - ({b}) + pi() - {TWO_PI} * floor((({a}) - ({b}) + pi()) / {TWO_PI}) - pi())"


def _energy(i: str) -> str:
    return f"sqrt(pow(Muon_pt[{i}] * cosh(Muon_eta[{i}]), 2) + pow(Muon_mass[{i}], 2))"


# (name, what it computes, hepq SQL, DuckDB SQL). Both return one number.
LIST_QUERIES = [
    (
        "sum_pt_above_30",
        "Σ per event of the pT of jets above 30 GeV",
        "SELECT sum(list_sum(list_where(Jet_pt, Jet_pt > 30))) FROM events",
        "SELECT sum(list_sum(list_filter(Jet_pt, lambda x: x > 30))) FROM events",
    ),
    (
        "min_delta_r_muon_jet",
        "ΔR from every muon to its nearest jet",
        "SELECT sum(list_sum(min_delta_r(Muon_eta, Muon_phi, Jet_eta, Jet_phi))) FROM events",
        "SELECT sum(list_sum(list_transform(Muon_eta, lambda me, i: "
        "list_min(list_transform(Jet_eta, lambda je, j: "
        f"sqrt((me - je) * (me - je) + pow({_dphi('Muon_phi[i]', 'Jet_phi[j]')}, 2))))))) "
        "FROM events",
    ),
    (
        "dimuon_masses_all_pairs",
        "invariant mass of every muon pair",
        "SELECT sum(list_sum(inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass, "
        "list_argcombinations(Muon_pt, 2)))) FROM events",
        "SELECT sum(list_sum(flatten(list_transform(Muon_pt, lambda pt1, i: "
        "list_transform(range(i + 1, len(Muon_pt) + 1), lambda j: "
        f"sqrt(greatest(0, pow({_energy('i')} + {_energy('j')}, 2) "
        "- pow(Muon_pt[i] * cos(Muon_phi[i]) + Muon_pt[j] * cos(Muon_phi[j]), 2) "
        "- pow(Muon_pt[i] * sin(Muon_phi[i]) + Muon_pt[j] * sin(Muon_phi[j]), 2) "
        "- pow(Muon_pt[i] * sinh(Muon_eta[i]) + Muon_pt[j] * sinh(Muon_eta[j]), 2)))))))) "
        "FROM events",
    ),
]

HIST_SQL = "SELECT hist(x, 100, 0, 1) AS h FROM flat"
HIST_GROUPED_SQL = "SELECT g, hist(x, 100, 0, 1) AS h FROM flat GROUP BY g"


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median_time(fn, repeat: int) -> tuple[float, object]:
    """One untimed warm-up call, then the median time of `repeat` calls.

    The time is wall-clock time, or CPU time (this process and its children, all threads)
    when HEPQ_BENCH_CLOCK=cpu: on a machine busy with other work, the CPU time of a
    one-thread run is the fairer measure.
    """
    clock = _cpu_seconds if CLOCK == "cpu" else time.perf_counter
    result = fn()
    times = []
    for _ in range(repeat):
        start = clock()
        result = fn()
        times.append(clock() - start)
    return statistics.median(times), result


def hepq_bin() -> Path:
    path = Path(os.environ.get("HEPQ_BIN", TARGET / "release" / "hepq"))
    if not path.exists():
        sys.exit(f"{path} is missing: cargo build --release --workspace --bins")
    return path


def hepq_query(sql: str, table: str, path: Path, threads: int, fmt: str = "csv") -> str:
    out = subprocess.run(
        [str(hepq_bin()), "sql", "--threads", str(threads), "--register", f"{table}={path}",
         "--format", fmt, "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout


def hepq_scalar(sql: str, path: Path, threads: int) -> float:
    lines = hepq_query(sql, "events", path, threads).strip().splitlines()
    return float(lines[-1])


def ensure_events(events: int) -> Path:
    path = DATA / f"events-{events // 1000}k.parquet"
    if events % 1_000_000 == 0:
        path = DATA / f"events-{events // 1_000_000}M.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "prepare.py"), "--events", str(events),
             "--parquet", "--out", str(path)],
            check=True,
        )
    return path


def ensure_flat(values: int) -> Path:
    """`x` Float32 uniform in [0, 1), `g` BIGINT in [0, 10000); written in 1M-row groups."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"flat-{values}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261202)
    schema = pa.schema([("x", pa.float32()), ("g", pa.int64())])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        left = values
        while left > 0:
            n = min(left, 1_000_000)
            x = rng.random(n, dtype=np.float32)
            g = rng.integers(0, 10_000, n, dtype=np.int64)
            writer.write_table(pa.table({"x": x, "g": g}, schema=schema), row_group_size=n)
            left -= n
    tmp.rename(path)
    return path


def run_criterion(events: int, values: int, threads: int) -> dict[str, float]:
    """Runs `udf_kernels` and returns each benchmark's median time in seconds."""
    binary = TARGET / "release" / "udf_kernels"
    if not binary.exists():
        sys.exit(f"{binary} is missing: cargo build --release --workspace --bins "
                 "--features hepq-bench/criterion")
    home = DATA / "criterion"
    env = dict(os.environ, CRITERION_HOME=str(home), HEPQ_BENCH_THREADS=str(threads),
               HEPQ_BENCH_EVENTS=str(events), HEPQ_BENCH_VALUES=str(values))
    subprocess.run([str(binary), "--bench"], check=True, env=env)
    medians = {}
    for estimates in home.glob("*/*/new/estimates.json"):
        name = f"{estimates.parent.parent.parent.name}/{estimates.parent.parent.name}"
        medians[name] = json.loads(estimates.read_text())["median"]["point_estimate"] / 1e9
    return medians


def list_functions(events_path: Path, threads_list: list[int], repeat: int) -> list[dict]:
    import duckdb

    hepq = hepq_module()
    rows = []
    for threads in threads_list:
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{events_path}')")
        hq = None
        if hepq is not None:
            hq = hepq.connect(threads=threads)
            hq.register("events", str(events_path))
        for name, what, hepq_sql, duck_sql in LIST_QUERIES:
            t_hepq, v_hepq = median_time(lambda: hepq_scalar(hepq_sql, events_path, threads), repeat)
            t_duck, v_duck = median_time(lambda: con.sql(duck_sql).fetchall()[0][0], repeat)
            if abs(v_hepq - v_duck) > 1e-6 * max(abs(v_duck), 1.0):
                sys.exit(f"{name}: hepq {v_hepq!r} != DuckDB {v_duck!r}")
            row = {
                "query": name, "what": what, "threads": threads, "hepq_s": t_hepq,
                "duckdb_s": t_duck, "duckdb_over_hepq": t_duck / t_hepq, "value": v_hepq,
            }
            if hq is not None:
                t_mod, v_mod = median_time(lambda: hq.sql(hepq_sql).fetchall()[0][0], repeat)
                if abs(v_mod - v_duck) > 1e-6 * max(abs(v_duck), 1.0):
                    sys.exit(f"{name}: hepq (module) {v_mod!r} != DuckDB {v_duck!r}")
                row["hepq_inprocess_s"] = t_mod
                row["duckdb_over_hepq_inprocess"] = t_duck / t_mod
            rows.append(row)
            print(f"{name} threads={threads}: hepq {t_hepq:.3f} s"
                  + (f" (in process {row['hepq_inprocess_s']:.3f} s)" if hq is not None else "")
                  + f", DuckDB {t_duck:.3f} s (DuckDB/hepq {t_duck / t_hepq:.2f})", flush=True)
        con.close()
    return rows


def hist_fill(flat_path: Path, values: int, repeat: int) -> dict:
    import boost_histogram as bh
    import numpy as np
    import pyarrow.parquet as pq

    x = pq.read_table(flat_path, columns=["x"]).column("x").to_numpy()
    assert x.dtype == np.float32 and len(x) == values

    def boost():
        h = bh.Histogram(bh.axis.Regular(100, 0, 1))
        h.fill(x)
        return h

    t_boost, h_boost = median_time(boost, repeat)
    del x

    def cli(sql):
        return hepq_query(sql, "flat", flat_path, 1, fmt="ndjson")

    t_cli, out = median_time(lambda: cli(HIST_SQL), repeat)
    doc = json.loads(out.strip().splitlines()[0])["h"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    ours = np.asarray(doc["storage"]["values"], dtype=float)
    theirs = h_boost.values(flow=True)
    if not np.array_equal(ours, theirs):
        sys.exit(f"hist: hepq's bins differ from boost-histogram's: {ours[:5]} vs {theirs[:5]}")
    t_cli_grouped, out = median_time(lambda: cli(HIST_GROUPED_SQL), repeat)
    groups = len(out.strip().splitlines())
    if groups != 10_000:
        sys.exit(f"hist GROUP BY: expected 10000 groups, got {groups}")
    return {"boost_fill_s": t_boost, "hepq_cli_s": t_cli, "hepq_cli_grouped_s": t_cli_grouped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--values", type=int, default=100_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="thread counts for the list queries")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]

    events_path = ensure_events(args.events)
    flat_path = ensure_flat(args.values)
    lists = list_functions(events_path, threads_list, args.repeat)
    hist = hist_fill(flat_path, args.values, args.repeat)
    criterion = run_criterion(args.events, args.values, 1)

    fill_mem = criterion["hist/fill_100_bins"]
    grouped_mem = criterion["hist/fill_100_bins_group_by_10000"]
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "clock": CLOCK, "events": args.events, "values": args.values, "repeat": args.repeat,
        "list_functions": lists, "hist": hist, "criterion_median_s": criterion,
    }
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")

    lines = [
        "# Jagged-array functions and histograms: hepq vs DuckDB and boost-histogram",
        "",
        f"Generated by `bench/udfs/run.py` (one run; median of {args.repeat} after a warm-up) on "
        f"{os.cpu_count()} CPUs, {platform.platform()}; times are "
        f"{'CPU time (user + system, all threads)' if CLOCK == 'cpu' else 'wall-clock time'} "
        "except criterion's (wall). Raw figures: `RESULTS.json`.",
        "",
        f"## List functions vs DuckDB ({args.events:,} events, Parquet)",
        "",
        "*hepq process* is the whole `hepq sql` process (start-up, planning, Parquet scan); "
        "*hepq in process* the same query through the `hepq` Python module (release build) on a "
        "warm connection, as DuckDB's is an in-process query on a warm connection. All return "
        "the same number (checked).",
        "",
        "| query | threads | hepq process (s) | hepq in process (s) | DuckDB (s) | "
        "DuckDB / hepq process | **DuckDB / hepq in process** |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lists:
        inproc = r.get("hepq_inprocess_s")
        lines.append(
            f"| {r['query']} ({r['what']}) | {r['threads']} | {r['hepq_s']:.3f} | "
            + (f"{inproc:.3f}" if inproc is not None else "—")
            + f" | {r['duckdb_s']:.3f} | {r['duckdb_over_hepq']:.2f} | "
            + (f"**{r['duckdb_over_hepq_inprocess']:.2f}**" if inproc is not None else "—")
            + " |")
    lines += [
        "",
        f"## Histogram fill: {args.values:,} Float32 values, 100 regular bins, one thread",
        "",
        "| filler | time (s) | values/s | vs boost-histogram |",
        "|---|---:|---:|---:|",
    ]
    b = hist["boost_fill_s"]
    for name, t in [
        ("boost-histogram `h.fill(numpy_array)` (array in memory)", b),
        ("hepq `hist(x, 100, 0, 1)`, from memory (criterion `hist/fill_100_bins`)", fill_mem),
        ("hepq `hist(x, 100, 0, 1)`, from Parquet through `hepq sql` (end to end)", hist["hepq_cli_s"]),
    ]:
        lines.append(f"| {name} | {t:.3f} | {args.values / t:,.0f} | {b / t:.2f}× |")
    lines += [
        "",
        "## GROUP BY 10,000 groups vs ungrouped (one thread)",
        "",
        "| path | ungrouped (s) | GROUP BY g (s) | grouped / ungrouped |",
        "|---|---:|---:|---:|",
        f"| from memory (criterion) | {fill_mem:.3f} | {grouped_mem:.3f} | {grouped_mem / fill_mem:.2f} |",
        f"| from Parquet (`hepq sql`) | {hist['hepq_cli_s']:.3f} | {hist['hepq_cli_grouped_s']:.3f} | "
        f"{hist['hepq_cli_grouped_s'] / hist['hepq_cli_s']:.2f} |",
        "",
        f"## Criterion micro-benchmarks (`udf_kernels`, in memory, one thread, {args.events:,} "
        "synthetic events)",
        "",
        "| benchmark | median (s) |",
        "|---|---:|",
    ]
    for name in sorted(criterion):
        lines.append(f"| {name} | {criterion[name]:.4f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
