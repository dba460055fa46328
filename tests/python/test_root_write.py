"""hepq writes TTrees, uproot reads them: the values must be identical.

Tables are built with pyarrow, handed to the `root_write` example of hepq-root (HEPQ_ROOT_WRITE,
else target/debug/examples/root_write) as Arrow IPC, and the ROOT files it writes are opened with
uproot 5: every codec, every supported type, many baskets, empty lists, 0- and 1-entry trees.
The generated StreamerInfo record is compared, class by class and member by member, with the
one ROOT 6.20 wrote into a file of the shared test data, so that ROOT itself can read our files.
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc
import pytest

from conftest import REPO_ROOT, skip_or_fail

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

ROOT_WRITTEN = (
    REPO_ROOT.parent
    / "shared"
    / "testdata"
    / "scikit-hep-testdata"
    / "uproot-sample-6.20.04-uncompressed.root"
)

CODECS = [
    ("zlib", 1, uproot.ZLIB(1)),
    ("zlib", 9, uproot.ZLIB(9)),
    ("lzma", 7, uproot.LZMA(7)),
    ("lz4", 4, uproot.LZ4(4)),
    ("zstd", 5, uproot.ZSTD(5)),
    ("none", 0, None),
]


@pytest.fixture(scope="module")
def root_write() -> Path:
    env = os.environ.get("HEPQ_ROOT_WRITE")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "examples" / "root_write"
    if not path.exists():
        skip_or_fail(f"root_write not built at {path} (cargo build --workspace --examples)")
    return path


def write(binary: Path, table: pa.Table, out: Path, *args: str) -> Path:
    """Writes `table` as Arrow IPC next to `out` and runs root_write on it."""
    ipc = out.with_suffix(".arrow")
    with pa.OSFile(str(ipc), "wb") as f:
        with pa.ipc.new_file(f, table.schema) as w:
            for batch in table.to_batches(max_chunksize=37):
                w.write_batch(batch)
    run = subprocess.run([str(binary), str(ipc), str(out), *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def same(a, b) -> bool:
    """Exact equality of nested values, NaN equal to NaN, bools not equal to ints."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def uproot_column(tree, name: str) -> list:
    return ak.to_list(tree[name].array(library="ak"))


def everything(n: int, start: int = 0) -> pa.Table:
    """Every Arrow type the writer supports, with empty lists, long strings, NaN and extremes."""
    r = range(start, start + n)
    return pa.table(
        {
            "i8": pa.array([(i % 256) - 128 for i in r], pa.int8()),
            "u8": pa.array([i % 256 for i in r], pa.uint8()),
            "i16": pa.array([-(i * 3) % 32768 for i in r], pa.int16()),
            "u16": pa.array([65535 - i % 65536 for i in r], pa.uint16()),
            "i32": pa.array([i * -1000 for i in r], pa.int32()),
            "u32": pa.array([2**32 - 1 - i for i in r], pa.uint32()),
            "i64": pa.array([i * -(2**40) for i in r], pa.int64()),
            "u64": pa.array([2**64 - 1 - i for i in r], pa.uint64()),
            "flag": pa.array([i % 3 == 0 for i in r], pa.bool_()),
            "f32": pa.array([i * 0.5 for i in r], pa.float32()),
            "f64": pa.array([math.nan if i == 5 else i / 3 for i in r], pa.float64()),
            "label": pa.array(["" if i % 3 == 0 else f"event {i} ü" if i % 3 == 1 else "x" * (250 + i % 10) for i in r]),
            "p3": pa.array([[i, -i, 0.25] for i in r], pa.list_(pa.float32(), 3)),
            "grid": pa.array(
                [[[i * 6 + k, -(k + 1)] for k in range(3)] for i in r],
                pa.list_(pa.list_(pa.int16(), 2), 3),
            ),
            "Jet_pt": pa.array([[i + j / 8 for j in range(i % 4)] for i in r], pa.list_(pa.float32())),
            "Jet_id": pa.array([[i * 10 + j - 7 for j in range(i % 4)] for i in r], pa.list_(pa.int32())),
            "Muon_pt": pa.array([[-j - 0.5 for j in range((i * 7) % 3)] for i in r], pa.list_(pa.float64())),
            "hits": pa.array([[[k, i] for k in range(i % 3)] for i in r], pa.list_(pa.list_(pa.float32(), 2))),
            "Tau_charge": pa.array([[1, -1][: i % 3] for i in r], pa.list_(pa.int8())),
        }
    )


