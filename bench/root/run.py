#!/usr/bin/env python3
"""ROOT TTree reader benchmark: hepq-root against uproot, side by side in one run.

What it measures, on the same machine, the same files and the same branches (warm page cache,
one untimed run first, then the median of --repeat runs):

* uproot 5 `tree.arrays(filter_name=["Jet_*", "Muon_*"])` (one thread: uproot decompresses
  serially by default) against hepq-root reading the same branches into Arrow with 1 thread,
  for zlib, lz4 and zstd files of --events NanoAOD-like events (bench/prepare.py);
* hepq-root with 2 threads against 1 thread;
* hepq-root's read against the raw fetch + decompression of the same baskets into memory
  (`Tree::load_baskets`), the physical limit of any reader;
* peak memory (max RSS) of a full-file SQL aggregation through the `hepq` CLI at --events and at
  10x --events: a streaming scan keeps it flat.

    python bench/root/run.py                 # 1M events, writes bench/root/RESULTS.md
    python bench/root/run.py --events 100000 --repeat 3 --no-memory   # a quick look

Inputs are cached in bench/data/ (not committed). The hepq-root timings come from the release
binary `root_read_bench` (bench/src/bin, built here with `cargo build --release`).
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = Path(os.environ.get("HEPQ_BENCH_DATA", REPO / "bench" / "data"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
PATTERNS = ["Jet_*", "Muon_*"]
CODECS = ["zlib", "lz4", "zstd"]


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def prepare(events: int, codec: str, rntuple: bool = False) -> Path:
    path = DATA / f"events-{label(events)}-{codec}{'.rntuple' if rntuple else ''}.root"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "prepare.py"), "--events", str(events),
             "--codec", codec, "--out", str(path), *(["--rntuple"] if rntuple else [])],
            check=True,
        )
    return path


def build_bench() -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "hepq-bench", "--no-default-features",
         "--bin", "root_read_bench"],
        cwd=REPO, check=True,
    )
    return TARGET / "release" / "root_read_bench"


def time_uproot(path: Path, repeat: int) -> list[float]:
    import uproot

    def once():
        with uproot.open(path) as f:
            arrays = f["Events"].arrays(filter_name=PATTERNS)
            assert len(arrays) > 0
        return arrays

    once()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return times


def time_hepq(binary: Path, path: Path, repeat: int, threads: list[int]) -> list[dict]:
    out = subprocess.run(
        [str(binary), str(path), "--branches", ",".join(PATTERNS),
         "--threads", ",".join(map(str, threads)), "--repeat", str(repeat)],
        check=True, capture_output=True, text=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def peak_rss(cmd: list[str]) -> tuple[int, float, str]:
    """Max RSS in bytes of `cmd`, its wall time and its stdout.

    `ru_maxrss` of RUSAGE_CHILDREN is the maximum over every child a process ever had, so each
    measurement runs `cmd` from a fresh wrapper process that reports its only child's figure.
    """
    wrapper = (
        "import resource,subprocess,sys;"
        "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "sys.stderr.write(p.stderr);print(p.returncode);print(p.stdout.strip());"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if lines[0] != "0":
        raise RuntimeError(f"{cmd} failed: {done.stderr}")
    return int(lines[-1]) * 1024, wall, "\n".join(lines[1:-1])


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import uproot, awkward  # noqa: E401

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "uproot": uproot.__version__,
        "awkward": awkward.__version__,
        "system": platform.platform(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--no-memory", action="store_true", help="skip the SQL peak-memory measurement")
    parser.add_argument("--no-rntuple", action="store_true", help="skip the RNTuple reads")
    parser.add_argument("--hepq", type=Path, default=None, help="hepq CLI for the memory measurement")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)

    binary = build_bench()
    rows = []
    for codec in args.codecs.split(","):
        path = prepare(args.events, codec)
        up = time_uproot(path, args.repeat)
        hq = time_hepq(binary, path, args.repeat, [1, 2])
        by = {(r["mode"], r["threads"]): r for r in hq}
        row = {
            "codec": codec,
            "file": str(path),
            "file_bytes": path.stat().st_size,
            "entries": by[("read", 1)]["entries"],
            "branches": by[("read", 1)]["branches"],
            "compressed_bytes": by[("read", 1)]["compressed_bytes"],
            "uncompressed_bytes": by[("read", 1)]["uncompressed_bytes"],
            "uproot_s": statistics.median(up),
            "uproot_times_s": up,
            "hepq_1t_s": by[("read", 1)]["median_s"],
            "hepq_2t_s": by[("read", 2)]["median_s"],
            "decompress_1t_s": by[("decompress", 1)]["median_s"],
            "decompress_2t_s": by[("decompress", 2)]["median_s"],
            "hepq_runs": hq,
        }
        row["speedup_vs_uproot_1t"] = row["uproot_s"] / row["hepq_1t_s"]
        row["scaling_2t"] = row["hepq_1t_s"] / row["hepq_2t_s"]
        row["fraction_of_decompression_1t"] = row["decompress_1t_s"] / row["hepq_1t_s"]
        row["fraction_of_decompression_2t"] = row["decompress_2t_s"] / row["hepq_2t_s"]
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("runs") and not k.endswith("times_s")}))

    ntuples = []
    if not args.no_rntuple:
        path = prepare(args.events, "zstd", rntuple=True)
        up = time_uproot(path, args.repeat)
        out = subprocess.run(
            [str(binary), str(path), "--branches", ",".join(PATTERNS), "--threads", "1,2",
             "--modes", "read", "--repeat", str(args.repeat)],
            check=True, capture_output=True, text=True,
        ).stdout
        by = {r["threads"]: r for r in map(json.loads, out.splitlines())}
        row = {"codec": "zstd", "file": str(path), "file_bytes": path.stat().st_size,
               "entries": by[1]["entries"], "fields": by[1]["branches"],
               "uproot_s": statistics.median(up), "uproot_times_s": up,
               "hepq_1t_s": by[1]["median_s"], "hepq_2t_s": by[2]["median_s"]}
        row["speedup_vs_uproot_1t"] = row["uproot_s"] / row["hepq_1t_s"]
        row["scaling_2t"] = row["hepq_1t_s"] / row["hepq_2t_s"]
        ntuples.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("times_s")}))

    memory = []
    if not args.no_memory:
        hepq = args.hepq
        if hepq is None:
            release = TARGET / "release" / "hepq"
            hepq = release if release.exists() else TARGET / "debug" / "hepq"
        for n in (args.events, 10 * args.events):
            path = prepare(n, "zstd")
            query = (
                "SELECT count(*) AS events, sum(MET_pt) AS met, sum(list_sum(Jet_pt)) AS jet_pt, "
                "sum(list_sum(Muon_pt)) AS muon_pt FROM events"
            )
            rss, wall, out = peak_rss(
                [str(hepq), "sql", "--register", f"events={path}", "-c", query, "--format", "csv"]
            )
            memory.append({"events": n, "file": str(path), "peak_rss_bytes": rss, "wall_s": wall,
                           "hepq": str(hepq), "result": out})
            print(json.dumps(memory[-1]))

    result = {"machine": machine(), "events": args.events, "repeat": args.repeat, "reads": rows,
              "rntuple_reads": ntuples, "memory": memory}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.write_text(render(result))
    print(f"wrote {args.out}")
    return 0


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# ROOT TTree reader benchmark",
        "",
        f"Generated by `python bench/root/run.py` on {time.strftime('%Y-%m-%d')}; raw figures in "
        "`RESULTS.json`. Machine: " + f"{m['cpu']}, {m['cores']} cores; Python {m['python']}, "
        f"uproot {m['uproot']}, awkward {m['awkward']}.",
        "",
        f"Input: {r['events']:,} NanoAOD-like events (the 1000 CMS open-data events replicated, "
        "`bench/prepare.py`, written by uproot), all `Jet_*` and `Muon_*` branches into Arrow "
        "(hepq-root) or awkward (uproot `tree.arrays()`). Warm cache; median of "
        f"{r['repeat']} runs after one untimed run. *Raw decompression* fetches and decompresses "
        "every basket of the same branches into memory that is held until the run ends, as a "
        "read's output is (`Tree::load_baskets`: no entry-offset parsing, no decoding) — the "
        "physical limit of a reader. Ratios above 1 are better for hepq.",
        "",
        "| codec | branches | compressed MB | uncompressed MB | uproot 1 thread s | hepq 1 thread s | "
        "**uproot / hepq** (target ≥ 2) | hepq 2 threads s | **1t / 2t** (target ≥ 1.8) | "
        "raw decompression 1t s | **decompression / read, 1t** (target ≥ 0.8) | same, 2t |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["reads"]:
        lines.append(
            f"| {x['codec']} | {x['branches']} | {x['compressed_bytes'] / 1e6:.1f} | "
            f"{x['uncompressed_bytes'] / 1e6:.1f} | {x['uproot_s']:.3f} | {x['hepq_1t_s']:.3f} | "
            f"**{x['speedup_vs_uproot_1t']:.2f}×** | {x['hepq_2t_s']:.3f} | **{x['scaling_2t']:.2f}×** | "
            f"{x['decompress_1t_s']:.3f} | **{x['fraction_of_decompression_1t']:.2f}** | "
            f"{x['fraction_of_decompression_2t']:.2f} |"
        )
    if r.get("rntuple_reads"):
        lines += [
            "",
            "The same events as an RNTuple (zstd, one field per branch, written by uproot), the "
            "`Jet_*` and `Muon_*` fields (hepq-rntuple against uproot's RNTuple reader):",
            "",
            "| codec | fields | file MB | uproot 1 thread s | hepq 1 thread s | **uproot / hepq** (target ≥ 2) "
            "| hepq 2 threads s | **1t / 2t** |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for x in r["rntuple_reads"]:
            lines.append(
                f"| {x['codec']} | {x['fields']} | {x['file_bytes'] / 1e6:.1f} | {x['uproot_s']:.3f} | "
                f"{x['hepq_1t_s']:.3f} | **{x['speedup_vs_uproot_1t']:.2f}×** | {x['hepq_2t_s']:.3f} | "
                f"**{x['scaling_2t']:.2f}×** |"
            )
    if r["memory"]:
        lines += [
            "",
            "Streaming: peak resident memory of `hepq sql` running a full-file aggregation "
            "(`count(*)`, `sum(MET_pt)`, `sum(list_sum(Jet_pt))`, `sum(list_sum(Muon_pt))`) over "
            "one zstd file:",
            "",
            "| events | peak RSS MB | wall s | binary |",
            "|---|---|---|---|",
        ]
        for x in r["memory"]:
            lines.append(
                f"| {x['events']:,} | {x['peak_rss_bytes'] / 1e6:.0f} | {x['wall_s']:.1f} | "
                f"`{Path(x['hepq']).relative_to(REPO) if Path(x['hepq']).is_relative_to(REPO) else x['hepq']}` |"
            )
        a, b = r["memory"][0]["peak_rss_bytes"], r["memory"][-1]["peak_rss_bytes"]
        lines += ["", f"Peak memory at {r['memory'][-1]['events']:,} / at {r['memory'][0]['events']:,} events: "
                  f"**{b / a:.2f}** (target: within 20%, i.e. ≤ 1.2)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
