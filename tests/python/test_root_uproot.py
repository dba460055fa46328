"""Differential test of the ROOT decoder (crate hepq-root) against uproot.

For every TTree in ../shared/testdata (scikit-hep-testdata and CMS open data) and in fixtures that
uproot writes at test time (root_fixtures.py), `root_dump FILE TREE --out x.arrow` writes every
branch hepq-root supports; each column must equal `uproot.open(f)[tree][branch].array()` exactly
(NaN-aware, lists and strings included). A coverage table (files × branches: equal / unsupported /
wrong) is printed. Branches that uproot itself cannot read, and files it cannot open, are
reported but not counted against hepq. Split-object parents (groups, no data) are listed apart.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute
import pyarrow.ipc
import pytest

from conftest import REPO_ROOT, skip_or_fail

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

TESTDATA = REPO_ROOT.parent / "shared" / "testdata"
TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")


def root_dump() -> Path:
    env = os.environ.get("HEPQ_ROOT_DUMP")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "examples" / "root_dump"
    if not path.exists():
        skip_or_fail(f"root_dump not built at {path} (cargo build -p hepq-root --examples)")
    return path


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
    if isinstance(a, bytes) and isinstance(b, str):
        return a.decode("utf-8", "replace") == b
    return type(a) is type(b) and a == b


def _flat_numeric(column):
    """(per-entry counts or None, values as numpy) of a primitive or list-of-primitive Arrow
    column; None for other types (compared value by value instead)."""
    import numpy as np

    if column.null_count:
        return None
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    t = column.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        values = column.flatten()
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type)):
            return None
        if values.null_count:
            return None
        counts = np.asarray(pa.compute.list_value_length(column).to_numpy(zero_copy_only=False), dtype=np.int64)
        return counts, values.to_numpy(zero_copy_only=False)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return None, column.to_numpy(zero_copy_only=False)
    return None


def _ref_flat_numeric(ref):
    """The same view of an awkward array from uproot, or None."""
    import numpy as np

    try:
        if ref.ndim == 1:
            values = ak.to_numpy(ref)
            return (None, values) if values.dtype.kind in "biuf" and not np.ma.isMaskedArray(values) else None
        if ref.ndim == 2:
            values = ak.to_numpy(ak.flatten(ref, axis=1))
            if values.dtype.kind not in "biuf" or np.ma.isMaskedArray(values):
                return None
            return np.asarray(ak.num(ref, axis=1), dtype=np.int64), values
    except Exception:  # records, strings, option types: compared value by value
        return None
    return None


def fast_equal(column, ref) -> bool:
    """True when a numeric column equals uproot's array exactly (NaN equal to NaN, same kind
    of number), checked with numpy; False means "compare value by value"."""
    import numpy as np

    ours, theirs = _flat_numeric(column), _ref_flat_numeric(ref)
    if ours is None or theirs is None:
        return False
    (oc, ov), (tc, tv) = ours, theirs
    if (oc is None) != (tc is None) or (oc is not None and not np.array_equal(oc, tc)):
        return False
    kind = lambda k: "i" if k in "iu" else k  # noqa: E731 - Python ints either way
    if kind(ov.dtype.kind) != kind(tv.dtype.kind) or ov.shape != tv.shape:
        return False
    if ov.dtype.kind == "f":
        # float32 and float64 compare by value, as Python floats would
        return bool(np.array_equal(ov.astype(np.float64), tv.astype(np.float64), equal_nan=True))
    return bool(np.array_equal(ov, tv))


def first_difference(ours: list, ref: list) -> str:
    if len(ours) != len(ref):
        return f"{len(ours)} rows, uproot has {len(ref)}"
    for i, (x, y) in enumerate(zip(ours, ref)):
        if not same(x, y):
            return f"entry {i}: hepq {str(x)[:200]} vs uproot {str(y)[:200]}"
    return "?"


def uproot_trees(path: Path) -> list[str] | str:
    """Tree paths in the file as uproot sees them (highest cycles), or why it cannot open it."""
    try:
        f = uproot.open(path)
        names = {}
        for key, cls in f.classnames(cycle=False).items():
            if cls in TREE_CLASSES:
                names[key] = True
        return list(names)
    except Exception as e:  # the reference itself cannot read the file
        return f"{type(e).__name__}: {e}"[:200]


def compare_file(binary: Path, path: Path, tmp: Path, results: Counter, wrong: list, notes: list):
    trees = uproot_trees(path)
    if isinstance(trees, str):
        notes.append(f"{path.name}: uproot cannot open it ({trees}); not counted")
        return
    for tree in trees:
        out = tmp / "out.arrow"
        if out.exists():
            out.unlink()
        run = subprocess.run(
            [str(binary), str(path), tree, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        label = f"{path.name}:{tree}"
        if run.returncode != 0 or "panicked" in run.stderr:
            try:
                uproot.open(path)[tree].keys()
            except Exception as e:
                notes.append(f"{label}: uproot cannot open the tree either ({type(e).__name__})")
                continue
            if "is not supported" in run.stderr:
                # a whole tree refused with a clear reason (TTree class versions < 16): reported
                # and counted per tree, not as a wrong branch
                notes.append(f"{label}: tree refused: {run.stderr.strip()[-300:]}")
                results[(path.name, "tree-refused")] += 1
                continue
            wrong.append(f"{label}: root_dump failed: {run.stderr.strip()[-400:]}")
            results[(path.name, "wrong")] += 1
            continue
        info = json.loads(run.stdout)
        table = pa.ipc.open_file(pa.memory_map(str(out))).read_all()
        t = uproot.open(path)[tree]
        if info["entries"] != t.num_entries:
            wrong.append(f"{label}: {info['entries']} entries, uproot has {t.num_entries}")
        # branches by path and occurrence (ROOT allows two branches with the same path)
        ref_branches: dict = {}
        for key, br in zip(t.keys(recursive=True), t.values(recursive=True)):
            ref_branches.setdefault(key, []).append(br)
        seen: Counter = Counter()
        for b in info["branches"]:
            where = f"{label}:{b['path']}"
            k = seen[b["path"]]
            seen[b["path"]] += 1
            if b["group"]:
                results[(path.name, "group")] += 1
                continue
            try:
                candidates = ref_branches.get(b["path"]) or [t[b["path"]]]
                ref = candidates[min(k, len(candidates) - 1)].array(library="ak")
            except Exception as e:
                results[(path.name, "ref-error")] += 1
                if b["unsupported"] is None:
                    notes.append(f"{where}: uproot cannot read it ({type(e).__name__}); hepq can")
                continue
            if b["unsupported"] is not None:
                results[(path.name, "unsupported")] += 1
                continue
            if b["read_error"] is not None:
                results[(path.name, "wrong")] += 1
                wrong.append(f"{where}: hepq could not read it: {b['read_error'][:300]}")
                continue
            column = table.column(b["column_index"])
            if fast_equal(column, ref):
                results[(path.name, "equal")] += 1
                continue
            ours = column.to_pylist()
            try:
                ref_list = ak.to_list(ref)
            except Exception as e:
                results[(path.name, "ref-error")] += 1
                notes.append(f"{where}: uproot's array cannot become Python values ({type(e).__name__})")
                continue
            if same(ours, ref_list):
                results[(path.name, "equal")] += 1
            else:
                results[(path.name, "wrong")] += 1
                wrong.append(f"{where} ({b['root_type']}): {first_difference(ours, ref_list)}")


def report(title: str, results: Counter, wrong: list, notes: list) -> str:
    files = sorted({f for f, _ in results})
    kinds = ("equal", "unsupported", "wrong", "group", "ref-error", "tree-refused")
    lines = [
        f"== {title}: coverage (branches; tree-refused counts trees) ==",
        "file".ljust(60) + "".join(k.rjust(13) for k in kinds),
    ]
    for f in files:
        lines.append(f[:60].ljust(60) + "".join(str(results[(f, k)]).rjust(13) for k in kinds))
    totals = {k: sum(results[(f, k)] for f in files) for k in kinds}
    lines.append("TOTAL".ljust(60) + "".join(str(totals[k]).rjust(13) for k in kinds))
    data = totals["equal"] + totals["unsupported"] + totals["wrong"]
    if data:
        lines.append(f"equal: {totals['equal']}/{data} = {100 * totals['equal'] / data:.1f}% of readable branches")
    lines += [f"note: {n}" for n in notes[:200]]
    lines += [f"WRONG: {w}" for w in wrong[:200]]
    return "\n".join(lines)


def run_suite(title, files, tmp_path, capsys):
    binary = root_dump()
    results: Counter = Counter()
    wrong: list = []
    notes: list = []
    for f in files:
        compare_file(binary, f, tmp_path, results, wrong, notes)
    text = report(title, results, wrong, notes)
    with capsys.disabled():
        print("\n" + text)
    (REPO_ROOT / "target").mkdir(exist_ok=True)
    (REPO_ROOT / "target" / f"root-coverage-{title}.txt").write_text(text)
    assert sum(v for (f, k), v in results.items() if k == "equal") > 0, "nothing was compared"
    assert not wrong, f"{len(wrong)} branches differ from uproot:\n" + "\n".join(wrong[:50])


def test_testdata_matches_uproot(tmp_path, capsys):
    files = sorted((TESTDATA / "scikit-hep-testdata").glob("*.root"))
    files += sorted((TESTDATA / "cms-opendata").glob("*.root"))
    if not files:
        skip_or_fail(f"no ROOT test data under {TESTDATA}")
    run_suite("testdata", files, tmp_path, capsys)


def test_generated_fixtures_match_uproot(tmp_path, capsys):
    from root_fixtures import generate

    files = generate(tmp_path / "fixtures")
    run_suite("generated", files, tmp_path, capsys)


def test_unsupported_branch_is_a_clear_error(tmp_path):
    """Listing shows the reason; the IPC output leaves the branch out; nothing panics."""
    binary = root_dump()
    path = TESTDATA / "scikit-hep-testdata" / "uproot-stl_containers.root"
    if not path.exists():
        skip_or_fail(f"missing {path}")
    run = subprocess.run([str(binary), str(path), "tree", "--out", str(tmp_path / "o.arrow")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    by_name = {b["name"]: b for b in info["branches"]}
    assert by_name["map_int32_int16"]["unsupported"], by_name["map_int32_int16"]
    assert by_name["vector_int32"]["unsupported"] is None
    table = pa.ipc.open_file(pa.memory_map(str(tmp_path / "o.arrow"))).read_all()
    assert "map_int32_int16" not in table.column_names
    assert "vector_int32" in table.column_names


def test_truncated_files_fail_cleanly(tmp_path):
    """A file cut short at many offsets gives an error naming the file, never a panic or hang."""
    binary = root_dump()
    src = TESTDATA / "scikit-hep-testdata" / "uproot-HZZ-zlib.root"
    if not src.exists():
        skip_or_fail(f"missing {src}")
    data = src.read_bytes()
    cuts = sorted({int(len(data) * k / 40) for k in range(40)} | {0, 1, 3, 64, 100})
    for cut in cuts:
        p = tmp_path / f"cut{cut}.root"
        p.write_bytes(data[:cut])
        run = subprocess.run([str(binary), str(p), "events", "--out", str(tmp_path / "o.arrow")],
                             capture_output=True, text=True, timeout=120)
        assert "panicked" not in run.stderr, run.stderr
        if run.returncode != 0:
            assert str(p) in run.stderr, run.stderr
