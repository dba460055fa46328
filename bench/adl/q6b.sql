-- ADL q6b: for the trijet of q6a (mass closest to 172.5 GeV, events with at least three
-- jets), the largest b-tag discriminant (Jet_btag) of its three jets.
-- Edge choice: as q6a (stored Jet_mass; the first trijet wins a tie).
WITH trijets AS (
    SELECT Jet_pt, Jet_eta, Jet_phi, Jet_mass, Jet_btag,
           list_argcombinations(Jet_pt, 3) AS trijet
    FROM events
    WHERE list_len(Jet_pt) >= 3
),
best AS (
    SELECT Jet_btag,
           trijet[list_argmin(abs(inv_masses(Jet_pt, Jet_eta, Jet_phi, Jet_mass, trijet) - 172.5))] AS best_trijet
    FROM trijets
)
SELECT hist(list_max(list_select(Jet_btag, best_trijet)), 100, 0, 1) AS h
FROM best;
