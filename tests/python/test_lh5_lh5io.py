"""hepq's LH5 decoder against legend-lh5io, the LEGEND reference reader.

For every LH5 file in ../shared/testdata/legend-testdata, the `lh5_dump` example (hepq-lh5)
prints every LH5 object that is not a struct or table (arrays, equal-sized arrays, vectors of
vectors, encoded waveforms, scalars) with its decoded values and `units`; each is compared,
value by value, with `lh5.read(path, file)` (waveforms decoded by legend-lh5io's own codecs).
Tables are checked too: `lh5_dump --tables` lists each table's columns, and every column
legend-lh5io reads must be there or be reported unsupported with a reason.

A coverage table (objects equal / unsupported / wrong per file) is printed and written to
target/lh5-coverage.txt. Any wrong value fails the test; so does a missing reference or
missing data under CI=true (see conftest.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO_ROOT, skip_or_fail

TESTDATA = REPO_ROOT.parent / "shared" / "testdata" / "legend-testdata" / "lh5"


def lh5_files() -> list[Path]:
    files = sorted(TESTDATA.rglob("*.lh5"))
    if not files:
        skip_or_fail(f"no LH5 test data under {TESTDATA}")
    return files


def lh5_dump() -> Path:
    env = os.environ.get("HEPQ_LH5_DUMP")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "examples" / "lh5_dump"
    if not path.exists():
        skip_or_fail(f"lh5_dump not built at {path} (cargo build -p hepq-lh5 --examples)")
    return path


def reference():
    try:
        import h5py  # noqa: F401
        import lh5
        import lgdo
    except ImportError as e:  # pragma: no cover - the reference is pinned in requirements
        skip_or_fail(f"legend-lh5io / legend-pydataobj not installed: {e}")
    return lh5, lgdo


def py(v):
    """A reference value as plain Python (bytes decoded, numpy scalars unwrapped)."""
    if isinstance(v, bytes):
        return v.decode()
    if hasattr(v, "tolist"):
        return py(v.tolist())
    if isinstance(v, (list, tuple)):
        return [py(x) for x in v]
    return v


def ref_values(obj, lgdo) -> list:
    """An LGDO as the list of its rows, the shape lh5_dump prints."""
    t = lgdo.types
    if isinstance(obj, t.VectorOfVectors):
        flat = ref_values(obj.flattened_data, lgdo)
        cl = [int(c) for c in obj.cumulative_length.nda]
        out, start = [], 0
        for c in cl:
            out.append(flat[start:c])
            start = c
        return out
    if isinstance(obj, t.Scalar):
        return [py(obj.value)]
    if hasattr(obj, "nda"):
        return py(obj.nda)
    raise TypeError(f"no reference rule for {type(obj).__name__}")


def ours_value(v):
    """lh5_dump's encoding of non-finite floats back to floats."""
    if v == "NaN":
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return v


def same(a, b) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b))
        )
    a = ours_value(a)
    if isinstance(b, bool) or isinstance(a, bool):
        return bool(a) == bool(b)
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return (math.isnan(a) and math.isnan(b)) or a == b
        return False
    return a == b


def first_difference(ours: list, ref: list) -> str:
    if len(ours) != len(ref):
        return f"{len(ours)} rows, reference {len(ref)}"
    for i, (a, b) in enumerate(zip(ours, ref)):
        if not same(a, b):
            return f"row {i}: hepq {str(a)[:120]} reference {str(b)[:120]}"
    return "?"


def dump(binary: Path, args: list[str]) -> list[dict]:
    out = subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, f"lh5_dump {args} failed: {out.stderr[-2000:]}"
    return [json.loads(line) for line in out.stdout.splitlines()]


def compare_file(binary, path: Path, results: Counter, wrong: list, notes: list) -> None:
    lh5, lgdo = reference()
    label = str(path.relative_to(TESTDATA))
    for o in dump(binary, [str(path)]):
        where = f"{label}:{o['path']}"
        try:
            ref = lh5.read(o["path"], str(path))
        except Exception as e:  # the reference cannot read it either
            results[(label, "ref-error")] += 1
            notes.append(f"{where}: legend-lh5io: {type(e).__name__}: {e}")
            continue
        if "error" in o:
            results[(label, "unsupported")] += 1
            notes.append(f"{where} ({o['datatype']}): {o['error']}")
            continue
        expected = ref_values(ref, lgdo)
        ref_units = py(ref.attrs.get("units")) if hasattr(ref, "attrs") else None
        if not same(o["values"], expected):
            results[(label, "wrong")] += 1
            wrong.append(f"{where} ({o['datatype']}): {first_difference(o['values'], expected)}")
        elif (o.get("units") or None) != (ref_units or None):
            results[(label, "wrong")] += 1
            wrong.append(f"{where}: units {o.get('units')!r}, reference {ref_units!r}")
        else:
            results[(label, "equal")] += 1


