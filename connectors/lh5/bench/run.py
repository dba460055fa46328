"""Reader benchmark: hepq-lh5 into Arrow vs legend-lh5io's `lh5.read` into LGDO tables.

For each tier (dsp, hit) the same tables of the same files are read: every `ch*/{tier}` table
of every LH5 file of that tier in ../shared/testdata/legend-testdata, all columns, best of N
runs each (files in the page cache). hepq runs the release-built `lh5_read_bench` example:

    cargo build --release -p hepq-lh5 --example lh5_read_bench
    .venv/bin/python connectors/lh5/bench/run.py [--repeat 5]

Writes connectors/lh5/bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DATA = REPO.parent / "shared" / "testdata" / "legend-testdata" / "lh5"
BIN = REPO / "target" / "release" / "examples" / "lh5_read_bench"


def lh5_read(tier: str, files: list[Path], repeat: int) -> dict:
    import lh5

    best = float("inf")
    rows = tables = columns = 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = tables = columns = 0
        for f in files:
            for ch in lh5.ls(str(f)):
                if not ch.startswith("ch"):
                    continue
                t = lh5.read(f"{ch}/{tier}", str(f))
                rows += len(t)
                columns += len(t.keys())
                tables += 1
        best = min(best, time.perf_counter() - start)
    return {"reader": "lh5.read", "tier": tier, "files": len(files), "tables": tables,
            "columns": columns, "rows": rows, "seconds": best}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    results = []
    for tier in ["dsp", "hit"]:
        files = sorted(DATA.rglob(f"*-tier_{tier}.lh5"))
        out = subprocess.run([str(BIN), "--repeat", str(args.repeat), tier, *map(str, files)],
                             capture_output=True, text=True, check=True)
        ours = json.loads(out.stdout)
        lh5_read(tier, files, 1)  # warm-up: numba compilation, imports
        ref = lh5_read(tier, files, args.repeat)
        assert (ours["tables"], ours["rows"]) == (ref["tables"], ref["rows"]), (ours, ref)
        results.append((tier, ours, ref))
    lines = [
        "# LH5 reader benchmark",
        "",
        f"`connectors/lh5/bench/run.py --repeat {args.repeat}` on {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}; best of "
        f"{args.repeat} runs, page cache warm, one thread each.",
        "",
        "| tier | files | tables | columns | rows | hepq-lh5 → Arrow (s) | lh5.read → LGDO (s) | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tier, ours, ref in results:
        lines.append(
            f"| {tier} | {ours['files']} | {ours['tables']} | {ours['columns']} | {ours['rows']} | "
            f"{ours['seconds']:.4f} | {ref['seconds']:.4f} | {ref['seconds'] / ours['seconds']:.1f}× |"
        )
    lines += ["", "The test files are small (10–1000 rows per table): this measures metadata",
              "handling and per-dataset overhead more than bulk decoding."]
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
