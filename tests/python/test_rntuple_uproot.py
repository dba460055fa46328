"""Differential test of the RNTuple decoder (crate hepq-rntuple) against uproot.

For every RNTuple in ../shared/testdata/scikit-hep-testdata/*rntuple*.root (written by ROOT
6.34-6.38) and in RNTuples that uproot writes at test time (every codec uproot can write, empty
lists, several clusters), `rntuple_dump FILE NAME --out x.arrow` writes every top-level field
hepq-rntuple supports; each must equal uproot's `arrays()` exactly (NaN-aware, lists, records,
variants and strings included). A coverage table (RNTuples × fields: equal / unsupported / wrong)
is printed and written to target/rntuple-coverage.txt. Fields that uproot itself cannot read are
reported but not counted against hepq.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

from conftest import REPO_ROOT, skip_or_fail

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

TESTDATA = REPO_ROOT.parent / "shared" / "testdata" / "scikit-hep-testdata"
ANCHOR = "ROOT::RNTuple"
PRIMITIVE = re.compile(r"^(Boolean|U?Int(8|16|32|64)|Float(32|64))$")


def rntuple_dump() -> Path:
    env = os.environ.get("HEPQ_RNTUPLE_DUMP")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "examples" / "rntuple_dump"
    if not path.exists():
        skip_or_fail(f"rntuple_dump not built at {path} (cargo build -p hepq-rntuple --examples)")
    return path


def normalise(v):
    """Our Arrow values as uproot names them: tuple/pair members `_0`, `_1` become `0`, `1`."""
    if isinstance(v, dict):
        return {(k[1:] if re.fullmatch(r"_[0-9]+", k) else k): normalise(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalise(x) for x in v]
    return v


def ref_normalise(v):
    """uproot's values with tuples (awkward's unnamed records: std::pair, std::tuple and empty
    classes) as records keyed `0`, `1`, ..., as our Arrow structs name them."""
    if isinstance(v, tuple):
        return {str(i): ref_normalise(x) for i, x in enumerate(v)}
    if isinstance(v, dict):
        return {k: ref_normalise(x) for k, x in v.items()}
    if isinstance(v, list):
        return [ref_normalise(x) for x in v]
    return v


def same(a, b) -> bool:
    """Exact equality of nested Python values, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def first_difference(ours: list, ref: list) -> str:
    if len(ours) != len(ref):
        return f"{len(ours)} rows, uproot has {len(ref)}"
    for i, (x, y) in enumerate(zip(ours, ref)):
        if not same(x, y):
            return f"entry {i}: hepq {str(x)[:200]} vs uproot {str(y)[:200]}"
    return "?"


def equal_column(ours: pa.ChunkedArray, ref) -> tuple[bool, str]:
    """Compares one of our columns with uproot's awkward array for the same field."""
    if PRIMITIVE.match(str(ours.type).capitalize().replace("Bool", "Boolean").replace("Booleanean", "Boolean")) or str(ours.type) in (
        "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float", "double",
    ):
        a = ours.to_numpy()
        b = ak.to_numpy(ref)
        if a.shape != b.shape:
            return False, f"{a.shape} values, uproot has {b.shape}"
        if a.dtype.kind == "f":
            ok = np.array_equal(a.astype(b.dtype) if a.dtype != b.dtype else a, b, equal_nan=True) and a.dtype == b.dtype
        elif a.dtype.kind == "b" or b.dtype.kind == "b":
            ok = a.dtype == b.dtype and np.array_equal(a, b)
        elif a.dtype == b.dtype:
            ok = np.array_equal(a, b)
        else:  # char is Int8 here and uint8 in uproot
            ok = np.array_equal(a.astype(np.int64), b.astype(np.int64))
        if ok:
            return True, ""
        bad = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a != b))
        i = int(bad[0]) if len(bad) else 0
        return False, f"entry {i}: hepq {a[i]!r} vs uproot {b[i]!r} ({a.dtype} vs {b.dtype})"
    ours_list = normalise(ours.to_pylist())
    ref_list = ref_normalise(ak.to_list(ref))
    if same(ours_list, ref_list):
        return True, ""
    return False, first_difference(ours_list, ref_list)


def ntuple_names(path: Path) -> list[str] | str:
    try:
        f = uproot.open(path)
        return [k for k, c in f.classnames(cycle=False).items() if c == ANCHOR]
    except Exception as e:  # the reference itself cannot read the file
        return f"{type(e).__name__}: {e}"[:200]


