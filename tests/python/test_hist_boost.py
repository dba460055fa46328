"""Histogram aggregates against boost-histogram / hist / uhi.

Random data (with NaN, ±inf, values exactly on bin edges and just below the upper edge, NULLs,
weights, list columns) is written to Parquet with pyarrow (several files, so that partial
states from several partitions are merged) and histogrammed by the `hepq` CLI. Every document
must pass the UHI schema, load into `hist.Hist`, and equal the histogram that hist fills
directly from the same values: identical counts, and variances identical where the weights are
exact binary fractions (sums independent of the order) or within 1e-12 otherwise.
"""

from __future__ import annotations

import json
import math

import pytest

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
hist = pytest.importorskip("hist")
bh = pytest.importorskip("boost_histogram")
uhi_schema = pytest.importorskip("uhi.schema")
uhi_json = pytest.importorskip("uhi.io.json")
pytest.importorskip("fastjsonschema")  # uhi.schema's validator

ROWS = 20_000
GROUPS = 500
SEED = 20260601
REG = (20, -3.0, 3.0)
EDGES = [-2.0, -0.5, 0.0, 0.25, 1.0, 2.5]
THREADS = ["--threads", "4"]


def _reference_edges() -> np.ndarray:
    return hist.axis.Regular(*REG).edges


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Columns: x (float64 with NaN/±inf/edges/NULL), x32, w (exact fractions), wr (random),
    g (group), y, cat (text), icat (int), jets (list<float64> with NULL lists and elements),
    nothing (all NULL)."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(0.0, 1.5, ROWS)
    special = np.concatenate(
        [
            _reference_edges(),  # exactly on every regular edge
            np.asarray(EDGES),  # exactly on every variable edge
            [np.nextafter(3.0, -np.inf), np.nextafter(-3.0, np.inf), np.nextafter(-3.0, -np.inf)],
            [np.nan, np.inf, -np.inf] * 5,
        ]
    )
    x[: len(special)] = special
    rng.shuffle(x)
    x_null = rng.random(ROWS) < 0.05
    w = rng.integers(1, 16, ROWS) / 4.0  # exact binary fractions
    wr = rng.uniform(0.1, 3.0, ROWS)
    w_null = rng.random(ROWS) < 0.02
    g = rng.integers(0, GROUPS, ROWS)
    y = rng.uniform(-1.0, 3.0, ROWS)
    y[rng.random(ROWS) < 0.01] = np.nan
    cats = np.array(["ee", "mumu", "emu", "tautau"])
    cat = cats[rng.integers(0, len(cats), ROWS)]
    icat = rng.integers(-2, 3, ROWS)
    counts = rng.integers(0, 6, ROWS)
    flat = rng.normal(0.5, 1.5, int(counts.sum()))
    flat[rng.random(flat.size) < 0.01] = np.nan
    flat_null = rng.random(flat.size) < 0.03
    offsets = np.concatenate([[0], np.cumsum(counts)])
    jets_null = rng.random(ROWS) < 0.03
    jets = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.array(flat, mask=flat_null),
        mask=pa.array(jets_null),
    )
    table = pa.table(
        {
            "x": pa.array(x, mask=x_null),
            "x32": pa.array(x.astype(np.float32), mask=x_null),
            "w": pa.array(w, mask=w_null),
            "wr": pa.array(wr),
            "g": pa.array(g),
            "y": pa.array(y),
            "cat": pa.array(cat),
            "icat": pa.array(icat),
            "jets": jets,
            "nothing": pa.nulls(ROWS, pa.float64()),
        }
    )
    out = tmp_path_factory.mktemp("hist") / "t"
    out.mkdir()
    step = ROWS // 4
    for i in range(4):
        pq.write_table(table.slice(i * step, step), out / f"part-{i}.parquet", row_group_size=2000)
    return {
        "dir": out,
        "x": x,
        "x_null": x_null,
        "w": w,
        "w_null": w_null,
        "wr": wr,
        "g": g,
        "y": y,
        "cat": cat,
        "icat": icat,
        "jets": jets,
    }


def query(hepq, data, sql: str) -> list[dict]:
    return hepq.sql(sql, register={"t": f"{data['dir']}/"}, extra=THREADS)


