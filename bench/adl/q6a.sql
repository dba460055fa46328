-- ADL q6a: in events with at least three jets, the pT of the trijet system (the four-vector
-- sum of three jets) whose invariant mass is closest to 172.5 GeV.
-- Edge choice: jet four-momenta use the stored Jet_mass; on a tie the first trijet in
-- combination order (i < j < k, lexicographic) wins.
WITH trijets AS (
    SELECT Jet_pt, Jet_eta, Jet_phi, Jet_mass,
           list_argcombinations(Jet_pt, 3) AS trijet
    FROM events
    WHERE list_len(Jet_pt) >= 3
),
best AS (
    SELECT Jet_pt, Jet_eta, Jet_phi, Jet_mass,
           trijet[list_argmin(abs(inv_masses(Jet_pt, Jet_eta, Jet_phi, Jet_mass, trijet) - 172.5))] AS best_trijet
    FROM trijets
)
SELECT hist(p4_pt(Jet_pt, Jet_eta, Jet_phi, Jet_mass, best_trijet), 100, 15, 40) AS h
FROM best;
