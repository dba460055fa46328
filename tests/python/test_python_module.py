"""The `hepq` Python module (crate python/, package python/hepq/) against independent references.

Results are compared with DuckDB and pyarrow on the same data; zero-copy is checked by buffer
addresses and by pyarrow's allocator staying put; awkward round-trips nested lists; `.hist()`
equals the histogram hist fills itself; Ctrl-C (SIGINT from a timer thread) must cancel a
long query within a second; the DB-API cursor and `pandas.read_sql` work.

scripts/test.sh assembles the module from the workspace build (scripts/python-dev.py) and puts
it on PYTHONPATH; without it these tests skip, and fail when CI=true.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import pytest

from conftest import REPO_ROOT, duckdb_connect, skip_or_fail

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pc = pytest.importorskip("pyarrow.compute")

TESTDATA = REPO_ROOT.parent / "shared" / "testdata" / "scikit-hep-testdata"
MUONS_RNTUPLE = TESTDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"

# A query that runs for minutes: only cancellation ends it.
ENDLESS = "SELECT sum(value % 7) AS s FROM range(0, 1000000000000)"


@pytest.fixture(scope="module")
def hq():
    """The module itself (this file's tests need no binary)."""
    try:
        import hepq as module
    except ImportError as e:
        skip_or_fail(
            f"the hepq Python module is not importable ({e}); scripts/test.sh builds it "
            "(cargo build --workspace, scripts/python-dev.py) and puts it on PYTHONPATH"
        )
    return module


@pytest.fixture()
def con(hq):
    c = hq.connect(threads=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def lhc_con(hq, lhc_dir):
    c = hq.connect(threads=2)
    c.register("lhc", f"{lhc_dir}/")
    return c


def sorted_rows(table) -> list[tuple]:
    rows = list(zip(*[c.to_pylist() for c in table.columns]))
    return sorted(rows, key=repr)


# -- module, connection ------------------------------------------------------------------


def test_module_globals_and_exception_hierarchy(hq):
    assert hq.apilevel == "2.0"
    assert hq.threadsafety in (0, 1, 2, 3)
    assert hq.paramstyle == "qmark"
    assert issubclass(hq.Error, Exception) and issubclass(hq.Warning, Exception)
    assert issubclass(hq.InterfaceError, hq.Error)
    assert issubclass(hq.DatabaseError, hq.Error)
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(hq, name), hq.DatabaseError), name
    assert hq.ProgrammingError.__module__ == "hepq"
    package = Path(hq.__file__).parent
    assert (package / "py.typed").is_file() and (package / "_hepq.pyi").is_file()
    assert hq.connect.__doc__ and hq.Relation.arrow.__doc__ and hq.Cursor.execute.__doc__


def test_connect_settings_and_warehouse(hq, tmp_path):
    c = hq.connect(threads=3, memory_limit="256MiB")
    rel = c.sql("SHOW datafusion.execution.target_partitions")
    assert rel.fetchall()[0][1] == "3"
    warehouse = tmp_path / "wh"
    (warehouse / "tables" / "events").mkdir(parents=True)
    pq.write_table(pa.table({"a": [1, 2, 3]}), warehouse / "tables" / "events" / "part-0.parquet")
    w = hq.connect(warehouse=warehouse)
    assert "events" in w.tables()
    assert w.sql("SELECT sum(a) FROM events").fetchall() == [(6,)]
    with pytest.raises(hq.ProgrammingError, match="not a size"):
        hq.connect(memory_limit="lots")
    with pytest.raises(hq.ProgrammingError, match="threads"):
        hq.connect(threads=0)


def test_errors_carry_the_engine_message(con, hq):
    with pytest.raises(hq.ProgrammingError, match="nope"):
        con.sql("SELECT * FROM nope")
    with pytest.raises(hq.ProgrammingError) as e:
        con.sql("SELEC 1")
    assert "SELEC" in str(e.value)
    with pytest.raises(hq.DataError, match="(?i)cast"):
        con.sql("SELECT CAST('x' AS INT) AS v").arrow()
    with pytest.raises(hq.ProgrammingError, match="(?i)not exist|not found|cannot"):
        con.register("t", "/no/such/file.parquet")
    con.close()
    with pytest.raises(hq.InterfaceError):
        con.sql("SELECT 1")


# -- results against DuckDB ----------------------------------------------------------------

AGG = (
    "SELECT run, count(*) AS events, sum(nJet) AS jets, min(MET_pt) AS min_met, max(MET_pt) AS max_met "
    "FROM lhc GROUP BY run ORDER BY run"
)


def test_arrow_matches_duckdb(lhc_con, lhc_dir):
    got = lhc_con.sql(AGG).to_arrow_table()
    assert isinstance(got, pa.Table)
    want = duckdb_connect(lhc_dir).sql(AGG).to_arrow_table()
    assert got.column_names == want.column_names
    assert got.num_rows == want.num_rows >= 2
    for name in got.column_names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name


def test_pandas_matches_duckdb(lhc_con, lhc_dir):
    pd = pytest.importorskip("pandas")
    got = lhc_con.sql(AGG).pandas()
    want = duckdb_connect(lhc_dir).sql(AGG).df()
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_fetchall_with_lists_matches_duckdb(lhc_con, lhc_dir):
    q = "SELECT run, event, nJet, Jet_pt FROM lhc WHERE nJet >= 1 ORDER BY run, event LIMIT 200"
    got = lhc_con.sql(q).fetchall()
    want = duckdb_connect(lhc_dir).sql(q).fetchall()
    assert len(got) == 200
    assert got == [tuple(r) for r in want]
    assert lhc_con.sql(q).fetchone() == got[0]
    assert lhc_con.sql(q).fetchmany(3) == got[:3]


def test_polars_matches_duckdb(lhc_con, lhc_dir):
    pl = pytest.importorskip("polars")
    got = lhc_con.sql(AGG).polars()
    assert isinstance(got, pl.DataFrame)
    want = pl.from_arrow(duckdb_connect(lhc_dir).sql(AGG).to_arrow_table())
    assert got.columns == want.columns
    assert got.rows() == want.rows()
    # polars reads the relation through the PyCapsule interface.
    assert pl.DataFrame(lhc_con.sql(AGG)).rows() == want.rows()


def test_polars_missing_is_a_clear_import_error(con, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match="pip install polars"):
        con.sql("SELECT 1 AS a").polars()


def test_arrow_c_stream_consumers(lhc_con, lhc_dir):
    duckdb = pytest.importorskip("duckdb")
    rel = lhc_con.sql(AGG)
    want = duckdb_connect(lhc_dir).sql(AGG).to_arrow_table()
    assert pa.table(rel).to_pylist() == want.to_pylist()
    assert pa.RecordBatchReader.from_stream(rel).read_all().to_pylist() == want.to_pylist()
    assert pa.schema(rel).names == want.column_names
    # DuckDB scans any object with __arrow_c_stream__.
    arrow_rel = rel  # noqa: F841 (found by DuckDB's replacement scan by name)
    got = duckdb.sql("SELECT * FROM arrow_rel ORDER BY run").to_arrow_table()
    assert got.to_pylist() == want.to_pylist()


def test_to_batches_streams_lazily(con, hq):
    reader = con.sql("SELECT value FROM range(0, 1000000000000)").to_batches()
    assert isinstance(reader, pa.RecordBatchReader)
    start = time.monotonic()
    first = [reader.read_next_batch() for _ in range(3)]
    assert time.monotonic() - start < 10
    assert all(0 < b.num_rows <= hq.BATCH_ROWS for b in first)
    assert first[0].num_rows == hq.BATCH_ROWS  # the connection's batch size
    assert first[0].column(0)[0].as_py() == 0
    reader.close()  # releases the stream: the plan stops
    total = sum(b.num_rows for b in con.sql("SELECT value FROM range(0, 100000)").to_batches())
    assert total == 100_000
    con.sql("SET datafusion.execution.batch_size = 8192")
    sizes = [b.num_rows for b in con.sql("SELECT value FROM range(0, 100000)").to_batches()]
    assert sum(sizes) == 100_000 and max(sizes) == 8192


def test_relation_is_lazy_and_reruns(con):
    con.sql("CREATE TABLE t AS VALUES (1), (2)")
    rel = con.sql("SELECT count(*) AS n FROM t")
    assert rel.fetchall() == [(2,)]
    con.sql("INSERT INTO t VALUES (3)")  # runs at once
    assert rel.fetchall() == [(3,)]
    assert con.sql("CREATE VIEW v AS SELECT 1") is None


# -- zero copy -------------------------------------------------------------------------------


def buffer_ranges(table) -> list[tuple[int, int]]:
    """(address, size) of every non-empty buffer of every chunk."""
    out = []
    for column in table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None and buffer.size > 0:
                    out.append((buffer.address, buffer.size))
    return out


def shares_memory(result, source) -> bool:
    """Whether every buffer of `result` lies inside a buffer of `source` (slices allowed)."""
    ranges = buffer_ranges(source)
    return all(
        any(start <= address and address + size <= start + length for start, length in ranges)
        for address, size in buffer_ranges(result)
    )


def test_zero_copy_registered_table_round_trip(con):
    rng = np.random.default_rng(1)
    n = 1_000_000
    source = pa.table({"x": rng.normal(size=n), "i": np.arange(n)})
    source = pa.Table.from_batches(source.to_batches(max_chunksize=65536))
    before = pa.total_allocated_bytes()
    con.register("t", source)
    out = con.sql("SELECT x, i FROM t").arrow()
    again = con.sql("SELECT x, i FROM t").arrow()
    # pyarrow allocated nothing: the result's buffers are the registered table's.
    assert pa.total_allocated_bytes() - before < 1 << 16
    assert out.num_rows == n
    assert buffer_ranges(out), "no buffers?"
    assert shares_memory(out, source), "the result's buffers are not the registered table's"
    assert sorted(buffer_ranges(again)) == sorted(buffer_ranges(out))  # partitions may interleave
    assert pc.sum(out.column("x")).as_py() == pytest.approx(pc.sum(source.column("x")).as_py())


def test_zero_copy_export_allocates_nothing_in_pyarrow(con):
    n = 2_000_000
    before = pa.total_allocated_bytes()
    table = con.sql(f"SELECT value * 2 AS y FROM range(0, {n})").arrow()
    grown = pa.total_allocated_bytes() - before
    assert table.num_rows == n
    assert table.nbytes >= 8 * n
    assert grown < 1 << 16, f"pyarrow allocated {grown} bytes for a {table.nbytes}-byte result"
    assert pc.sum(table.column("y")).as_py() == n * (n - 1)


# -- registration ------------------------------------------------------------------------------


def test_register_paths_and_read_parquet(con, lhc_dir):
    con.register("lhc", f"{lhc_dir}/")
    duck = duckdb_connect(lhc_dir)
    assert con.sql("SELECT count(*) FROM lhc").fetchall() == duck.sql("SELECT count(*) FROM lhc").fetchall()
    one = sorted(lhc_dir.glob("run=*/*.parquet"))[0]
    rel = con.read_parquet(one)
    want = pq.read_table(one)
    got = rel.arrow()
    assert got.num_rows == want.num_rows
    assert got.column("MET_pt").to_pylist() == want.column("MET_pt").to_pylist()
    con.register("one", str(one), format="parquet")
    assert con.sql("SELECT count(*) FROM one").fetchall() == [(want.num_rows,)]
    assert "one" in con.tables()
    con.unregister("one")
    assert "one" not in con.tables()


def test_register_pandas_polars_reader_and_relation(con):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    df = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", None]})
    con.register("p", df)
    assert con.sql("SELECT a, s FROM p ORDER BY a").fetchall() == [(1, "x"), (2, "y"), (3, None)]
    con.register("q", pl.DataFrame({"a": [4, 5], "l": [[1.5], []]}))
    assert con.sql("SELECT a, l FROM q ORDER BY a").fetchall() == [(4, [1.5]), (5, [])]
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("v", pa.int32())]), [pa.record_batch([pa.array([7, 8], pa.int32())], names=["v"])]
    )
    con.register("r", reader)
    assert con.sql("SELECT sum(v) FROM r").fetchall() == [(15,)]
    con.register("d", {"k": [1, 2]})
    assert con.sql("SELECT max(k) FROM d").fetchall() == [(2,)]
    con.register("rel", con.sql("SELECT a * 10 AS b FROM p"))
    assert con.sql("SELECT sum(b) FROM rel").fetchall() == [(60,)]
    with pytest.raises(Exception, match="cannot register"):
        con.register("bad", object())
    # Without a name, and with parameters on the relation API.
    assert con.from_arrow(pa.table({"z": [1, 2, 3]})).fetchall() == [(1,), (2,), (3,)]
    assert con.sql("SELECT a FROM p WHERE a > ? ORDER BY a", [1]).fetchall() == [(2,), (3,)]


