"""LH5 files written by legend-lh5io at test time, read by hepq and by legend-lh5io.

The real test data has no VectorOfEncodedVectors, no uleb128-encoded equal-sized arrays of
signed samples, few integer widths and one compression per file; these files cover them:
every integer and float width (with NaN and ±inf), booleans, fixed-length strings, vectors of
vectors nested three deep, structs inside tables, a table whose `table{…}` attribute lists its
columns in another order than they were written, waveform tables, both codecs on equal-sized
arrays and on vectors, and gzip / zstd / lzf-free (uncompressed) / shuffled chunked datasets.
Every object is compared with `lh5.read` through `lh5_dump`, and every table through SQL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_lh5_lh5io import dump, lh5_dump, ref_values, reference, same
from test_lh5_sql import ref_column
from test_lh5_sql import same as same_sql


def encoded_vectors(types, rows, codec: str, shift: int = 0):
    """A VectorOfEncodedVectors built row by row (legend-lh5io 0.3.0 cannot encode a whole
    VectorOfVectors)."""
    from lh5.compression import radware, varlen

    encoded = []
    for w in rows:
        if codec == "radware_sigcompress":
            enc, nbytes = radware.encode(w.astype("int16")[None, :], shift=shift)
        else:
            enc, nbytes = varlen.encode(w[None, :])
        encoded.append(enc[0, : nbytes[0]])
    attrs = {"codec": codec}
    if codec == "radware_sigcompress":
        attrs["codec_shift"] = shift
    return types.VectorOfEncodedVectors(
        encoded_data=types.VectorOfVectors(encoded, dtype="uint8"),
        decoded_size=types.Array(np.array([len(w) for w in rows], dtype="uint32")),
        attrs=attrs,
    )


def write_files(tmp: Path) -> Path:
    lh5, lgdo = reference()
    import hdf5plugin
    from lh5.compression import RadwareSigcompress, ULEB128ZigZagDiff, encode

    t = lgdo.types
    rng = np.random.default_rng(20260)
    n = 40
    cols = {}
    for dt in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
        info = np.iinfo(dt)
        cols[f"int_{dt}"] = t.Array(rng.integers(info.min, info.max, size=n, dtype=dt, endpoint=True))
    f32 = rng.normal(size=n).astype("f4")
    f32[:3] = [np.nan, np.inf, -np.inf]
    cols["f32"] = t.Array(f32, attrs={"units": "keV"})
    cols["f64"] = t.Array(rng.normal(size=n) * 1e6, attrs={"units": "ns"})
    cols["flag"] = t.Array(rng.integers(0, 2, size=n).astype(bool))
    cols["name"] = t.Array(np.array([f"det{i % 7}".encode() for i in range(n)], dtype="S8"))
    lengths = rng.integers(0, 6, size=n)
    cols["vov"] = t.VectorOfVectors([rng.normal(size=k).astype("f4") for k in lengths], attrs={"units": "mm"})
    import awkward as ak

    nested = [[list(rng.integers(0, 9, size=j)) for j in rng.integers(0, 3, size=k)] for k in lengths]
    cols["vov3"] = t.VectorOfVectors(ak.Array(nested))
    cols["aoesa"] = t.ArrayOfEqualSizedArrays(nda=rng.integers(0, 1000, size=(n, 7)).astype("u2"))
    inner = t.Table(col_dict={"a": t.Array(np.arange(n, dtype="i4")), "b": t.Array(rng.normal(size=n))})
    cols["inner"] = inner
    wf = rng.integers(-300, 300, size=(n, 64)).cumsum(axis=1).astype("i4") + 20000
    cols["wf"] = t.WaveformTable(
        t0=t.Array(np.full(n, 1000.0, dtype="f4"), attrs={"units": "ns"}),
        dt=t.Array(np.full(n, 16.0, dtype="f4"), attrs={"units": "ns"}),
        values=t.ArrayOfEqualSizedArrays(nda=wf.astype("u2")),
    )
    table = t.Table(col_dict=cols)
    path = tmp / "generated.lh5"
    lh5.write(table, "plain", str(path))

    # Encoded waveforms: both codecs, equal-sized and variable-length, shifted and not.
    u16 = t.ArrayOfEqualSizedArrays(nda=(wf.astype("i8") + 30000).clip(0, 65535).astype("u2"))
    i16 = t.ArrayOfEqualSizedArrays(nda=(wf - 20000).astype("i2"))
    rows = [rng.integers(-200, 200, size=k).cumsum().astype("i4") for k in rng.integers(2, 300, size=n)]
    enc = t.Table(
        col_dict={
            "radware_u16": encode(u16, RadwareSigcompress(codec_shift=-32768)),
            "radware_i16": encode(i16, RadwareSigcompress(codec_shift=0)),
            "uleb_i16": encode(i16, ULEB128ZigZagDiff()),
            "uleb_u16": encode(u16, ULEB128ZigZagDiff()),
        }
    )
    lh5.write(enc, "encoded", str(path))
    # legend-lh5io 0.3.0 can neither encode nor decode whole VectorOfEncodedVectors (both
    # codecs fail inside lh5.compression), so these are built row by row with its low-level
    # encoders and checked against the signals that were encoded.
    vectors = t.Table(
        col_dict={
            "uleb": encoded_vectors(t, rows, "uleb128_zigzag_diff"),
            "radware": encoded_vectors(t, rows, "radware_sigcompress"),
        }
    )
    lh5.write(vectors, "vectors", str(path))
    np.save(tmp / "vectors.npy", np.array([list(map(int, r)) for r in rows], dtype=object), allow_pickle=True)

    # HDF5 filters: zstd (32015) and gzip, with and without shuffle, chunked.
    for name, settings in {
        "zstd": {"shuffle": True, **hdf5plugin.Zstd(clevel=5)},
        "gzip": {"compression": "gzip", "compression_opts": 9, "shuffle": False},
        "none": {"compression": None, "chunks": (8,)},
    }.items():
        arr = t.Array(rng.normal(size=1000), attrs={"hdf5_settings": settings})
        vv = t.VectorOfVectors([rng.integers(0, 100, size=k) for k in rng.integers(0, 9, size=1000)])
        vv.flattened_data.attrs["hdf5_settings"] = settings
        lh5.write(t.Table(col_dict={"x": arr, "v": vv}), f"filters_{name}", str(path))

    # A table whose datatype lists the columns in another order than they were written.
    import h5py

    with h5py.File(path, "a") as h:
        h["plain"].attrs["datatype"] = "table{" + ",".join(reversed(list(cols))) + "}"
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return write_files(tmp_path_factory.mktemp("lh5gen"))


def test_generated_objects_match_legend_lh5io(generated):
    lh5, lgdo = reference()
    objs = dump(lh5_dump(), [str(generated)])
    assert len(objs) > 30
    wrong = []
    for o in objs:
        assert "error" not in o, o
        if o["path"].startswith("vectors/"):
            signals = np.load(generated.parent / "vectors.npy", allow_pickle=True).tolist()
            assert o["values"] == signals, o["path"]
            assert o["arrow"] == "List(Int32)"
            continue
        ref = lh5.read(o["path"], str(generated))
        if not same(o["values"], ref_values(ref, lgdo)):
            wrong.append(o["path"])
        units = ref.attrs.get("units") if hasattr(ref, "attrs") else None
        assert (o.get("units") or None) == (units or None), o["path"]
    assert not wrong, wrong
    paths = {o["path"] for o in objs}
    for p in ["vectors/uleb", "vectors/radware", "encoded/radware_u16", "encoded/uleb_i16", "filters_zstd/x"]:
        assert p in paths


def test_generated_tables_through_sql(hepq, generated):
    lh5, lgdo = reference()
    for group in ["plain", "encoded", "filters_zstd", "filters_gzip", "filters_none"]:
        rows = hepq.sql(f"SELECT * FROM read_lh5('{generated}', '{group}')")
        ref = lh5.read(group, str(generated))
        assert len(rows) == len(ref), group
        # columns come in the order of the `table{…}` attribute, each found by name
        if group == "plain":
            assert list(rows[0])[0] == "wf" and list(rows[0])[-1] == "int_i1"
        for col, obj in ref.items():
            expected = ref_column(obj, lgdo)
            got = [r[col] for r in rows]
            bad = [i for i, (a, b) in enumerate(zip(got, expected)) if not same_sql(a, b)]
            assert not bad, f"{group}/{col} row {bad[0]}: {got[bad[0]]} vs {expected[bad[0]]}"


def test_only_projected_datasets_are_read(hepq, tmp_path):
    """A table whose column `bad` has a corrupted gzip chunk: queries of the other column work
    (its datasets alone are read); reading `bad` fails with an error naming file and dataset."""
    lh5, lgdo = reference()
    import h5py

    t = lgdo.types
    path = tmp_path / "damaged.lh5"
    settings = {"compression": "gzip", "chunks": (100,)}
    good = t.Array(np.arange(1000, dtype="f8"), attrs={"hdf5_settings": settings})
    bad = t.Array(np.arange(1000, dtype="f8") * 2, attrs={"hdf5_settings": settings})
    lh5.write(t.Table(col_dict={"good": good, "bad": bad}), "tab", str(path))
    with h5py.File(path, "r") as h:
        info = h["tab/bad"].id.get_chunk_info(3)
    data = bytearray(path.read_bytes())
    data[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(data))

    assert hepq.sql(f"SELECT sum(good) AS s FROM read_lh5('{path}', 'tab')") == [{"s": 499500.0}]
    run = hepq.sql_run(f"SELECT sum(bad) FROM read_lh5('{path}', 'tab')", check=False)
    assert run.returncode != 0
    assert "damaged.lh5" in run.stderr and "tab/bad" in run.stderr, run.stderr