def load(doc) -> hist.Hist:
    """Validates `doc` against the UHI schema and loads it into `hist.Hist`."""
    assert isinstance(doc, dict), f"expected an embedded JSON document, got {type(doc)}: {doc!r}"
    uhi_schema.validate_histogram(doc)
    assert doc["writer_info"]["hepq"]["version"]
    return hist.Hist(json.loads(json.dumps(doc), object_hook=uhi_json.object_hook))


def regular(name="x"):
    return hist.axis.Regular(*REG, name=name, label=name)


def assert_same(h: hist.Hist, ref: hist.Hist, *, exact: bool = True) -> None:
    got, want = h.values(flow=True), ref.values(flow=True)
    assert got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(h.variances(flow=True), ref.variances(flow=True))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(h.variances(flow=True), ref.variances(flow=True), rtol=1e-12)
    for a, b in zip(h.axes, ref.axes):
        np.testing.assert_array_equal(np.asarray(a.edges), np.asarray(b.edges))


def valid(data, *, weight: str | None = None) -> np.ndarray:
    keep = ~data["x_null"]
    if weight == "w":
        keep &= ~data["w_null"]
    return keep


def test_regular_unweighted(hepq, data):
    rows = query(hepq, data, "SELECT hist(x, 20, -3, 3) AS h FROM t")
    h = load(rows[0]["h"])
    ref = hist.Hist(regular(), storage=hist.storage.Int64())
    ref.fill(data["x"][valid(data)])
    assert h == ref  # axes, metadata, storage and every bin, flow included
    assert_same(h, ref)
    # The edge cases really were there: both flow bins are populated.
    assert ref.values(flow=True)[0] > 0 and ref.values(flow=True)[-1] > 0


def test_regular_float32(hepq, data):
    h = load(query(hepq, data, "SELECT hist(x32, 20, -3, 3) AS h FROM t")[0]["h"])
    ref = hist.Hist(regular("x32"), storage=hist.storage.Int64())
    ref.fill(data["x"].astype(np.float32)[valid(data)])
    assert h == ref


def test_regular_weighted_exact(hepq, data):
    h = load(query(hepq, data, "SELECT hist(x, 20, -3, 3, w) AS h FROM t")[0]["h"])
    keep = valid(data, weight="w")
    ref = hist.Hist(regular(), storage=hist.storage.Weight())
    ref.fill(data["x"][keep], weight=data["w"][keep])
    assert h.storage_type == bh.storage.Weight
    assert_same(h, ref, exact=True)


def test_regular_weighted_random(hepq, data):
    h = load(query(hepq, data, "SELECT hist(x, 20, -3, 3, wr) AS h FROM t")[0]["h"])
    keep = valid(data)
    ref = hist.Hist(regular(), storage=hist.storage.Weight())
    ref.fill(data["x"][keep], weight=data["wr"][keep])
    assert_same(h, ref, exact=False)


def test_variable_edges(hepq, data):
    edges = ", ".join(str(e) for e in EDGES)
    h = load(query(hepq, data, f"SELECT hist(x, [{edges}]) AS h FROM t")[0]["h"])
    ref = hist.Hist(hist.axis.Variable(EDGES, name="x", label="x"), storage=hist.storage.Int64())
    ref.fill(data["x"][valid(data)])
    assert h == ref


def test_list_column(hepq, data):
    h = load(query(hepq, data, "SELECT hist(jets, 20, -3, 3) AS h FROM t")[0]["h"])
    jets = data["jets"]
    flat = jets.flatten()  # NULL lists contribute nothing
    values = np.asarray(flat.drop_null())
    ref = hist.Hist(regular("jets"), storage=hist.storage.Int64())
    ref.fill(values)
    assert h == ref


def test_list_column_weighted(hepq, data):
    h = load(query(hepq, data, "SELECT hist(jets, 20, -3, 3, w) AS h FROM t")[0]["h"])
    jets = data["jets"]
    lengths = np.asarray(jets.value_lengths().fill_null(0))
    parent = np.repeat(np.arange(len(jets)), lengths)
    flat = jets.flatten()
    keep = np.asarray(flat.is_valid()) & ~data["w_null"][parent]
    ref = hist.Hist(regular("jets"), storage=hist.storage.Weight())
    ref.fill(np.asarray(flat.fill_null(0))[keep], weight=data["w"][parent][keep])
    assert_same(h, ref, exact=True)