def test_many_arrow_types_round_trip(con):
    import datetime
    import decimal

    table = pa.table(
        {
            "b": pa.array([True, None, False]),
            "i8": pa.array([1, -2, None], pa.int8()),
            "u64": pa.array([2**63, 0, None], pa.uint64()),
            "f32": pa.array([1.5, None, -0.0], pa.float32()),
            "s": pa.array(["a", None, "ccc"]),
            "ls": pa.array(["x" * 20, "y", None], pa.large_string()),
            "sv": pa.array(["short", "a string longer than twelve bytes", None], pa.string_view()),
            "bin": pa.array([b"\x00\x01", None, b""]),
            "fsb": pa.array([b"ab", b"cd", None], pa.binary(2)),
            "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")], pa.decimal128(10, 2)),
            "d": pa.array([datetime.date(2024, 1, 2), None, datetime.date(1970, 1, 1)]),
            "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None, datetime.datetime(2000, 1, 1)], pa.timestamp("us")),
            "tz": pa.array([0, 1, None], pa.timestamp("ns", tz="UTC")),
            "l": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
            "ll": pa.array([[[1.0], [2.0, None]], [], None], pa.list_(pa.list_(pa.float64()))),
            "fsl": pa.array([[1, 2], [3, 4], None], pa.list_(pa.int16(), 2)),
            "st": pa.array([{"x": 1, "y": "a"}, None, {"x": None, "y": "c"}]),
            "dict": pa.array(["u", "v", "u"]).dictionary_encode(),
            "m": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int32())),
        }
    )
    sliced = table.slice(1, 2)  # non-zero offsets on every buffer
    for name, source in (("full", table), ("sliced", sliced)):
        con.register(name, source)
        got = con.sql(f"SELECT * FROM {name}").arrow()
        assert got.to_pylist() == source.to_pylist(), name
        assert [f.type for f in got.schema] == [f.type for f in source.schema], name


