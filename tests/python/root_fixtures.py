"""ROOT fixtures written at test time by uproot (the independent writer) for test_root_uproot.py.

Every codec (zlib, lz4, zstd, lzma, none), many small baskets, empty lists, an empty tree and a
one-entry tree, with every numeric width, bools, fixed-size arrays and jagged leaf-lists.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import uproot

CODECS = {
    "zlib": lambda: uproot.ZLIB(4),
    "lz4": lambda: uproot.LZ4(4),
    "zstd": lambda: uproot.ZSTD(4),
    "lzma": lambda: uproot.LZMA(4),
    "none": lambda: None,
}


def _chunk(rng: np.random.Generator, n: int, start: int) -> dict:
    """One basket's worth of entries of every kind."""
    counts = rng.integers(0, 5, n)
    counts[::7] = 0  # plenty of empty lists
    total = int(counts.sum())
    floats = rng.normal(size=total).astype(np.float32)
    if total:
        floats[0] = np.nan
    return {
        "b_bool": rng.integers(0, 2, n).astype(np.bool_),
        "i8": rng.integers(-128, 127, n).astype(np.int8),
        "u8": rng.integers(0, 255, n).astype(np.uint8),
        "i16": rng.integers(-30000, 30000, n).astype(np.int16),
        "u16": rng.integers(0, 60000, n).astype(np.uint16),
        "i32": (np.arange(start, start + n) * 7 - 3).astype(np.int32),
        "u32": rng.integers(0, 2**32 - 1, n, dtype=np.uint64).astype(np.uint32),
        "i64": rng.integers(-(2**62), 2**62, n).astype(np.int64),
        "u64": rng.integers(0, 2**63, n, dtype=np.uint64),
        "f32": rng.normal(size=n).astype(np.float32),
        "f64": np.where(np.arange(n) % 11 == 3, np.inf, rng.normal(size=n)),
        "fixed3": rng.normal(size=(n, 3)),
        "fixed2x2": rng.integers(0, 100, (n, 2, 2)).astype(np.int32),
        "jet_pt": ak.unflatten(floats, counts),
        "jet_id": ak.unflatten(rng.integers(0, 9, total).astype(np.int64), counts),
        "jet_ok": ak.unflatten(rng.integers(0, 2, total).astype(np.bool_), counts),
    }


def _types(chunk: dict) -> dict:
    """TTree branch types for `mktree` (uproot writes RNTuples for plain assignment)."""
    out = {}
    for k, v in chunk.items():
        if isinstance(v, ak.Array):
            out[k] = "var * " + str(ak.type(v).content.content)
        else:
            out[k] = np.dtype((v.dtype, v.shape[1:]))
    return out


def generate(out_dir: Path) -> list[Path]:
    """Writes the fixture files and returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    rng = np.random.default_rng(20240601)
    for name, codec in CODECS.items():
        path = out_dir / f"gen-{name}.root"
        with uproot.recreate(path, compression=codec()) as f:
            # many small baskets: each extend is one basket per branch
            first = _chunk(rng, 17, 0)
            tree = f.mktree("Events", _types(first))
            tree.extend(first)
            start = 17
            for size in (1, 5, 40, 3, 100, 2):
                tree.extend(_chunk(rng, size, start))
                start += size
            # one entry, and an empty tree with branches but no entries
            one = f.mktree("one", {"x": np.int32, "y": np.float64})
            one.extend({"x": np.array([42], dtype=np.int32), "y": np.array([1.5])})
            f.mktree("empty", {"a": np.int32, "b": np.float64})
            nested = f.mktree("dir/sub/nested", {"z": np.int16})
            nested.extend({"z": np.arange(10, dtype=np.int16)})
        files.append(path)
    # A larger file whose baskets are big (several hundred kB uncompressed).
    path = out_dir / "gen-big-baskets.root"
    with uproot.recreate(path, compression=uproot.ZSTD(1)) as f:
        n = 200_000
        data = {
            "x": np.arange(n, dtype=np.float64),
            "v": ak.unflatten(np.arange(3 * n, dtype=np.float32), np.full(n, 3)),
        }
        f.mktree("Events", _types(data)).extend(data)
    files.append(path)
    return files