def assert_same_values(table: pa.Table, tree) -> None:
    assert tree.num_entries == table.num_rows
    for name in table.column_names:
        ours = table.column(name).to_pylist()
        theirs = uproot_column(tree, name)
        assert same(ours, theirs), f"{name}: hepq wrote {ours[:5]}…, uproot reads {theirs[:5]}…"


@pytest.mark.parametrize("alg,level,expected", CODECS, ids=[f"{a}{l}" for a, l, _ in CODECS])
def test_every_type_and_codec(root_write, tmp_path, alg, level, expected):
    table = everything(120)
    out = write(root_write, table, tmp_path / f"every_{alg}{level}.root", "--compression", alg, "--level", str(level))
    with uproot.open(out) as f:
        assert f.file.compression == expected
        tree = f["Events"]
        assert_same_values(table, tree)
        # NanoAOD-style counters: Jet_* share nJet; others have their own
        assert tree["Jet_pt"].count_branch.name == "nJet"
        assert tree["Jet_id"].count_branch.name == "nJet"
        assert tree["Muon_pt"].count_branch.name == "nMuon"
        assert tree["hits"].count_branch.name == "nhits"
        assert uproot_column(tree, "nJet") == [i % 4 for i in range(120)]
        assert tree["Jet_pt"].title == "Jet_pt[nJet]/F"
        assert tree["grid"].title == "grid[3][2]/S"
        assert tree["label"].typename == "char*"
        assert tree["u64"].typename == "uint64_t"
        # the metadata adds up: per-branch byte counts are the sums over baskets
        zip_total = 0
        for b in tree.branches:
            sizes = [b.basket_compressed_bytes(i) for i in range(b.num_baskets)]
            assert b.member("fZipBytes") == sum(sizes), b.name
            zip_total += b.member("fZipBytes")
        assert tree.member("fZipBytes") == zip_total


def test_many_baskets_and_entry_ranges(root_write, tmp_path):
    table = everything(1000)
    out = write(root_write, table, tmp_path / "many.root", "--compression", "zstd", "--basket-entries", "64")
    with uproot.open(out) as f:
        tree = f["Events"]
        assert_same_values(table, tree)
        for b in tree.branches:
            assert b.num_baskets == 16, b.name
            assert list(b.entry_offsets) == list(range(0, 1000, 64)) + [1000]
        assert tree.member("fAutoFlush") == 64
        part = tree.arrays(["Jet_pt", "label"], entry_start=100, entry_stop=333, library="ak")
        assert ak.to_list(part["Jet_pt"]) == table.column("Jet_pt").to_pylist()[100:333]
        assert ak.to_list(part["label"]) == table.column("label").to_pylist()[100:333]


def test_basket_size_in_bytes(root_write, tmp_path):
    table = everything(3000)
    out = write(root_write, table, tmp_path / "bytes.root", "--basket-bytes", "8192")
    with uproot.open(out) as f:
        tree = f["Events"]
        assert tree["label"].num_baskets > 5
        assert_same_values(table, tree)


def test_empty_and_one_entry_trees(root_write, tmp_path):
    table = everything(10)
    for n in (0, 1):
        out = write(root_write, table.slice(0, n), tmp_path / f"n{n}.root", "--tree", "tiny")
        with uproot.open(out) as f:
            tree = f["tiny"]
            assert tree.num_entries == n
            assert set(table.column_names) <= set(tree.keys())
            assert_same_values(table.slice(0, n), tree)