# -- awkward, hist -------------------------------------------------------------------------


def test_awkward_round_trip_nested_lists(con):
    ak = pytest.importorskip("awkward")
    arr = ak.Array(
        [
            {"id": 1, "hits": [[1.0, 2.5], [], [3.25]]},
            {"id": 2, "hits": []},
            {"id": 3, "hits": [[-1.0], [0.5, 0.25, 0.125]]},
        ]
    )
    con.register("a", arr)
    got = con.sql("SELECT id, hits FROM a ORDER BY id").awkward()
    assert isinstance(got, ak.Array)
    assert ak.to_list(got) == ak.to_list(arr)
    assert str(ak.type(got["hits"])).count("var") == 2
    # Per-event sums over the nested lists, against awkward's own.
    sums = con.sql("SELECT id, list_sum(flatten(hits)) AS s FROM a ORDER BY id").awkward()
    want = ak.sum(ak.flatten(arr["hits"], axis=2), axis=1)
    assert ak.to_list(sums["s"]) == pytest.approx(ak.to_list(want))


def test_awkward_types_match_uproot(con, tmp_path):
    """Jagged branches come to awkward with uproot's types (no option type without NULLs)."""
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    path = tmp_path / "typed.root"
    jets = ak.Array([[1.5, 2.5], [], [3.0, 4.0, 5.0]])
    with uproot.recreate(path) as f:
        f["Events"] = {"Jet_pt": ak.values_astype(jets, "float32"), "run": [1, 2, 3]}
    got = con.sql(f"SELECT Jet_pt FROM read_root('{path}', 'Events')").awkward()
    want = uproot.open(path)["Events"].arrays(["Jet_pt"])
    assert str(ak.type(got["Jet_pt"])) == str(ak.type(want["Jet_pt"])) == "3 * var * float32"
    assert ak.array_equal(got["Jet_pt"], want["Jet_pt"], dtype_exact=False)
    # Where NULLs occur the option type stays, at the level that has them.
    mixed = con.sql("SELECT [1.0, NULL] AS l, CAST(NULL AS INT) AS n, 2 AS m").awkward()
    assert str(ak.type(mixed["l"])) == "1 * var * ?float64"
    assert str(ak.type(mixed["n"])) == "1 * ?int32"
    assert str(ak.type(mixed["m"])) == "1 * int64"
    assert ak.to_list(mixed) == [{"l": [1.0, None], "n": None, "m": 2}]


