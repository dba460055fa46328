"""Differential property tests of hepq's list and kinematics functions against awkward + vector.

Random jagged events (seeded; empty collections included) are written to Parquet with pyarrow,
once with Float32 and once with Float64 columns. hepq reads them through the CLI and computes
every function; awkward and vector compute the same quantities from the same numbers (the
Float32 inputs promoted to float64). Results must agree within 1e-6 relative for Float64 and
1e-4 for Float32 (with the same absolute tolerance near zero). Element types are checked too:
Float32 inputs must give Float32 results.

Positions are 1-based in hepq and 0-based in awkward; the reference adds 1.
"""

from __future__ import annotations

import math

import pytest

np = pytest.importorskip("numpy")
ak = pytest.importorskip("awkward")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
vector = pytest.importorskip("vector")
vector.register_awkward()

EVENTS = 1500
SEED = 20240611
TOL = {"f32": 1e-4, "f64": 1e-6}


def jagged(rng, counts, values):
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return ak.unflatten(values, counts), offsets


def make_events(rng):
    """Jets (0..7 per event, some empty) and muons (0..3) with pt, eta, phi, mass."""
    n_jet = rng.poisson(3.0, EVENTS).clip(0, 7)
    n_mu = rng.poisson(1.2, EVENTS).clip(0, 3)
    n_jet[:20] = 0  # make sure empty collections occur
    n_mu[10:30] = 0
    cols = {}
    for name, counts in (("Jet", n_jet), ("Muon", n_mu)):
        total = int(counts.sum())
        cols[f"{name}_pt"] = (rng.exponential(30.0, total) + 5.0, counts)
        cols[f"{name}_eta"] = (rng.normal(0.0, 1.5, total), counts)
        cols[f"{name}_phi"] = (rng.uniform(-math.pi, math.pi, total), counts)
        cols[f"{name}_mass"] = (rng.uniform(0.0, 10.0, total), counts)
    return cols


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """{'f32': (parquet path, awkward arrays), 'f64': (…)} over the same random numbers."""
    rng = np.random.default_rng(SEED)
    cols = make_events(rng)
    met_pt = rng.exponential(40.0, EVENTS)
    met_phi = rng.uniform(-math.pi, math.pi, EVENTS)
    out = {}
    root = tmp_path_factory.mktemp("udfs")
    for kind, np_type, pa_type in (("f32", np.float32, pa.float32()), ("f64", np.float64, pa.float64())):
        arrays = {"event": pa.array(np.arange(EVENTS, dtype=np.int64))}
        ref = {}
        for name, (values, counts) in cols.items():
            v = values.astype(np_type)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            arrays[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(v, type=pa_type))
            # The reference computes in float64 from exactly the stored numbers.
            ref[name] = ak.unflatten(v.astype(np.float64), counts)
        arrays["MET_pt"] = pa.array(met_pt.astype(np_type), type=pa_type)
        arrays["MET_phi"] = pa.array(met_phi.astype(np_type), type=pa_type)
        ref["MET_pt"] = met_pt.astype(np_type).astype(np.float64)
        ref["MET_phi"] = met_phi.astype(np_type).astype(np.float64)
        path = root / f"events_{kind}.parquet"
        pq.write_table(pa.table(arrays), path)
        out[kind] = (path, ref)
    return out


def query(hepq, path, select: str) -> list[dict]:
    rows = hepq.sql(f"SELECT event, {select} FROM ev ORDER BY event", register={"ev": str(path)})
    assert len(rows) == EVENTS, f"expected {EVENTS} rows, got {len(rows)}"
    assert [r["event"] for r in rows] == list(range(EVENTS))
    return rows


def types(hepq, path, exprs: dict[str, str]) -> dict[str, str]:
    sql = ", ".join(f"arrow_typeof({e}) AS {k}" for k, e in exprs.items())
    (row,) = hepq.sql(f"SELECT {sql} FROM ev LIMIT 1", register={"ev": str(path)})
    return row