def test_only_empty_lists(root_write, tmp_path):
    table = pa.table({"Jet_pt": pa.array([[], [], []], pa.list_(pa.float32())), "x": pa.array([1, 2, 3], pa.int32())})
    out = write(root_write, table, tmp_path / "empty_lists.root")
    with uproot.open(out) as f:
        assert_same_values(table, f["Events"])
        assert uproot_column(f["Events"], "nJet") == [0, 0, 0]


def test_existing_counter_column_is_kept(root_write, tmp_path):
    table = pa.table(
        {
            "nJet": pa.array([2, 0, 1], pa.uint32()),
            "Jet_pt": pa.array([[1.0, 2.0], [], [3.0]], pa.list_(pa.float32())),
        }
    )
    out = write(root_write, table, tmp_path / "nanoaod_counter.root")
    with uproot.open(out) as f:
        tree = f["Events"]
        assert tree.keys() == ["nJet", "Jet_pt"]
        assert tree["nJet"].typename == "uint32_t"
        assert_same_values(table, tree)


def test_bad_input_is_a_clear_error(root_write, tmp_path):
    cases = {
        "nulls.root": (pa.table({"pt": pa.array([1.0, None], pa.float32())}), ["pt", "null"]),
        "struct.root": (pa.table({"s": pa.array([{"a": 1}], pa.struct([("a", pa.int32())]))}), ['"s"', "Struct"]),
        "wrong_counter.root": (
            pa.table({"nJet": pa.array([5], pa.int32()), "Jet_pt": pa.array([[1.0]], pa.list_(pa.float32()))}),
            ["nJet", "counter"],
        ),
    }
    for name, (table, words) in cases.items():
        ipc = tmp_path / (name + ".arrow")
        with pa.OSFile(str(ipc), "wb") as f:
            with pa.ipc.new_file(f, table.schema) as w:
                w.write_table(table)
        run = subprocess.run([str(root_write), str(ipc), str(tmp_path / name)], capture_output=True, text=True)
        assert run.returncode != 0
        assert all(w in run.stderr for w in words), run.stderr
        assert "panicked" not in run.stderr


def streamer_table(path: Path) -> dict:
    """Class → (version, checksum, members) from a file's StreamerInfo, as uproot reads it."""
    out = {}
    with uproot.open(path) as f:
        for name, versions in f.file.streamers.items():
            for version, info in versions.items():
                members = []
                for e in info.elements:
                    m = e.all_members
                    members.append(
                        (
                            type(e).__name__,
                            m["fName"],
                            m["fTitle"],
                            m["fType"],
                            m["fSize"],
                            m["fTypeName"],
                            m.get("fBaseVersion"),
                            m.get("fCountName"),
                            m.get("fCountClass"),
                            m.get("fCountVersion"),
                            [int(x) for x in m["fMaxIndex"]],
                        )
                    )
                out[name] = (version, info.member("fCheckSum"), members)
    return out


def test_streamer_infos_match_those_root_writes(root_write, tmp_path):
    if not ROOT_WRITTEN.exists():
        skip_or_fail(f"{ROOT_WRITTEN} is missing")
    table = everything(3)
    out = write(root_write, table, tmp_path / "streamers.root")
    ours = streamer_table(out)
    root = streamer_table(ROOT_WRITTEN)
    # the sample has no unsigned leaves of its own class, but TLeafB/S/I/L cover them
    expected = {"TTree", "TBranch", "TLeaf", "TLeafO", "TLeafB", "TLeafS", "TLeafI", "TLeafL", "TLeafF", "TLeafD", "TLeafC",
                "TNamed", "TObject", "TAttLine", "TAttFill", "TAttMarker", "ROOT::TIOFeatures", "TObjArray", "TList",
                "TSeqCollection", "TCollection", "TString"}
    assert expected <= set(ours), set(ours) ^ expected
    for name in sorted(ours):
        assert name in root, f"{name} is not in the ROOT-written file"
        assert ours[name] == root[name], f"{name}: ours {ours[name]}\nROOT {root[name]}"


CMS = REPO_ROOT.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"