def test_read_root_and_rntuple_match_uproot(con, tmp_path):
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    path = tmp_path / "events.root"
    jets = ak.Array([[1.5, 2.5], [], [3.0, 4.0, 5.0], [6.0]])
    with uproot.recreate(path) as f:
        f.mktree("Events", {"nJet": "int32", "Jet_pt": "var * float32", "MET_pt": "float32"})
        f["Events"].extend(
            {
                "nJet": ak.num(jets).to_numpy().astype(np.int32),
                "Jet_pt": ak.values_astype(jets, np.float32),
                "MET_pt": np.array([10.0, 20.5, 30.25, 0.0], np.float32),
            }
        )
    want = uproot.open(path)["Events"].arrays(["MET_pt", "Jet_pt"])
    got = con.read_root(path, "Events").awkward()
    assert ak.to_list(got["MET_pt"]) == ak.to_list(want["MET_pt"])
    assert ak.to_list(got["Jet_pt"]) == ak.to_list(want["Jet_pt"])
    assert con.read_root(path).arrow().num_rows == 4
    if not MUONS_RNTUPLE.exists():
        skip_or_fail(f"missing test data {MUONS_RNTUPLE}")
    rnt = con.read_rntuple(MUONS_RNTUPLE).arrow()
    ref = uproot.open(MUONS_RNTUPLE)["Events"].arrays()
    assert rnt.num_rows == len(ref)
    name = next(n for n in rnt.column_names if n in ref.fields)
    assert ak.to_list(ak.from_arrow(rnt.column(name))) == ak.to_list(ref[name])


