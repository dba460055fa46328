#!/usr/bin/env python3
"""The `hepq` Python module against uproot and DuckDB, side by side in one run.

What it measures, on the same machine and the same data (warm page cache, one untimed run
first, then the median of --repeat runs), each in this one Python process:

* **ROOT into awkward** (issue 10): the `Jet_*` and `Muon_*` branches of an --events
  NanoAOD-like TTree (bench/prepare.py replicates the real CMS events; zlib, lz4 and zstd) read
  into an awkward Array of records: `hepq` (`con.sql("SELECT Jet_pt, … FROM
  read_root(…)").awkward()`) against `uproot.open(path)["Events"].arrays(filter_name=[…])`.
  uproot decompresses on one thread; hepq is timed with 1 thread and with every core. The
  one-thread arrays are compared field by field with uproot's before anything is timed (with
  several threads rows arrive in partition order, so counts and sums are compared).
* **A 10M-row result into pyarrow**: `rel.arrow()` against DuckDB's `.arrow()` on the same
  query, both engines in process with the same thread count: a Parquet scan of --rows rows of
  four scalar columns, and a computed query over `range(--rows)`. Results are compared (row
  count and column sums).

    python bench/python/run.py                 # writes bench/python/RESULTS.md and .json
    python bench/python/run.py --events 100000 --rows 1000000 --repeat 3   # a quick look

Inputs are cached in bench/data/ (not committed). The module is the release build of the
workspace (`cargo build --release --workspace --lib`), assembled by scripts/python-dev.py into
target/python-release/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import hepq_module, label, machine  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = Path(os.environ.get("HEPQ_BENCH_DATA", REPO / "bench" / "data"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
PATTERNS = ["Jet_*", "Muon_*"]
CODECS = ["zlib", "lz4", "zstd"]


def load_hepq():
    hepq = hepq_module()
    if hepq is None:
        sys.exit(f"{TARGET / 'release' / 'lib_hepq.so'} is missing: "
                 "cargo build --release --workspace --lib")
    return hepq


def prepare_root(events: int, codec: str) -> Path:
    path = DATA / f"events-{label(events)}-{codec}.root"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "prepare.py"), "--events", str(events),
             "--codec", codec, "--out", str(path)],
            check=True,
        )
    return path


def prepare_rows(rows: int) -> Path:
    """`event` BIGINT, `run` INT, `MET_pt` FLOAT, `weight` DOUBLE; 1M-row groups, zstd."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"rows-{label(rows)}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261202)
    schema = pa.schema([("event", pa.int64()), ("run", pa.int32()),
                        ("MET_pt", pa.float32()), ("weight", pa.float64())])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        done = 0
        while done < rows:
            n = min(rows - done, 1_000_000)
            writer.write_table(pa.table({
                "event": np.arange(done, done + n, dtype=np.int64),
                "run": rng.integers(190000, 200000, n, dtype=np.int32),
                "MET_pt": rng.exponential(30.0, n).astype(np.float32),
                "weight": rng.normal(1.0, 0.1, n),
            }, schema=schema), row_group_size=n)
            done += n
    tmp.rename(path)
    return path


def median_time(fn, repeat: int) -> tuple[float, object]:
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def root_to_awkward(hepq, path: Path, repeat: int, threads: list[int]) -> dict:
    import awkward as ak
    import uproot

    tree = uproot.open(path)["Events"]
    names = [b for b in tree.keys(filter_name=PATTERNS)]
    columns = ", ".join(f'"{n}"' for n in names)

    def up():
        return uproot.open(path)["Events"].arrays(filter_name=PATTERNS)

    up_s, reference = median_time(up, repeat)
    out = {"file": path.name, "branches": len(names), "events": len(reference),
           "uproot_s": up_s, "hepq": []}
    for n in threads:
        con = hepq.connect(threads=n)
        sql = f"SELECT {columns} FROM read_root('{path}', 'Events')"

        def hq():
            return con.sql(sql).awkward()

        got = hq()
        for name in names:
            if n == 1:
                same = ak.array_equal(got[name], reference[name], dtype_exact=False,
                                      check_parameters=False)
            else:
                # With several threads an unordered query's rows come in partition order, not
                # file order (as in any parallel engine without ORDER BY): compare contents.
                same = (len(got) == len(reference)
                        and ak.sum(ak.num(got[name])) == ak.sum(ak.num(reference[name]))
                        and abs(float(ak.sum(got[name])) - float(ak.sum(reference[name])))
                        <= 1e-6 * abs(float(ak.sum(reference[name]))))
            if not same:
                sys.exit(f"{path.name}: hepq ({n} threads) and uproot differ in {name}")
        s, _ = median_time(hq, repeat)
        out["hepq"].append({"threads": n, "s": s, "ratio": up_s / s})
        print(f"  {path.name}: uproot {up_s:.3f} s, hepq {n} thread(s) {s:.3f} s "
              f"({up_s / s:.2f}x)", flush=True)
    return out


ROW_QUERIES = [
    ("parquet_scan", "SELECT * FROM t", "SELECT * FROM t"),
    (
        "computed_range",
        "SELECT value AS i, value % 1000 AS g, CAST(value AS DOUBLE) * 0.5 AS x FROM range({rows})",
        "SELECT range AS i, range % 1000 AS g, CAST(range AS DOUBLE) * 0.5 AS x FROM range({rows})",
    ),
]


def _table(result):
    """DuckDB's `.arrow()` returns a Table or a RecordBatchReader depending on the version."""
    import pyarrow as pa

    return result if isinstance(result, pa.Table) else result.read_all()