def test_group_by(hepq, data):
    rows = query(hepq, data, "SELECT g, hist(x, 20, -3, 3, w) AS h FROM t GROUP BY g")
    assert len(rows) == GROUPS
    keep = valid(data, weight="w")
    for row in rows:
        sel = keep & (data["g"] == row["g"])
        ref = hist.Hist(regular(), storage=hist.storage.Weight())
        ref.fill(data["x"][sel], weight=data["w"][sel])
        assert_same(load(row["h"]), ref, exact=True)


def test_group_by_many_groups(hepq, tmp_path):
    """8,000 groups × 102 bins over 1.5M rows, in 4 partitions whose partial states merge: the
    grouped accumulator's flat counts (megabytes, folded from 32-bit counters) against one 2-D
    boost-histogram (group × x)."""
    rng = np.random.default_rng(SEED + 1)
    rows, groups = 1_500_000, 8_000
    x = rng.uniform(-0.1, 1.1, rows).astype(np.float32)
    g = rng.integers(0, groups, rows)
    g[: groups] = np.arange(groups)  # every group occurs
    out = tmp_path / "many"
    out.mkdir()
    table = pa.table({"x": x, "g": g})
    for i in range(3):
        pq.write_table(table.slice(i * rows // 3, rows // 3), out / f"part-{i}.parquet")
    run = hepq.sql_run(
        "SELECT g, hist(x, 100, 0, 1) AS h FROM t GROUP BY g",
        register={"t": f"{out}/"},
        extra=THREADS,
        fmt="ndjson",
    )
    got = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert len(got) == groups
    ref = bh.Histogram(bh.axis.Integer(0, groups), bh.axis.Regular(100, 0.0, 1.0))
    ref.fill(g, x)
    want = ref.values(flow=True)
    for row in got:
        h = json.loads(row["h"]) if isinstance(row["h"], str) else row["h"]
        values = np.asarray(h["storage"]["values"], dtype=float)
        np.testing.assert_array_equal(values, want[row["g"] + 1], err_msg=f"group {row['g']}")


def test_group_by_merge_equals_whole(hepq, data):
    rows = query(
        hepq,
        data,
        "SELECT hist_merge(h) AS m, (SELECT hist(x, 20, -3, 3) FROM t) AS whole "
        "FROM (SELECT g, hist(x, 20, -3, 3) AS h FROM t GROUP BY g)",
    )
    assert load(rows[0]["m"]) == load(rows[0]["whole"])


def test_hist2d(hepq, data):
    edges = ", ".join(str(e) for e in EDGES)
    h = load(query(hepq, data, f"SELECT hist2d(x, y, 20, -3, 3, [{edges}], w) AS h FROM t")[0]["h"])
    keep = valid(data, weight="w")
    ref = hist.Hist(regular(), hist.axis.Variable(EDGES, name="y", label="y"), storage=hist.storage.Weight())
    ref.fill(data["x"][keep], data["y"][keep], weight=data["w"][keep])
    assert_same(h, ref, exact=True)


@pytest.mark.parametrize("column", ["cat", "icat"])
def test_hist_cat(hepq, data, column):
    h = load(query(hepq, data, f"SELECT hist_cat({column}, x, 20, -3, 3) AS h FROM t")[0]["h"])
    keep = valid(data)
    categories = sorted(set(data[column].tolist()))
    axis = hist.axis.StrCategory if column == "cat" else hist.axis.IntCategory
    ref = hist.Hist(
        axis(categories, name=column, label=column, overflow=False), regular(), storage=hist.storage.Int64()
    )
    ref.fill(data[column][keep], data["x"][keep])
    assert list(h.axes[0]) == categories
    np.testing.assert_array_equal(h.values(flow=True), ref.values(flow=True))


def test_empty_and_all_null(hepq, data):
    rows = query(
        hepq,
        data,
        "SELECT (SELECT hist(x, 20, -3, 3) FROM t WHERE false) AS empty, "
        "(SELECT hist(nothing, 20, -3, 3, w) FROM t) AS nulls",
    )
    empty = load(rows[0]["empty"])
    assert empty == hist.Hist(regular(), storage=hist.storage.Int64())
    nulls = load(rows[0]["nulls"])
    assert_same(nulls, hist.Hist(regular("nothing"), storage=hist.storage.Weight()))
    assert nulls.sum(flow=True).value == 0


def test_accessors(hepq, data):
    rows = query(
        hepq,
        data,
        "SELECT h, hist_values(h) AS v, hist_variances(h, true) AS var, hist_edges(h) AS e, "
        "hist_sum(h) AS s, hist_sum(h, true) AS sf, hist_mean(h) AS mean, hist_std(h) AS std "
        "FROM (SELECT hist(x, 20, -3, 3, wr) AS h FROM t)",
    )
    row = rows[0]
    ref = load(row["h"])
    # The CLI re-parses the embedded document with serde_json, whose default float parser can
    # be one ulp off (no `float_roundtrip`); allow that much, nothing more.
    np.testing.assert_allclose(row["v"], ref.values(), rtol=4e-16, atol=0)
    np.testing.assert_allclose(row["var"], ref.variances(flow=True), rtol=4e-16, atol=0)
    np.testing.assert_array_equal(row["e"], ref.axes[0].edges)
    assert math.isclose(row["s"], ref.sum().value, rel_tol=1e-12)
    assert math.isclose(row["sf"], ref.sum(flow=True).value, rel_tol=1e-12)
    centers, values = ref.axes[0].centers, ref.values()
    mean = float((centers * values).sum() / values.sum())
    std = float(np.sqrt((values * (centers - mean) ** 2).sum() / values.sum()))
    assert math.isclose(row["mean"], mean, rel_tol=1e-12)
    assert math.isclose(row["std"], std, rel_tol=1e-12)


def test_hist_bins_table(hepq, data):
    rows = query(hepq, data, "SELECT * FROM hist_bins((SELECT hist(x, 20, -3, 3, w) FROM t)) ORDER BY bin")
    keep = valid(data, weight="w")
    ref = hist.Hist(regular(), storage=hist.storage.Weight())
    ref.fill(data["x"][keep], weight=data["w"][keep])
    assert [r["bin"] for r in rows] == list(range(22))
    np.testing.assert_array_equal([r["value"] for r in rows], ref.values(flow=True))
    np.testing.assert_array_equal([r["variance"] for r in rows], ref.variances(flow=True))
    np.testing.assert_array_equal([r["low"] for r in rows[1:]], ref.axes[0].edges)


def test_documents_from_hist_merge(hepq, data, tmp_path):
    """Documents written by hist itself are read back (and summed) by hepq."""
    ref = hist.Hist(regular(), storage=hist.storage.Weight())
    ref.fill(data["x"][valid(data)], weight=data["wr"][valid(data)])
    doc = json.dumps(ref, default=uhi_json.default)
    quoted = doc.replace("'", "''")
    rows = hepq.sql(f"SELECT hist_merge(d) AS h FROM (VALUES ('{quoted}'), ('{quoted}')) AS v(d)")
    doubled = load(rows[0]["h"])
    np.testing.assert_allclose(doubled.values(flow=True), 2 * ref.values(flow=True), rtol=1e-15)
    np.testing.assert_allclose(doubled.variances(flow=True), 2 * ref.variances(flow=True), rtol=1e-15)


def test_merge_error_names_both_axes(hepq, data):
    run = hepq.sql_run(
        "SELECT hist_merge(h) FROM (SELECT hist(x, 20, -3, 3) AS h FROM t "
        "UNION ALL SELECT hist(x, 10, -3, 3) AS h FROM t)",
        register={"t": f"{data['dir']}/"},
        check=False,
    )
    assert run.returncode != 0
    assert "Regular(20, -3, 3)" in run.stderr and "Regular(10, -3, 3)" in run.stderr, run.describe()


def test_cli_table_draws_histograms(hepq, data):
    """`--format table` draws a one-dimensional histogram instead of printing its JSON."""
    run = hepq.sql_run(
        "SELECT hist(x, 4, -2, 2) AS h, hist2d(x, y, 1, 0, 1, 1, 0, 1) AS h2 FROM t",
        register={"t": f"{data['dir']}/"},
        fmt="table",
    )
    keep = valid(data)
    ref = hist.Hist(hist.axis.Regular(4, -2, 2), storage=hist.storage.Int64())
    ref.fill(data["x"][keep])
    lines = run.stdout.splitlines()
    for label, count in zip(["[-2, -1)", "[-1, 0)", "[0, 1)", "[1, 2)"], ref.values()):
        line = next((l for l in lines if label in l), None)
        assert line is not None and "█" in line and str(int(count)) in line, run.stdout
    assert '"uhi_schema":1' in run.stdout  # the 2-D histogram stays a JSON document
