#!/usr/bin/env python3
"""Builds scaled benchmark inputs by replicating the 1000 real CMS open-data events.

The ADL paper made its larger inputs the same way. The output is a NanoAOD-style TTree `Events`
with every branch of ../shared/testdata/cms-opendata/Run2012B_SingleMu_1000.root: the scalars,
and each jagged collection as a counter branch (`nJet`) plus leaf-list branches (`Jet_pt[nJet]`).
uproot writes it, so the files are independent of hepq's own writer.

Memory stays bounded: the events are written in chunks of `--basket-entries` (one basket per
branch per chunk), whatever the total.

    python bench/prepare.py --events 1000000 --codec zstd --out data/events-1M-zstd.root
    python bench/prepare.py --events 1000000 --parquet --out data/events-1M.parquet
    python bench/prepare.py --events 1000000 --rntuple --codec zstd --out data/events-1M-zstd.rntuple.root
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"

CODECS = {
    # ROOT's usual settings: zlib and lz4 at level 1/4, zstd at 5 (ROOT 6.30's default, 505).
    "zlib": lambda: uproot.ZLIB(1),
    "lz4": lambda: uproot.LZ4(4),
    "zstd": lambda: uproot.ZSTD(5),
    "lzma": lambda: uproot.LZMA(8),
    "none": lambda: None,
}


def load_source(path: Path) -> dict:
    """The source events as {name: array}; jagged collections zipped as records by prefix."""
    tree = uproot.open(path)["Events"]
    arrays = tree.arrays(library="ak")
    out: dict = {}
    collections: dict[str, dict] = {}
    for name in arrays.fields:
        column = arrays[name]
        if name.startswith("n") and name[1:] in {f.split("_", 1)[0] for f in arrays.fields if "_" in f}:
            continue  # counters are rewritten by uproot from the zipped collection
        if column.ndim > 1:
            prefix, member = name.split("_", 1)
            collections.setdefault(prefix, {})[member] = column
        else:
            out[name] = ak.to_numpy(column)
    for prefix, members in collections.items():
        out[prefix] = ak.zip(members)
    return out


def replicate(source: dict, copies: int) -> dict:
    out = {}
    for name, column in source.items():
        if isinstance(column, np.ndarray):
            out[name] = np.tile(column, copies)
        else:
            out[name] = ak.concatenate([column] * copies)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, required=True, help="number of events (a multiple of 1000)")
    parser.add_argument("--codec", choices=sorted(CODECS), default="zstd")
    parser.add_argument("--parquet", action="store_true", help="write Parquet (zstd) instead of ROOT")
    parser.add_argument("--rntuple", action="store_true", help="write an RNTuple (one field per branch) instead of a TTree")
    parser.add_argument("--basket-entries", type=int, default=50_000, help="events per basket / row group")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    source = load_source(args.source)
    n_source = len(next(iter(source.values())))
    chunk = max(n_source, (args.basket_entries // n_source) * n_source)
    chunk_data = replicate(source, chunk // n_source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".partial")
    started = time.time()
    written = 0
    if args.parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = {}
        for name, column in chunk_data.items():
            if isinstance(column, np.ndarray):
                flat[name] = column
            else:
                for member in column.fields:
                    flat[f"{name}_{member}"] = column[member]
        table = pa.table({k: ak.to_arrow(v) if not isinstance(v, np.ndarray) else pa.array(v) for k, v in flat.items()})
        with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
            while written < args.events:
                n = min(chunk, args.events - written)
                writer.write_table(table.slice(0, n), row_group_size=n)
                written += n
    elif args.rntuple:
        flat = {}
        for name, column in chunk_data.items():
            if isinstance(column, np.ndarray):
                flat[name] = column
            else:
                for member in column.fields:
                    flat[f"{name}_{member}"] = column[member]
        with uproot.recreate(tmp, compression=CODECS[args.codec]()) as f:
            first = True
            while written < args.events:
                n = min(chunk, args.events - written)
                part = {k: v[:n] for k, v in flat.items()}
                if first:
                    f["Events"] = part  # a dict assignment writes an RNTuple; extend adds clusters
                    first = False
                else:
                    f["Events"].extend(part)
                written += n
    else:
        with uproot.recreate(tmp, compression=CODECS[args.codec]()) as f:
            first = True
            while written < args.events:
                n = min(chunk, args.events - written)
                part = {k: v[:n] for k, v in chunk_data.items()}
                if first:
                    # mktree + extend write a TTree (assigning a dict would write an RNTuple).
                    types = {k: (v.dtype if isinstance(v, np.ndarray) else v.type.content) for k, v in part.items()}
                    f.mktree("Events", types)
                    first = False
                f["Events"].extend(part)
                written += n
    os.replace(tmp, args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({written} events, {size / 1e6:.1f} MB) in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