def test_hist_equals_hist_filled_directly(con, hq):
    hist = pytest.importorskip("hist")
    pytest.importorskip("uhi")
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.5, 50_000)
    x[:3] = [-3.0, 3.0, np.nan]
    con.register("h", pa.table({"x": x}))
    h = con.sql("SELECT hist(x, 20, -3, 3) FROM h").hist()
    assert isinstance(h, hist.Hist)
    ref = hist.Hist(hist.axis.Regular(20, -3, 3)).fill(x)
    np.testing.assert_array_equal(h.values(flow=True), ref.values(flow=True))
    np.testing.assert_array_equal(h.axes[0].edges, ref.axes[0].edges)
    grouped = con.sql("SELECT x > 0 AS pos, hist(x, 20, -3, 3) AS h FROM h GROUP BY x > 0 ORDER BY pos")
    hs = grouped.hists("h")
    assert len(hs) == 2
    np.testing.assert_array_equal(hs[0].values(flow=True) + hs[1].values(flow=True), ref.values(flow=True))
    with pytest.raises(hq.ProgrammingError, match="one row"):
        grouped.hist("h")
    with pytest.raises(hq.ProgrammingError, match="name the histogram column"):
        grouped.hist()


# -- display ---------------------------------------------------------------------------------


def test_show_repr_and_html(con, capsys):
    rel = con.sql("SELECT 1 AS alpha, 'x<y' AS beta, [1.5, 2.0] AS gamma")
    rel.show()
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "x<y" in out and "1.5" in out
    text = repr(rel)
    assert "hepq.Relation" in text and "alpha" in text
    page = rel._repr_html_()
    assert "<table>" in page and "alpha" in page and "x&lt;y" in page
    assert rel.columns == ["alpha", "beta", "gamma"]
    assert "ProjectionExec" in rel.explain() or "Projection" in rel.explain()


# -- DB-API ----------------------------------------------------------------------------------