def report(results: Counter, wrong: list, notes: list) -> str:
    files = sorted({f for f, _ in results})
    kinds = ("equal", "unsupported", "wrong", "ref-error")
    lines = [
        "== LH5 coverage (every non-struct LH5 object vs legend-lh5io) ==",
        "file".ljust(76) + "".join(k.rjust(12) for k in kinds),
    ]
    for f in files:
        lines.append(f[-76:].ljust(76) + "".join(str(results[(f, k)]).rjust(12) for k in kinds))
    totals = {k: sum(results[(f, k)] for f in files) for k in kinds}
    lines.append("TOTAL".ljust(76) + "".join(str(totals[k]).rjust(12) for k in kinds))
    lines += [f"note: {n}" for n in notes[:200]]
    lines += [f"WRONG: {w}" for w in wrong[:200]]
    return "\n".join(lines)


def test_every_lh5_object_matches_legend_lh5io(capsys):
    reference()
    binary = lh5_dump()
    results: Counter = Counter()
    wrong: list = []
    notes: list = []
    for f in lh5_files():
        compare_file(binary, f, results, wrong, notes)
    text = report(results, wrong, notes)
    (REPO_ROOT / "target").mkdir(exist_ok=True)
    (REPO_ROOT / "target" / "lh5-coverage.txt").write_text(text + "\n")
    with capsys.disabled():
        print("\n" + text)
    equal = sum(v for (f, k), v in results.items() if k == "equal")
    assert equal > 1000, f"only {equal} objects compared"
    # Encoded waveforms (radware_sigcompress and uleb128_zigzag_diff) are among them.
    assert not wrong, f"{len(wrong)} objects differ from legend-lh5io:\n" + "\n".join(wrong[:80])


def test_encoded_waveforms_are_compared():
    """The encoded waveform tables of the p14 raw file decode to legend-lh5io's samples."""
    lh5, lgdo = reference()
    binary = lh5_dump()
    files = [f for f in lh5_files() if "p14-r004-cal" in f.name]
    if not files:
        skip_or_fail("the p14 raw file with encoded waveforms is missing")
    objs = {o["path"]: o for o in dump(binary, [str(files[0])])}
    codecs = Counter()
    for p, o in objs.items():
        if o["datatype"].startswith("array_of_encoded_equalsized_arrays"):
            codecs[p.rsplit("/", 2)[-2]] += 1
            ref = lh5.read(p, str(files[0]))
            assert "error" not in o, o.get("error")
            assert same(o["values"], ref_values(ref, lgdo)), p
            assert o["arrow"].startswith("FixedSizeList")
    # windowed waveforms use radware_sigcompress, presummed ones uleb128_zigzag_diff
    assert codecs["waveform_windowed"] >= 1 and codecs["waveform_presummed"] >= 1, codecs


def test_every_table_column_is_read_or_reported(capsys):
    lh5, lgdo = reference()
    binary = lh5_dump()
    missing, tables, columns, unsupported = [], 0, 0, 0
    for f in lh5_files():
        for t in dump(binary, ["--tables", str(f)]):
            assert "error" not in t, t
            tables += 1
            ref = lh5.read(t["table"], str(f))
            ours = set(t["columns"]) | {c for c, _ in t["unsupported"]}
            columns += len(t["columns"])
            unsupported += len(t["unsupported"])
            for c in ref.keys():
                if c not in ours:
                    missing.append(f"{f.name}:{t['table']}/{c}")
            assert t["rows"] == len(ref), f"{f.name}:{t['table']}: {t['rows']} rows vs {len(ref)}"
            for c, reason in t["unsupported"]:
                assert reason, f"{t['table']}/{c} unsupported without a reason"
    with capsys.disabled():
        print(f"\nLH5 tables: {tables}, columns read: {columns}, reported unsupported: {unsupported}")
    assert tables > 50
    assert not missing, "columns neither read nor reported: " + ", ".join(missing[:40])


@pytest.mark.parametrize(
    "mutation",
    ["truncate", "zero-superblock", "flip-bytes"],
)
def test_corrupt_files_give_errors_not_crashes(tmp_path, mutation):
    binary = lh5_dump()
    src = next(f for f in lh5_files() if f.name.endswith("tier_hit.lh5"))
    data = bytearray(src.read_bytes())
    if mutation == "truncate":
        data = data[: len(data) // 3]
    elif mutation == "zero-superblock":
        data[8:64] = bytes(56)
    else:
        for i in range(4096, len(data), 997):
            data[i] ^= 0x5A
    bad = tmp_path / "bad.lh5"
    bad.write_bytes(bytes(data))
    for args in ([str(bad)], ["--tables", str(bad)]):
        out = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=300)
        # exit 0 (errors per object) or 1 (file unreadable); never a panic (101) or a signal
        assert out.returncode in (0, 1), (out.returncode, out.stderr[-2000:])
        assert "panicked" not in out.stderr
        if out.returncode == 1:
            assert "bad.lh5" in out.stderr