def close(got, want, tol, where="") -> None:
    """Recursive comparison: lists by length and element, numbers within `tol`, None exactly."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, list), f"{where}: expected a list {want!r}, got {got!r}"
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}: {got!r} vs {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, tol, f"{where}[{i}]")
        return
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: expected a struct {want!r}, got {got!r}"
        for k, w in want.items():
            close(got.get(k), w, tol, f"{where}.{k}")
        return
    if want is None or (isinstance(want, float) and math.isnan(want)):
        assert got is None, f"{where}: expected NULL, got {got!r}"
        return
    if isinstance(want, bool):
        assert got is want, f"{where}: {got!r} != {want!r}"
        return
    assert got is not None, f"{where}: got NULL, expected {want!r}"
    assert math.isclose(float(got), float(want), rel_tol=tol, abs_tol=tol), f"{where}: {got!r} != {want!r}"


def check(rows, column: str, reference, tol) -> None:
    want = ak.to_list(reference)
    assert len(want) == len(rows)
    for row, w in zip(rows, want):
        close(row[column], w, tol, f"{column} (event {row['event']})")


def plus_one(indices):
    return ak.to_list(indices + 1)


def p4(ref, name):
    return vector.zip(
        {
            "pt": ref[f"{name}_pt"],
            "eta": ref[f"{name}_eta"],
            "phi": ref[f"{name}_phi"],
            "mass": ref[f"{name}_mass"],
        }
    )


def summed(v):
    """The four-vector sum per event, built from summed Cartesian components."""
    return vector.zip(
        {
            "px": ak.sum(v.px, axis=-1),
            "py": ak.sum(v.py, axis=-1),
            "pz": ak.sum(v.pz, axis=-1),
            "E": ak.sum(v.E, axis=-1),
        }
    )


KINDS = ["f32", "f64"]


@pytest.mark.parametrize("kind", KINDS)
def test_reductions(hepq, dataset, kind):
    path, ref = dataset[kind]
    tol = TOL[kind]
    pt = ref["Jet_pt"]
    rows = query(
        hepq,
        path,
        "list_sum(Jet_pt) AS s, list_min(Jet_pt) AS mn, list_max(Jet_pt) AS mx, "
        "list_mean(Jet_pt) AS mean, list_argmin(Jet_pt) AS amin, list_argmax(Jet_pt) AS amax, "
        "list_count_true(Jet_pt > 30) AS nt, list_any(Jet_pt > 60) AS anyv, "
        "list_all(Jet_pt > 10) AS allv, list_first(Jet_pt) AS first, list_last(Jet_pt) AS last",
    )
    check(rows, "s", ak.sum(pt, axis=-1), tol)
    check(rows, "mn", ak.min(pt, axis=-1), tol)
    check(rows, "mx", ak.max(pt, axis=-1), tol)
    check(rows, "mean", ak.mean(pt, axis=-1), tol)
    check(rows, "amin", [None if a is None else a + 1 for a in ak.to_list(ak.argmin(pt, axis=-1))], 0)
    check(rows, "amax", [None if a is None else a + 1 for a in ak.to_list(ak.argmax(pt, axis=-1))], 0)
    check(rows, "nt", ak.sum(pt > 30, axis=-1), 0)
    check(rows, "anyv", ak.any(pt > 60, axis=-1), 0)
    check(rows, "allv", ak.all(pt > 10, axis=-1), 0)
    check(rows, "first", ak.firsts(pt), tol)
    check(rows, "last", ak.firsts(pt[:, ::-1]), tol)
    t = types(hepq, path, {"s": "list_sum(Jet_pt)", "mx": "list_max(Jet_pt)", "mean": "list_mean(Jet_pt)"})
    want = "Float32" if kind == "f32" else "Float64"
    assert t == {"s": want, "mx": want, "mean": want}


@pytest.mark.parametrize("kind", KINDS)
def test_selection(hepq, dataset, kind):
    path, ref = dataset[kind]
    tol = TOL[kind]
    pt, eta = ref["Jet_pt"], ref["Jet_eta"]
    rows = query(
        hepq,
        path,
        "list_where(Jet_pt, Jet_pt > 30 AND abs(Jet_eta) < 1.5) AS sel, "
        "list_argsort(Jet_pt, 'DESC') AS order_desc, list_argsort(Jet_eta) AS order_asc, "
        "list_select(Jet_eta, list_argsort(Jet_pt, 'DESC')) AS eta_by_pt, "
        "list_local_index(Jet_pt) AS idx, list_pad(Jet_pt, 4, -1.0) AS padded, "
        "list_select(Jet_pt, [2, -1]) AS picked",
    )
    check(rows, "sel", pt[(pt > 30) & (abs(eta) < 1.5)], tol)
    order = ak.argsort(pt, axis=-1, ascending=False, stable=True)
    check(rows, "order_desc", plus_one(order), 0)
    check(rows, "order_asc", plus_one(ak.argsort(eta, axis=-1, stable=True)), 0)
    check(rows, "eta_by_pt", eta[order], tol)
    check(rows, "idx", plus_one(ak.local_index(pt)), 0)
    check(rows, "padded", ak.fill_none(ak.pad_none(pt, 4), -1.0), tol)
    second = ak.pad_none(pt, 2)[:, 1]
    last = ak.firsts(pt[:, ::-1])
    check(rows, "picked", [[a, b] for a, b in zip(ak.to_list(second), ak.to_list(last))], tol)
    t = types(hepq, path, {"sel": "list_where(Jet_pt, Jet_pt > 30)", "pad": "list_pad(Jet_pt, 4, -1.0)"})
    want = "Float32" if kind == "f32" else "Float64"
    assert t == {"sel": f"List({want})", "pad": f"List({want})"}


@pytest.mark.parametrize("kind", KINDS)
def test_elementwise(hepq, dataset, kind):
    path, ref = dataset[kind]
    tol = TOL[kind]
    pt, eta, phi = ref["Jet_pt"], ref["Jet_eta"], ref["Jet_phi"]
    rows = query(
        hepq,
        path,
        "Jet_pt * 2 + Jet_eta AS lin, Jet_pt / Jet_mass AS ratio, Jet_pt - MET_pt AS diff, "
        "(Jet_pt > 30) OR (Jet_eta < 0) AS m, elementwise_neg(Jet_eta) AS neg, "
        "abs(Jet_eta) AS a, sqrt(Jet_pt) AS sq, exp(Jet_eta) AS ex, ln(Jet_pt) AS lnv, "
        "log(Jet_pt) AS lg, sin(Jet_phi) AS s, cos(Jet_phi) AS c, sinh(Jet_eta) AS sh, "
        "cosh(Jet_eta) AS ch, atan2(Jet_eta, Jet_phi) AS at",
    )
    check(rows, "lin", pt * 2 + eta, tol)
    check(rows, "ratio", pt / ref["Jet_mass"], tol)
    check(rows, "diff", pt - ref["MET_pt"], tol)
    check(rows, "m", (pt > 30) | (eta < 0), 0)
    check(rows, "neg", -eta, tol)
    check(rows, "a", abs(eta), tol)
    check(rows, "sq", np.sqrt(pt), tol)
    check(rows, "ex", np.exp(eta), tol)
    check(rows, "lnv", np.log(pt), tol)
    check(rows, "lg", np.log10(pt), tol)
    check(rows, "s", np.sin(phi), tol)
    check(rows, "c", np.cos(phi), tol)
    check(rows, "sh", np.sinh(eta), tol)
    check(rows, "ch", np.cosh(eta), tol)
    check(rows, "at", np.arctan2(eta, phi), tol)
    if kind == "f32":
        t = types(hepq, path, {"lin": "Jet_pt * 2 + Jet_eta", "sq": "sqrt(Jet_pt)", "a": "abs(Jet_eta)"})
        assert t == {"lin": "List(Float32)", "sq": "List(Float32)", "a": "List(Float32)"}


@pytest.mark.parametrize("kind", KINDS)
def test_combinatorics(hepq, dataset, kind):
    path, ref = dataset[kind]
    pt, mu = ref["Jet_pt"], ref["Muon_pt"]
    rows = query(
        hepq,
        path,
        "list_argcombinations(Jet_pt, 2) AS c2, list_argcombinations(Jet_pt, 3) AS c3, "
        "list_argcartesian(Muon_pt, Jet_pt) AS cart, "
        "list_select(Jet_pt, list_argcombinations(Jet_pt, 2)) AS pairs",
    )

    def tuples(records, k):
        return [[[t[i] + 1 for i in range(k)] for t in ev] for ev in ak.to_list(records)]

    check(rows, "c2", tuples(ak.argcombinations(pt, 2), 2), 0)
    check(rows, "c3", tuples(ak.argcombinations(pt, 3), 3), 0)
    check(rows, "cart", tuples(ak.argcartesian([mu, pt]), 2), 0)
    pairs = ak.combinations(pt, 2)
    check(rows, "pairs", [[[t[0], t[1]] for t in ev] for ev in ak.to_list(pairs)], TOL[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_kinematics(hepq, dataset, kind):
    path, ref = dataset[kind]
    tol = TOL[kind]
    jets, mus = p4(ref, "Jet"), p4(ref, "Muon")
    rows = query(
        hepq,
        path,
        "delta_phi(Jet_phi, MET_phi) AS dphi, delta_r(Jet_eta, Jet_phi, 0.5, MET_phi) AS dr_scalar, "
        "delta_r(Jet_eta, Jet_phi, Jet_phi, Jet_eta) AS dr_lists, "
        "min_delta_r(Muon_eta, Muon_phi, Jet_eta, Jet_phi) AS mindr, "
        "transverse_mass(Muon_pt, Muon_phi, MET_pt, MET_phi) AS mt, "
        "inv_mass(Jet_pt, Jet_eta, Jet_phi, Jet_mass) AS m_all, "
        "p4_pt(Jet_pt, Jet_eta, Jet_phi, Jet_mass) AS pt_all, "
        "p4_eta(Jet_pt, Jet_eta, Jet_phi, Jet_mass) AS eta_all, "
        "p4_phi(Jet_pt, Jet_eta, Jet_phi, Jet_mass) AS phi_all, "
        "inv_mass(Jet_pt, Jet_eta, Jet_phi, Jet_mass, [1, 2]) AS m12, "
        "inv_masses(Muon_pt, Muon_eta, Muon_phi, 0.105658, list_argcombinations(Muon_pt, 2)) AS mumu, "
        "inv_masses(Jet_pt, Jet_eta, Jet_phi, Jet_mass, list_argcombinations(Jet_pt, 3)) AS m3, "
        "p4_pts(Jet_pt, Jet_eta, Jet_phi, Jet_mass, list_argcombinations(Jet_pt, 2)) AS pt2, "
        "p4_etas(Jet_pt, Jet_eta, Jet_phi, Jet_mass, list_argcombinations(Jet_pt, 2)) AS eta2, "
        "p4_phis(Jet_pt, Jet_eta, Jet_phi, Jet_mass, list_argcombinations(Jet_pt, 2)) AS phi2, "
        "pxpypze(Jet_pt, Jet_eta, Jet_phi, Jet_mass) AS cart, "
        "ptetaphim(Jet_pt, Jet_eta, Jet_phi, Jet_mass * 100) AS polar",
    )
    met = vector.zip({"pt": ref["MET_pt"], "phi": ref["MET_phi"]})
    jet_vec2 = vector.zip({"pt": ref["Jet_pt"], "phi": ref["Jet_phi"]})
    check(rows, "dphi", jet_vec2.deltaphi(met), tol)
    other = vector.zip({"pt": ref["Jet_pt"] * 0 + 1, "eta": ref["Jet_eta"] * 0 + 0.5, "phi": ak.broadcast_arrays(ref["MET_phi"], ref["Jet_pt"])[0]})
    jet3 = vector.zip({"pt": ref["Jet_pt"], "eta": ref["Jet_eta"], "phi": ref["Jet_phi"]})
    check(rows, "dr_scalar", jet3.deltaR(other), tol)
    swapped = vector.zip({"pt": ref["Jet_pt"], "eta": ref["Jet_phi"], "phi": ref["Jet_eta"]})
    check(rows, "dr_lists", jet3.deltaR(swapped), tol)
    pairs = ak.cartesian([mus, jets], nested=True)
    mindr = ak.min(pairs["0"].deltaR(pairs["1"]), axis=-1)
    check(rows, "mindr", mindr, tol)
    mu2 = vector.zip({"pt": ref["Muon_pt"], "phi": ref["Muon_phi"]})
    mt = np.sqrt(2 * mu2.pt * met.pt * (1 - np.cos(mu2.deltaphi(met))))
    check(rows, "mt", mt, tol)
    total = summed(jets)
    check(rows, "m_all", total.mass, tol)
    check(rows, "pt_all", total.pt, tol)
    nonempty = ak.num(jets) > 0
    want_eta = ak.where(nonempty, total.eta, 0.0)
    check(rows, "eta_all", want_eta, tol)
    check(rows, "phi_all", ak.where(nonempty, total.phi, 0.0), tol)
    first_two = ak.pad_none(jets, 2)
    m12 = (first_two[:, 0] + first_two[:, 1]).mass
    check(rows, "m12", m12, tol)
    mu_p4 = vector.zip({"pt": ref["Muon_pt"], "eta": ref["Muon_eta"], "phi": ref["Muon_phi"], "mass": ref["Muon_pt"] * 0 + 0.105658})
    mm = ak.combinations(mu_p4, 2)
    check(rows, "mumu", (mm["0"] + mm["1"]).mass, tol)
    j3 = ak.combinations(jets, 3)
    check(rows, "m3", (j3["0"] + j3["1"] + j3["2"]).mass, tol)
    j2 = ak.combinations(jets, 2)
    s2 = j2["0"] + j2["1"]
    check(rows, "pt2", s2.pt, tol)
    check(rows, "eta2", s2.eta, tol)
    check(rows, "phi2", s2.phi, tol)
    cart = [[{"px": a, "py": b, "pz": c, "e": d} for a, b, c, d in zip(*ev)] for ev in zip(
        ak.to_list(jets.px), ak.to_list(jets.py), ak.to_list(jets.pz), ak.to_list(jets.E))]
    check(rows, "cart", cart, tol)
    # ptetaphim reads (px, py, pz, E) = (pt, eta, phi, 100·mass) as a Cartesian vector.
    xyzt = vector.zip({"px": ref["Jet_pt"], "py": ref["Jet_eta"], "pz": ref["Jet_phi"], "E": ref["Jet_mass"] * 100})
    polar = [[{"pt": a, "eta": b, "phi": c, "mass": d} for a, b, c, d in zip(*ev)] for ev in zip(
        ak.to_list(xyzt.pt), ak.to_list(xyzt.eta), ak.to_list(xyzt.phi), ak.to_list(xyzt.mass))]
    check(rows, "polar", polar, tol)
    if kind == "f32":
        t = types(hepq, path, {
            "dr": "delta_r(Jet_eta, Jet_phi, 0.5, MET_phi)",
            "m": "inv_masses(Muon_pt, Muon_eta, Muon_phi, 0.105658, list_argcombinations(Muon_pt, 2))",
        })
        assert t == {"dr": "List(Float32)", "m": "List(Float32)"}


@pytest.mark.parametrize("kind", KINDS)
def test_nested_reductions(hepq, dataset, kind):
    """Reductions of lists of lists reduce the innermost lists, as awkward's axis=-1."""
    path, ref = dataset[kind]
    tol = TOL[kind]
    pt = ref["Jet_pt"]
    rows = query(
        hepq,
        path,
        "list_sum(list_select(Jet_pt, list_argcombinations(Jet_pt, 3))) AS s3, "
        "list_max(list_select(Jet_pt, list_argcombinations(Jet_pt, 2))) AS mx2, "
        "list_argmin(list_select(Jet_pt, list_argcombinations(Jet_pt, 2))) AS amin2, "
        "list_mean(list_select(Jet_pt, list_argcombinations(Jet_pt, 2))) AS mean2, "
        "list_count_true(list_select(Jet_pt > 30, list_argcombinations(Jet_pt, 2))) AS n2, "
        "list_all(list_select(Jet_pt > 30, list_argcombinations(Jet_pt, 2))) AS all2",
    )
    pairs = ak.concatenate([p[:, :, np.newaxis] for p in ak.unzip(ak.combinations(pt, 2))], axis=-1)
    triples = ak.concatenate([p[:, :, np.newaxis] for p in ak.unzip(ak.combinations(pt, 3))], axis=-1)
    check(rows, "s3", ak.sum(triples, axis=-1), tol)
    check(rows, "mx2", ak.max(pairs, axis=-1), tol)
    check(rows, "amin2", ak.argmin(pairs, axis=-1) + 1, 0)
    check(rows, "mean2", ak.mean(pairs, axis=-1), tol)
    check(rows, "n2", ak.sum(pairs > 30, axis=-1), 0)
    check(rows, "all2", ak.all(pairs > 30, axis=-1), 0)


@pytest.mark.parametrize("kind", KINDS)
def test_fill_null(hepq, dataset, kind):
    """list_fill_null against ak.fill_none, on the NULLs of min_delta_r (no muons)."""
    path, ref = dataset[kind]
    tol = TOL[kind]
    jets, muons = p4(ref, "Jet"), p4(ref, "Muon")
    rows = query(
        hepq,
        path,
        "list_fill_null(min_delta_r(Jet_eta, Jet_phi, Muon_eta, Muon_phi), 99.0) AS dr",
    )
    pairs = ak.cartesian([jets, muons], nested=True)
    jet, muon = ak.unzip(pairs)
    nearest = ak.min(jet.deltaR(muon), axis=-1)
    check(rows, "dr", ak.fill_none(nearest, 99.0), tol)
