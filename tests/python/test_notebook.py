"""hepq in notebooks: jupysql's `%sql` magics on a hepq DB-API connection, and histogram
results that draw themselves (mplhep), checked against uproot, numpy and boost-histogram.

The IPython shell runs in this process (IPython's test shell, no kernel); matplotlib draws
with its Agg backend. jupysql's telemetry and version check are switched off before import
(the suite runs without network).
"""

from __future__ import annotations

import math
import os

import pytest

from conftest import REPO_ROOT, skip_or_fail

os.environ["PLOOMBER_STATS_ENABLED"] = "false"
os.environ["PLOOMBER_VERSION_CHECK_DISABLED"] = "true"
os.environ.setdefault("MPLBACKEND", "Agg")

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")

CMS_FILE = REPO_ROOT.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"


@pytest.fixture(scope="module")
def hq():
    try:
        import hepq as module
    except ImportError as e:
        skip_or_fail(f"the hepq Python module is not importable ({e}); scripts/test.sh builds it")
    return module


@pytest.fixture(scope="module")
def cms():
    """MET_pt, nJet and Jet_pt of the real CMS events, read by uproot."""
    uproot = pytest.importorskip("uproot")
    if not CMS_FILE.is_file():
        skip_or_fail(f"{CMS_FILE} is missing")
    return uproot.open(CMS_FILE)["Events"].arrays(["MET_pt", "nJet", "Jet_pt"], library="np")


@pytest.fixture()
def con(hq):
    c = hq.connect(threads=2)
    c.register("ev", str(CMS_FILE))
    yield c
    c.close()


@pytest.fixture(autouse=True)
def fresh_figures():
    """jupysql draws on pyplot's current figure: every test starts with none open."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        yield
        return
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def shell():
    """IPython's in-process test shell (one per process) with jupysql loaded."""
    pytest.importorskip("IPython")
    pytest.importorskip("sql")  # jupysql
    from IPython.testing import globalipapp

    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "sql")
    return shell


@pytest.fixture()
def ip(shell, con):
    """The shell with `con` as jupysql's current connection."""
    shell.user_ns["con"] = con
    shell.run_line_magic("config", "SqlMagic.autopandas = False")
    shell.run_line_magic("sql", "con --alias hepq")
    yield shell
    shell.run_line_magic("sql", "--close hepq")


def run(shell, cell: str):
    """Runs a cell; fails the test with the cell's error, if any."""
    result = shell.run_cell(cell)
    if result.error_before_exec or result.error_in_exec:
        pytest.fail(f"cell failed: {cell!r}: {result.error_before_exec or result.error_in_exec!r}")
    return result.result


# -- jupysql ------------------------------------------------------------------------------------


def test_jupysql_line_and_cell_magics(ip, cms):
    met = cms["MET_pt"]
    rows = run(ip, "%sql SELECT count(*) AS n, sum(MET_pt) AS s FROM ev")
    ((n, s),) = list(rows)
    assert n == len(met)
    assert math.isclose(s, float(np.sum(met.astype(np.float64))), rel_tol=1e-6)

    ip.user_ns["cut"] = 40.0
    rows = run(ip, "%%sql\nSELECT count(*) AS n FROM ev WHERE MET_pt > {{cut}}")
    assert list(rows)[0][0] == int(np.sum(met > 40.0))

    # `<<` assignment, then the ResultSet as a pandas DataFrame.
    run(ip, "%sql jets << SELECT nJet, count(*) AS events FROM ev GROUP BY nJet ORDER BY nJet")
    frame = ip.user_ns["jets"].DataFrame()
    counts = np.bincount(cms["nJet"])
    expected = {k: int(v) for k, v in enumerate(counts) if v}
    assert dict(zip(frame["nJet"].tolist(), frame["events"].tolist())) == expected


def test_jupysql_saved_snippets_and_autopandas(ip, cms):
    met = cms["MET_pt"]
    run(ip, "%%sql --save high_met --no-execute\nSELECT MET_pt, nJet FROM ev WHERE MET_pt > 30")
    rows = run(ip, "%sql SELECT count(*) FROM high_met WHERE nJet >= 2")
    assert list(rows)[0][0] == int(np.sum((met > 30) & (cms["nJet"] >= 2)))
    run(ip, "%config SqlMagic.autopandas = True")
    frame = run(ip, "%sql SELECT MET_pt FROM ev ORDER BY MET_pt DESC LIMIT 5")
    np.testing.assert_allclose(frame["MET_pt"].to_numpy(), np.sort(met)[::-1][:5], rtol=1e-6)


def test_jupysql_histogram_plot(ip, cms):
    """`%sqlplot histogram` runs jupysql's own binning SQL on hepq; the bars it draws equal
    the same binning computed by numpy."""
    met = cms["MET_pt"].astype(np.float64)
    bins = 10
    ax = run(ip, "%sqlplot histogram --table ev --column MET_pt --bins 10")
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == len(met)
    # jupysql's binning: ceiling(x / w - 0.5) * w with w = (max - min) / (bins - 1).
    width = (met.max() - met.min()) / (bins - 1)
    centres = np.ceil(met / width - 0.5) * width
    _, expected = np.unique(np.round(centres, 6), return_counts=True)
    assert sorted(heights) == sorted(expected.tolist())