def rows_to_pyarrow(hepq, path: Path, rows: int, repeat: int, threads: list[int]) -> list[dict]:
    import duckdb
    import pyarrow.compute as pc

    out = []
    for name, hq_sql, dk_sql in ROW_QUERIES:
        hq_sql, dk_sql = hq_sql.format(rows=rows), dk_sql.format(rows=rows)
        for n in threads:
            con = hepq.connect(threads=n)
            con.register("t", str(path))
            dk = duckdb.connect()
            dk.execute(f"SET threads = {n}")
            dk.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")
            hq_s, hq_table = median_time(lambda: con.sql(hq_sql).arrow(), repeat)
            dk_s, dk_table = median_time(lambda: _table(dk.sql(dk_sql).arrow()), repeat)
            if hq_table.num_rows != rows or dk_table.num_rows != rows:
                sys.exit(f"{name}: row counts {hq_table.num_rows} (hepq), {dk_table.num_rows} "
                         f"(DuckDB), expected {rows}")
            for col in hq_table.column_names:
                a = pc.sum(hq_table[col]).as_py()
                b = pc.sum(dk_table[col]).as_py()
                if abs(a - b) > 1e-6 * max(1.0, abs(b)):
                    sys.exit(f"{name}: column {col} sums differ: {a} (hepq) vs {b} (DuckDB)")
            out.append({"query": name, "threads": n, "hepq_s": hq_s, "duckdb_s": dk_s,
                        "ratio": dk_s / hq_s, "hepq_sql": hq_sql, "duckdb_sql": dk_sql})
            print(f"  {name}, {n} thread(s): hepq {hq_s:.3f} s, DuckDB {dk_s:.3f} s "
                  f"(DuckDB/hepq {dk_s / hq_s:.2f})", flush=True)
    return out


def versions() -> dict:
    import awkward
    import duckdb
    import pyarrow
    import uproot

    return machine(uproot=uproot.__version__, awkward=awkward.__version__,
                   duckdb=duckdb.__version__, pyarrow=pyarrow.__version__)


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Python module benchmark",
        "",
        f"Generated by `python bench/python/run.py` on {r['date']}; raw figures in "
        f"`RESULTS.json`. Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, "
        f"uproot {m['uproot']}, awkward {m['awkward']}, DuckDB {m['duckdb']}, pyarrow "
        f"{m['pyarrow']}. Release build of the module. Warm cache; median of {r['repeat']} runs "
        "after one untimed run; everything in one Python process.",
        "",
        f"## ROOT into awkward: {r['events']:,} NanoAOD-like events, all `Jet_*` and `Muon_*` "
        "branches",
        "",
        "`con.sql(\"SELECT Jet_pt, … FROM read_root(…)\").awkward()` against "
        "`uproot.open(…)[\"Events\"].arrays(filter_name=[\"Jet_*\", \"Muon_*\"])` (uproot "
        "decompresses on one thread). Both arrays are checked equal field by field first. "
        "Target: hepq ≥ 2× faster.",
        "",
        "| file | branches | uproot s | " + " | ".join(
            f"hepq {t['threads']}t s | **uproot / hepq {t['threads']}t**"
            for t in r["awkward"][0]["hepq"]) + " |",
        "|---|---|---|" + "---|---|" * len(r["awkward"][0]["hepq"]),
    ]
    for row in r["awkward"]:
        cells = " | ".join(f"{t['s']:.3f} | **{t['ratio']:.2f}×**" for t in row["hepq"])
        lines.append(f"| {row['file']} | {row['branches']} | {row['uproot_s']:.3f} | {cells} |")
    lines += [
        "",
        f"## A {r['rows']:,}-row result into pyarrow",
        "",
        "`rel.arrow()` against DuckDB's `.arrow()` (read into a `pyarrow.Table`), the same thread "
        "count for both. Results checked equal (row count, column sums). Target: hepq at least "
        "as fast (DuckDB / hepq ≥ 1).",
        "",
        "| query | threads | hepq s | DuckDB s | **DuckDB / hepq** |",
        "|---|---|---|---|---|",
    ]
    for row in r["rows_to_pyarrow"]:
        lines.append(f"| {row['query']} | {row['threads']} | {row['hepq_s']:.3f} | "
                     f"{row['duckdb_s']:.3f} | **{row['ratio']:.2f}** |")
    lines += ["", "Queries:", ""]
    seen = set()
    for row in r["rows_to_pyarrow"]:
        if row["query"] in seen:
            continue
        seen.add(row["query"])
        lines.append(f"- `{row['query']}`: hepq `{row['hepq_sql']}`; DuckDB `{row['duckdb_sql']}` "
                     "(`t` is the Parquet file in both)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()

    hepq = load_hepq()
    cores = os.cpu_count() or 1
    threads = [1] if cores == 1 else [1, cores]
    result = {"date": time.strftime("%Y-%m-%d"), "machine": versions(), "repeat": args.repeat,
              "events": args.events, "rows": args.rows, "awkward": [], "rows_to_pyarrow": []}
    print("ROOT into awkward", flush=True)
    for codec in args.codecs.split(","):
        path = prepare_root(args.events, codec)
        result["awkward"].append(root_to_awkward(hepq, path, args.repeat, threads))
    print(f"{args.rows:,} rows into pyarrow", flush=True)
    rows_path = prepare_rows(args.rows)
    result["rows_to_pyarrow"] = rows_to_pyarrow(hepq, rows_path, args.rows, args.repeat, threads)

    args.out.write_text(render(result))
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
