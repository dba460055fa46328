-- ADL q8 in DuckDB: transverse mass of MET and the highest-pT lepton outside the SFOS pair
-- closest to the Z mass (events with >= 3 leptons and an SFOS pair).
WITH leptons AS (
    SELECT MET_pt, MET_phi, list_concat(
        list_transform(range(1, len(Electron_pt) + 1), lambda i: {
            'pt': Electron_pt[i], 'eta': Electron_eta[i], 'phi': Electron_phi[i],
            'm': Electron_mass[i], 'q': Electron_charge[i], 'f': 0}),
        list_transform(range(1, len(Muon_pt) + 1), lambda i: {
            'pt': Muon_pt[i], 'eta': Muon_eta[i], 'phi': Muon_phi[i],
            'm': Muon_mass[i], 'q': Muon_charge[i], 'f': 1})) AS l
    FROM events
    WHERE len(Electron_pt) + len(Muon_pt) >= 3
),
z AS (
    SELECT MET_pt, MET_phi, l, list_sort(list_filter(flatten(
        list_transform(range(1, len(l) + 1), lambda i:
            list_transform(range(i + 1, len(l) + 1), lambda j: {
                'd': abs(mass_of_2(l[i].pt, l[i].eta, l[i].phi, l[i].m,
                                   l[j].pt, l[j].eta, l[j].phi, l[j].m) - 91.2),
                'i': i, 'j': j,
                'sfos': l[i].f = l[j].f AND l[i].q + l[j].q = 0}))),
        lambda p: p.sfos))[1] AS pair
    FROM leptons
),
third AS (
    SELECT MET_pt, MET_phi, list_sort(list_filter(
        list_transform(range(1, len(l) + 1), lambda k: {'minus_pt': -l[k].pt, 'k': k, 'pt': l[k].pt, 'phi': l[k].phi}),
        lambda o: o.k != pair.i AND o.k != pair.j))[1] AS lep
    FROM z
    WHERE pair IS NOT NULL
)
SELECT hist_bin(sqrt(2 * lep.pt * MET_pt * (1 - cos(lep.phi - MET_phi))), 100, 15, 250) AS bin,
       count(*) AS n
FROM third
GROUP BY bin ORDER BY bin;