def test_jupysql_reports_engine_errors(ip, hq):
    result = ip.run_cell("%sql SELECT no_such_column FROM ev")
    error = result.error_in_exec
    assert error is not None
    assert "no_such_column" in str(error)


# -- histogram results draw themselves ----------------------------------------------------------


def test_plot_1d_draws_the_histogram(con, cms):
    pytest.importorskip("mplhep")
    bh = pytest.importorskip("boost_histogram")
    met = cms["MET_pt"]
    ax = con.sql("SELECT hist(MET_pt, 20, 0, 100) AS h FROM ev").plot()
    ref = bh.Histogram(bh.axis.Regular(20, 0, 100))
    ref.fill(met)
    (stairs,) = [a for a in ax.patches if type(a).__name__ == "StepPatch"]
    values, edges, _ = stairs.get_data()
    np.testing.assert_array_equal(values, ref.values())
    np.testing.assert_allclose(edges, ref.axes[0].edges)
    assert ax.get_xlabel() == "MET_pt"


def test_plot_2d_and_categories(con, cms):
    pytest.importorskip("mplhep")
    bh = pytest.importorskip("boost_histogram")
    met = cms["MET_pt"]
    njet = cms["nJet"]
    ax = con.sql("SELECT hist2d(MET_pt, nJet, 10, 0, 100, 5, 0, 5) FROM ev").plot()
    ref = bh.Histogram(bh.axis.Regular(10, 0, 100), bh.axis.Regular(5, 0, 5))
    ref.fill(met, njet)
    mesh = ax.collections[0]
    # pcolormesh takes the values transposed (y rows, x columns).
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(5, 10), ref.values().T)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("MET_pt", "nJet")

    ax = con.sql(
        "SELECT hist_cat(CASE WHEN nJet >= 2 THEN 'multijet' ELSE 'fewjet' END, MET_pt, 10, 0, 100) FROM ev"
    ).plot()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["fewjet", "multijet"]
    drawn = {}
    stairs = [a for a in ax.patches if type(a).__name__ == "StepPatch"]
    for name, patch in zip(legend, stairs):
        drawn[name] = patch.get_data()[0]
    for name, mask in (("multijet", njet >= 2), ("fewjet", njet < 2)):
        ref = bh.Histogram(bh.axis.Regular(10, 0, 100))
        ref.fill(met[mask])
        np.testing.assert_array_equal(drawn[name], ref.values())


def test_plot_needs_one_histogram(con, hq):
    with pytest.raises(hq.ProgrammingError, match="exactly one row"):
        con.sql("SELECT nJet, hist(MET_pt, 10, 0, 100) AS h FROM ev GROUP BY nJet").plot("h")
    with pytest.raises(hq.DataError, match="histogram documents"):
        con.sql("SELECT 1 AS x").plot()


def test_notebook_display_draws_one_row_histograms(con, cms):
    pytest.importorskip("mplhep")
    page = con.sql("SELECT hist(MET_pt, 20, 0, 100) AS met, count(*) AS n FROM ev")._repr_html_()
    assert "<svg" in page and "<figcaption>met</figcaption>" in page
    entries = len(cms["MET_pt"])
    assert f"histogram [MET_pt: regular(20, 0, 100)] int, entries {entries}" in page
    assert '"uhi_schema"' not in page

    # Several rows: one summary per cell, no drawings.
    page = con.sql(
        "SELECT nJet >= 2 AS multijet, hist(MET_pt, 20, 0, 100) AS met FROM ev GROUP BY nJet >= 2"
    )._repr_html_()
    assert "<svg" not in page
    assert page.count("histogram [MET_pt: regular(20, 0, 100)]") == 2


def test_display_without_mplhep_uses_hists_own_drawing(con, monkeypatch):
    """Without matplotlib/mplhep the drawing is hist's own SVG (hist needs no matplotlib)."""
    pytest.importorskip("hist")
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] in ("matplotlib", "mplhep"):
            raise ImportError(f"no module named {name} (hidden by the test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    page = con.sql("SELECT hist(MET_pt, 20, 0, 100) AS met FROM ev")._repr_html_()
    assert "<svg" in page and "entries" in page
    with pytest.raises(ImportError, match="mplhep"):
        con.sql("SELECT hist(MET_pt, 20, 0, 100) AS met FROM ev").plot()


def test_jupysql_bar_and_pie(ip, cms):
    """`%sqlplot bar` and `pie` count values with jupysql's GROUP BY queries."""
    counts = np.bincount(cms["nJet"])
    expected = sorted(int(v) for v in counts if v)
    ax = run(ip, "%sqlplot bar --table ev --column nJet")
    assert sorted(int(p.get_height()) for p in ax.patches) == expected
    ax = run(ip, "%sqlplot pie --table ev --column nJet")
    wedges = [p for p in ax.patches if type(p).__name__ == "Wedge"]
    angles = sorted(round(w.theta2 - w.theta1, 6) for w in wedges)
    total = sum(expected)
    assert angles == sorted(round(360.0 * v / total, 6) for v in expected)