def compare_file(
    binary: Path, path: Path, tmp: Path, results: Counter, wrong: list, notes: list, written=None
):
    """`written`: for generated files, the data that was written, by field: where uproot's reader
    disagrees with it but hepq agrees, uproot is wrong and the field counts as equal (noted)."""
    names = ntuple_names(path)
    if isinstance(names, str):
        notes.append(f"{path.name}: uproot cannot open it ({names}); not counted")
        return
    for name in names:
        label = f"{path.name}:{name}"
        out = tmp / "out.arrow"
        if out.exists():
            out.unlink()
        run = subprocess.run(
            [str(binary), str(path), name, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if run.returncode != 0 or "panicked" in run.stderr:
            wrong.append(f"{label}: rntuple_dump failed: {run.stderr.strip()[-400:]}")
            results[(label, "wrong")] += 1
            continue
        info = json.loads(run.stdout)
        table = pa.ipc.open_file(pa.memory_map(str(out))).read_all()
        nt = uproot.open(path)[name]
        if info["entries"] != nt.num_entries:
            wrong.append(f"{label}: {info['entries']} entries, uproot has {nt.num_entries}")
        starts = [c.num_first_entry for c in nt.cluster_summaries]
        if info["clusters"] != starts:
            wrong.append(f"{label}: cluster starts {info['clusters'][:10]}, uproot has {starts[:10]}")
        for f in info["fields"]:
            where = f"{label}:{f['name']}"
            try:
                # one field at a time: uproot's arrays() over hundreds of fields is far slower
                ref = nt[f["name"]].array()
            except Exception as e:
                results[(label, "ref-error")] += 1
                if f["unsupported"] is None:
                    notes.append(f"{where}: uproot cannot read it ({type(e).__name__}); hepq can")
                continue
            if f["unsupported"] is not None:
                results[(label, "unsupported")] += 1
                notes.append(f"{where} ({f['type_name']}): unsupported: {f['unsupported'][:200]}")
                continue
            if f["read_error"] is not None:
                results[(label, "wrong")] += 1
                wrong.append(f"{where}: hepq could not read it: {f['read_error'][:300]}")
                continue
            ok, why = equal_column(table.column(f["column_index"]), ref)
            if not ok and written is not None and f["name"] in written:
                ours = normalise(table.column(f["column_index"]).to_pylist())
                if same(ours, ref_normalise(written[f["name"]])):
                    notes.append(f"{where}: uproot's reader differs from the data written ({why}); hepq matches the data")
                    ok = True
            if ok:
                results[(label, "equal")] += 1
            else:
                results[(label, "wrong")] += 1
                wrong.append(f"{where} ({f['type_name']}): {why}")


def report(title: str, results: Counter, wrong: list, notes: list) -> str:
    files = sorted({f for f, _ in results})
    kinds = ("equal", "unsupported", "wrong", "ref-error")
    lines = [
        f"== {title}: RNTuple coverage (top-level fields) ==",
        "file:ntuple".ljust(72) + "".join(k.rjust(12) for k in kinds),
    ]
    for f in files:
        lines.append(f[-72:].ljust(72) + "".join(str(results[(f, k)]).rjust(12) for k in kinds))
    totals = {k: sum(results[(f, k)] for f in files) for k in kinds}
    lines.append("TOTAL".ljust(72) + "".join(str(totals[k]).rjust(12) for k in kinds))
    data = totals["equal"] + totals["unsupported"] + totals["wrong"]
    if data:
        lines.append(f"equal: {totals['equal']}/{data} = {100 * totals['equal'] / data:.1f}% of fields")
    lines += [f"note: {n}" for n in notes[:200]]
    lines += [f"WRONG: {w}" for w in wrong[:200]]
    return "\n".join(lines)


def run_suite(title, files, tmp_path, capsys) -> str:
    binary = rntuple_dump()
    results: Counter = Counter()
    wrong: list = []
    notes: list = []
    import time
    for f in files:
        t0 = time.time()
        f, written = f if isinstance(f, tuple) else (f, None)
        compare_file(binary, f, tmp_path, results, wrong, notes, written)
        if os.environ.get("HEPQ_TIMING"):
            print(f"{time.time() - t0:6.1f}s {f.name}")
    text = report(title, results, wrong, notes)
    with capsys.disabled():
        print("\n" + text)
    assert sum(v for (f, k), v in results.items() if k == "equal") > 0, "nothing was compared"
    assert not wrong, f"{len(wrong)} fields differ from uproot:\n" + "\n".join(wrong[:80])
    return text


def write_coverage(title: str, text: str):
    (REPO_ROOT / "target").mkdir(exist_ok=True)
    path = REPO_ROOT / "target" / "rntuple-coverage.txt"
    old = path.read_text() if path.exists() else ""
    # one section per suite, replaced on each run
    sections = [s.strip() for s in old.split("\n\n")]
    sections = [s for s in sections if s and not s.startswith(f"== {title}:")]
    path.write_text("\n\n".join(sections + [text]) + "\n")


def test_testdata_matches_uproot(tmp_path, capsys):
    files = sorted(TESTDATA.glob("*rntuple*.root"))
    if not files:
        skip_or_fail(f"no RNTuple test data under {TESTDATA}")
    text = ""
    try:
        text = run_suite("testdata", files, tmp_path, capsys)
    finally:
        if text:
            write_coverage("testdata", text)


def generate(out_dir: Path) -> list[tuple[Path, dict]]:
    """RNTuples written by uproot: every codec it writes, empty lists, several clusters; each
    with the values written, by field."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = 2000

    def chunk(start: int, size: int) -> dict:
        counts = rng.integers(0, 5, size)
        counts[::7] = 0  # empty lists
        flat = rng.normal(size=int(counts.sum()))
        return {
            "i32": np.arange(start, start + size, dtype=np.int32),
            "i64": (np.arange(start, start + size, dtype=np.int64) - 1000) * 3_000_000_007,
            "u16": (np.arange(start, start + size) % 65535).astype(np.uint16),
            "i8": (np.arange(start, start + size) % 200 - 100).astype(np.int8),
            "f32": rng.normal(size=size).astype(np.float32),
            "f64": np.where(np.arange(size) % 11 == 0, np.nan, rng.normal(size=size)),
            "flag": np.arange(start, start + size) % 3 == 0,
            "jets": ak.unflatten(flat.astype(np.float32), counts),
            "nested": ak.unflatten(ak.unflatten(np.arange(int(counts.sum()) * 2, dtype=np.int32), np.repeat(2, int(counts.sum()))), counts),
            "muons": ak.zip({"pt": ak.unflatten(flat, counts), "q": ak.unflatten((np.arange(int(counts.sum())) % 2 * 2 - 1).astype(np.int32), counts)}),
            "u8": (np.arange(start, start + size) % 256).astype(np.uint8),
            "name": tile(["a", "bc", "", "déjà vu"], size),
            "maybe": tile([1.5, None, 3.0, float("nan")], size),
            "maybe_list": tile([[1, 2], None, []], size),
            "bits": tile([[True, False], [], [True]], size),
            "words": tile([["x", "yy"], [], ["z"]], size),
            "fixed": ak.to_regular(ak.Array(np.arange(start, start + size * 3, dtype=np.float64).reshape(size, 3).tolist()), axis=1),
            "pair": ak.zip((np.arange(start, start + size), np.arange(size) * 2.0)),
            "either": tile([1, "a", 2.5], size),
        }

    def tile(pattern: list, size: int):
        return ak.Array((pattern * (size // len(pattern) + 1))[:size])

    codecs = {
        "none": None,
        "zlib": uproot.ZLIB(4),
        "lzma": uproot.LZMA(2),
        "lz4": uproot.LZ4(4),
        "zstd": uproot.ZSTD(5),
    }
    files = []
    for name, codec in codecs.items():
        p = out_dir / f"uproot_{name}.root"
        chunks = [chunk(0, n)] + [chunk(k * n, n // (k + 1)) for k in range(1, 4)]
        with uproot.recreate(p, compression=codec) as f:
            f["events"] = chunks[0]
            # several clusters: each extend writes a new cluster
            for c in chunks[1:]:
                f["events"].extend(c)
        written = {k: sum((ak.to_list(c[k]) for c in chunks), []) for k in chunks[0]}
        files.append((p, written))
    return files


def test_generated_rntuples_match_uproot(tmp_path, capsys):
    files = generate(tmp_path / "fixtures")
    text = ""
    try:
        text = run_suite("generated", files, tmp_path, capsys)
    finally:
        if text:
            write_coverage("generated", text)


def test_unsupported_and_missing_are_clear_errors(tmp_path):
    binary = rntuple_dump()
    path = TESTDATA / "rntviewer-testfile-multiple-rntuples-v1-0-0-0.root"
    if not path.exists():
        skip_or_fail(f"{path} is missing")
    run = subprocess.run([str(binary), str(path), "nope"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "no RNTuple" in run.stderr and "A, B" in run.stderr, run.stderr
    # truncated copy: an error naming the file, never a crash
    data = path.read_bytes()
    bad = tmp_path / "truncated.root"
    bad.write_bytes(data[: len(data) - 300])
    run = subprocess.run([str(binary), str(bad), "A", "--out", str(tmp_path / "x.arrow")], capture_output=True, text=True)
    assert "panicked" not in run.stderr
    assert run.returncode != 0 or '"read_error"' in run.stdout