def test_dbapi_cursor(con, hq):
    cur = con.cursor()
    assert cur.execute("CREATE TABLE items (id INT, name TEXT, price DOUBLE)") is cur
    assert cur.description is None
    cur.executemany("INSERT INTO items VALUES (?, ?, ?)", [(1, "a", 1.5), (2, "b", 2.5), (3, "c", None)])
    assert cur.rowcount == 3
    cur.execute("SELECT id, name, price FROM items WHERE id >= ? AND name <> ? ORDER BY id", [1, "b"])
    assert [d[0] for d in cur.description] == ["id", "name", "price"]
    assert cur.description[0][1] == hq.NUMBER and cur.description[1][1] == hq.STRING
    assert cur.description[1][1] != hq.NUMBER
    assert cur.rowcount == 2
    assert cur.fetchone() == (1, "a", 1.5)
    assert cur.fetchmany(5) == [(3, "c", None)]
    assert cur.fetchone() is None
    assert cur.fetchall() == []
    cur.execute("SELECT $1 + 1 AS n, $2 AS s", (41, "it's ? here"))
    assert cur.fetchall() == [(42, "it's ? here")]
    cur.execute("SELECT '?' AS q, ? AS v -- a ? in a comment", [None])
    assert cur.fetchall() == [("?", None)]
    assert list(con.execute("SELECT id FROM items ORDER BY id")) == [(1,), (2,), (3,)]
    with pytest.raises(hq.ProgrammingError, match="placeholders"):
        cur.execute("SELECT ?", [])
    with pytest.raises(hq.ProgrammingError):
        cur.execute("SELECT * FROM missing_table")
    cur.close()
    with pytest.raises(hq.InterfaceError):
        cur.execute("SELECT 1")
    con.commit()
    con.rollback()


def test_pandas_read_sql(lhc_con, lhc_dir):
    pd = pytest.importorskip("pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas: "only supports SQLAlchemy …"
        got = pd.read_sql(AGG, lhc_con)
        some = pd.read_sql("SELECT count(*) AS n FROM lhc WHERE nJet >= ?", lhc_con, params=[2])
    want = duckdb_connect(lhc_dir).sql(AGG).df()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    duck = duckdb_connect(lhc_dir).sql("SELECT count(*) FROM lhc WHERE nJet >= 2").fetchall()[0][0]
    assert some["n"].tolist() == [duck]


# -- GIL and Ctrl-C ----------------------------------------------------------------------------


def interrupt_after(seconds: float) -> list[float]:
    """Sends SIGINT to this process after `seconds`; returns [time sent] once sent."""
    sent: list[float] = []

    def fire():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return sent


def busy(seconds: float) -> None:
    """Runs Python bytecode for `seconds` (where a pending signal is raised at once; a
    `time.sleep` would only see it when it ends)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


@pytest.mark.parametrize("how", ["arrow", "fetchall", "cursor", "pyarrow_stream"])
def test_ctrl_c_cancels_a_running_query_within_a_second(con, how):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    rel = con.sql(ENDLESS)
    sent = interrupt_after(0.5)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        if how == "arrow":
            rel.arrow()
        elif how == "fetchall":
            rel.fetchall()
        elif how == "cursor":
            con.cursor().execute(ENDLESS)
        else:
            # pyarrow pulls the stream without the GIL: the pull fails (pyarrow raises its own
            # error) and Python raises the KeyboardInterrupt right after.
            try:
                pa.table(rel)
            except (OSError, pa.ArrowException):
                busy(5)
        busy(5)  # a KeyboardInterrupt raised late, after the call, still counts as late
    ended = time.monotonic()
    assert sent, "the timer did not fire"
    assert ended - sent[0] < 1.0, f"cancelled {ended - sent[0]:.2f}s after SIGINT"
    assert ended - start < 5
    # The session still works, and the aborted query no longer runs.
    assert con.sql("SELECT 40 + 2 AS v").fetchall() == [(42,)]


def test_gil_is_released_while_a_query_runs(con):
    result = {}

    def run():
        result["v"] = con.sql("SELECT sum(value % 3) AS s FROM range(0, 30000000)").fetchall()

    worker = threading.Thread(target=run)
    start = time.monotonic()
    worker.start()
    ticks = 0
    while worker.is_alive():
        ticks += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    worker.join()
    assert result["v"] == [(sum(range(3)) * 10_000_000,)]
    # With the GIL held for the whole query the loop could not tick at all meanwhile.
    assert elapsed < 0.05 or ticks >= elapsed * 100, (ticks, elapsed)
