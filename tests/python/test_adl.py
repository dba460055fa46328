"""The ADL benchmark queries (bench/adl/qN.sql) against the uproot + awkward + vector reference.

Each query runs through the documented contract, `hepq sql --register events=PATH -f qN.sql
--format ndjson`: one line, a JSON object whose single value is the UHI histogram document. The
document must pass `uhi.schema`, load into `hist.Hist`, and equal bench/adl/reference.py's
histogram of the same task bin for bin (flow bins included) on the 1000 real CMS events.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from conftest import REPO_ROOT, skip_or_fail

hist = pytest.importorskip("hist")
pytest.importorskip("uproot")
pytest.importorskip("awkward")
pytest.importorskip("vector")
uhi_schema = pytest.importorskip("uhi.schema")
uhi_json = pytest.importorskip("uhi.io.json")
pytest.importorskip("fastjsonschema")

ADL = REPO_ROOT / "bench" / "adl"
CMS = REPO_ROOT.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"


def _load_reference():
    spec = importlib.util.spec_from_file_location("adl_reference", ADL / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()


@pytest.fixture(scope="module")
def expected():
    if not CMS.is_file():
        skip_or_fail(f"CMS open-data file missing: {CMS}")
    return reference.histograms(CMS)


def run_query(hepq, query: str, path=CMS) -> dict:
    run = hepq.run("sql", "--register", f"events={path}", "-f", str(ADL / f"{query}.sql"),
                   "--format", "ndjson")
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line:\n{run.describe()}"
    row = json.loads(lines[0])
    assert isinstance(row, dict) and len(row) == 1, run.describe()
    (doc,) = row.values()
    assert isinstance(doc, dict), f"the value is not a JSON document:\n{run.describe()}"
    return doc


@pytest.mark.parametrize("query", reference.QUERIES)
def test_query_equals_reference(hepq, expected, query):
    doc = run_query(hepq, query)
    uhi_schema.validate_histogram(doc)
    got = hist.Hist(json.loads(json.dumps(doc), object_hook=uhi_json.object_hook))
    want = expected[query]
    assert got.axes[0].edges.tolist() == pytest.approx(want.axes[0].edges.tolist())
    got_values = got.values(flow=True)
    want_values = want.values(flow=True)
    assert want_values.sum() > 0, f"{query}: the reference histogram is empty"
    differ = np.nonzero(got_values != want_values)[0]
    assert differ.size == 0, (
        f"{query}: bins (flow-indexed) {differ.tolist()[:10]} differ: hepq "
        f"{got_values[differ][:10].tolist()} vs reference {want_values[differ][:10].tolist()}"
    )


def test_every_query_has_a_header():
    """Each query file states its task (and edge choices) in a leading comment."""
    for query in reference.QUERIES:
        text = (ADL / f"{query}.sql").read_text()
        assert text.startswith(f"-- ADL {query}:"), f"{query}.sql lacks its header comment"