@pytest.mark.parametrize("alg,level,expected", [("zstd", 3, uproot.ZSTD(3)), ("lzma", 9, uproot.LZMA(9)), ("none", 0, None)])
def test_sql_copy_of_a_nanoaod_file(hepq, tmp_path, alg, level, expected):
    """`hepq sql` COPY of the whole CMS NanoAOD-style file: every branch reads back through uproot
    exactly as uproot reads the original, with the same C++ types and the same counters."""
    if not CMS.exists():
        skip_or_fail(f"{CMS} is missing")
    out = tmp_path / "cms_copy.root"
    rows = hepq.sql(
        f"COPY (SELECT * FROM ev) TO '{out}' STORED AS ROOT "
        f"OPTIONS ('tree' 'Events', 'compression' '{alg}', 'level' '{level}', 'basket_entries' '300')",
        register={"ev": str(CMS)},
    )
    assert rows == [{"count": 1000}]
    with uproot.open(CMS) as f_ref, uproot.open(out) as f_out:
        assert f_out.file.compression == expected
        ref, ours = f_ref["Events"], f_out["Events"]
        assert ours.keys() == ref.keys()
        for name in ref.keys():
            assert ours[name].typename == ref[name].typename, name
            assert same(uproot_column(ours, name), uproot_column(ref, name)), name
            counter = ref[name].count_branch
            if counter is not None:
                assert ours[name].count_branch.name == counter.name, name
            assert ours[name].num_baskets == 4, name


def test_sql_copy_options_and_errors(hepq, tmp_path):
    out = tmp_path / "small.root"
    rows = hepq.sql(
        f"COPY (SELECT column1 AS x, make_array(column1, column1 + 1) AS Jet_pt FROM (VALUES (1), (2), (3))) "
        f"TO '{out}' STORED AS ROOT OPTIONS ('tree' 'mytree', 'title' 'made by hepq', 'compression' 'lz4')"
    )
    assert rows == [{"count": 3}]
    with uproot.open(out) as f:
        tree = f["mytree"]
        assert tree.title == "made by hepq"
        assert f.file.compression == uproot.LZ4(4)
        assert uproot_column(tree, "x") == [1, 2, 3]
        assert uproot_column(tree, "Jet_pt") == [[1, 2], [2, 3], [3, 4]]
        assert uproot_column(tree, "nJet") == [2, 2, 2]
    bad = hepq.sql_run(
        f"COPY (SELECT 1 AS x) TO '{tmp_path / 'bad.root'}' STORED AS ROOT OPTIONS ('level' 'high')", check=False
    )
    assert bad.returncode != 0 and "level" in bad.stderr and "panicked" not in bad.stderr


def test_demo_ships_the_lhc_events_as_root_files(hepq, tmp_path):
    """`hepq demo` copies the LHC Parquet table to ROOT files (COPY … STORED AS ROOT); uproot
    reads every file back with the same events and values as pyarrow reads from the Parquet."""
    import pyarrow.parquet as pq

    warehouse = tmp_path / "wh"
    run = hepq.run("demo", "--warehouse", warehouse, "--lhc-events", "3000", "--legend-hits", "1000", timeout=600)
    assert "STORED AS ROOT" in run.stdout
    parquet_files = sorted((warehouse / "tables" / "lhc_events").rglob("*.parquet"))
    root_files = sorted((warehouse / "root" / "lhc_events").rglob("*.root"))
    assert parquet_files and len(root_files) == len(parquet_files)
    total = 0
    for pq_file, root_file in zip(parquet_files, root_files):
        assert root_file.relative_to(warehouse / "root").with_suffix("") == pq_file.relative_to(warehouse / "tables").with_suffix("")
        table = pq.read_table(pq_file).sort_by([("luminosityBlock", "ascending"), ("event", "ascending")])
        with uproot.open(root_file) as f:
            tree = f["Events"]
            assert f.file.compression == uproot.ZSTD(5)
            assert set(tree.keys()) == set(table.column_names)
            for name in table.column_names:
                assert same(uproot_column(tree, name), table.column(name).to_pylist()), name
        total += table.num_rows
    assert total == 3000
