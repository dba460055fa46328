#!/usr/bin/env python3
"""The ADL benchmark tasks in uproot + awkward + vector: the independent reference for hepq.

Written the way an analyst writes them (coffea-style: zip the collections into records, use
`ak.combinations`/`ak.cartesian` and vector's four-vector arithmetic), with the same edge
choices as the SQL in bench/adl/qN.sql:

* q5 uses the stored Muon_mass; opposite charge means the charges sum to 0.
* q6a/q6b use the stored Jet_mass; on a tie the first trijet (combination order) wins.
* q7 fills every event (0 when no jet survives, which is underflow).
* q8 concatenates electrons then muons; on a tie the first pair wins.

    python bench/adl/reference.py FILE.root [q1 q2 …]   # prints {query: UHI document} as JSON

`histograms(files)` returns {query: hist.Hist} and `run(query, files)` one of them, reading only
the task's branches, batch by batch; the test and the benchmark (bench/adl/run) import them.
"""

from __future__ import annotations

import json
import sys

import awkward as ak
import hist
import numpy as np
import uproot
import vector

vector.register_awkward()

BINNING = {
    "q1": (100, 0, 2000),
    "q2": (100, 15, 60),
    "q3": (100, 15, 60),
    "q4": (100, 0, 2000),
    "q5": (100, 0, 2000),
    "q6a": (100, 15, 40),
    "q6b": (100, 0, 1),
    "q7": (100, 15, 200),
    "q8": (100, 15, 250),
}
QUERIES = list(BINNING)

_P4 = ("pt", "eta", "phi", "mass")
# The branches each task reads (an analyst reads only what a task needs).
BRANCHES = {
    "q1": ["MET_pt"],
    "q2": ["Jet_pt"],
    "q3": ["Jet_pt", "Jet_eta"],
    "q4": ["MET_pt", "Jet_pt"],
    "q5": ["MET_pt"] + [f"Muon_{m}" for m in (*_P4, "charge")],
    "q6a": [f"Jet_{m}" for m in (*_P4, "btag")],
    "q6b": [f"Jet_{m}" for m in (*_P4, "btag")],
    "q7": [f"{c}_{m}" for c in ("Jet", "Electron", "Muon") for m in _P4],
    "q8": ["MET_pt", "MET_phi"] + [f"{c}_{m}" for c in ("Electron", "Muon") for m in (*_P4, "charge")],
}


def _four_vectors(events, prefix: str, extra: tuple[str, ...] = ()) -> ak.Array:
    fields = {"pt": events[f"{prefix}_pt"], "eta": events[f"{prefix}_eta"],
              "phi": events[f"{prefix}_phi"], "mass": events[f"{prefix}_mass"]}
    for name in extra:
        fields[name] = events[f"{prefix}_{name}"]
    return ak.zip(fields, with_name="Momentum4D")


def q1(events):
    return events.MET_pt


def q2(events):
    return ak.flatten(events.Jet_pt)


def q3(events):
    return ak.flatten(events.Jet_pt[abs(events.Jet_eta) < 1])


def q4(events):
    return events.MET_pt[ak.sum(events.Jet_pt > 40, axis=1) >= 2]


def q5(events):
    muons = _four_vectors(events, "Muon", ("charge",))
    first, second = ak.unzip(ak.combinations(muons, 2))
    mass = (first + second).mass
    good = (first.charge + second.charge == 0) & (mass >= 60) & (mass <= 120)
    return events.MET_pt[ak.any(good, axis=1)]


def _best_trijets(events):
    jets = _four_vectors(events[ak.num(events.Jet_pt) >= 3], "Jet", ("btag",))
    a, b, c = ak.unzip(ak.combinations(jets, 3))
    trijet = a + b + c
    best = ak.argmin(abs(trijet.mass - 172.5), axis=1, keepdims=True)
    return trijet[best], a[best], b[best], c[best]


def q6a(events):
    trijet, _, _, _ = _best_trijets(events)
    return ak.flatten(trijet.pt)


def q6b(events):
    _, a, b, c = _best_trijets(events)
    btag = np.maximum(np.maximum(a.btag, b.btag), c.btag)
    return ak.flatten(btag)


def q7(events):
    jets = _four_vectors(events, "Jet")
    jets = jets[jets.pt > 30]
    electrons = _four_vectors(events, "Electron")
    muons = _four_vectors(events, "Muon")
    leptons = ak.concatenate([electrons[electrons.pt > 10], muons[muons.pt > 10]], axis=1)
    jet, lepton = ak.unzip(ak.cartesian([jets, leptons], nested=True))
    isolated = ak.all(jet.deltaR(lepton) >= 0.4, axis=-1)
    return ak.sum(jets.pt[isolated], axis=1)


def q8(events):
    def leptons_of(prefix: str, flavour: int):
        four = _four_vectors(events, prefix, ("charge",))
        return ak.with_field(four, ak.values_astype(ak.zeros_like(four.charge) + flavour,
                                                    np.int32), "flavour")

    leptons = ak.concatenate([leptons_of("Electron", 0), leptons_of("Muon", 1)], axis=1)
    keep = ak.num(leptons) >= 3
    leptons, met_pt, met_phi = leptons[keep], events.MET_pt[keep], events.MET_phi[keep]

    pairs = ak.argcombinations(leptons, 2)
    i, j = ak.unzip(pairs)
    a, b = leptons[i], leptons[j]
    sfos = (a.flavour == b.flavour) & (a.charge + b.charge == 0)
    has_sfos = ak.any(sfos, axis=1)
    pairs, a, b, sfos = pairs[sfos], a[sfos], b[sfos], sfos[sfos]
    leptons, met_pt, met_phi = leptons[has_sfos], met_pt[has_sfos], met_phi[has_sfos]
    pairs, a, b = pairs[has_sfos], a[has_sfos], b[has_sfos]

    best = ak.argmin(abs((a + b).mass - 91.2), axis=1, keepdims=True)
    z_i, z_j = ak.unzip(ak.firsts(pairs[best]))
    index = ak.local_index(leptons)
    others = leptons[(index != z_i) & (index != z_j)]
    third = ak.firsts(others[ak.argmax(others.pt, axis=1, keepdims=True)])
    mt = np.sqrt(2 * third.pt * met_pt * (1 - np.cos(third.phi - met_phi)))
    return mt


FUNCTIONS = {"q1": q1, "q2": q2, "q3": q3, "q4": q4, "q5": q5, "q6a": q6a, "q6b": q6b,
             "q7": q7, "q8": q8}


def run(query: str, files, step_size: str = "100 MB") -> hist.Hist:
    """Task `query` over the `Events` trees of `files` (a path or a list), batch by batch."""
    files = [files] if isinstance(files, (str, bytes)) or not hasattr(files, "__iter__") else files
    bins, low, high = BINNING[query]
    h = hist.Hist(hist.axis.Regular(bins, low, high))
    for events in uproot.iterate([f"{f}:Events" for f in files], filter_name=BRANCHES[query],
                                 step_size=step_size):
        h.fill(ak.to_numpy(FUNCTIONS[query](events)).astype(np.float64))
    return h


def histograms(files, queries=QUERIES) -> dict[str, hist.Hist]:
    return {q: run(q, files) for q in queries}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    import uhi.io.json

    queries = [a for a in argv[1:] if a in BINNING] or QUERIES
    out = {q: uhi.io.json.default(h) for q, h in histograms(argv[0], queries).items()}
    print(json.dumps(out, default=uhi.io.json.default))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
