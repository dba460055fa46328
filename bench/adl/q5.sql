-- ADL q5: MET of the events with an opposite-charge muon pair of invariant mass in
-- [60, 120] GeV.
-- Edge choice: four-momenta use the stored Muon_mass (not the massless approximation); a pair
-- is opposite-charge when its two charges sum to 0.
WITH muon_pairs AS (
    SELECT MET_pt, Muon_pt, Muon_eta, Muon_phi, Muon_mass, Muon_charge,
           list_argcombinations(Muon_pt, 2) AS pair
    FROM events
    WHERE cardinality(Muon_pt) >= 2
)
SELECT hist(MET_pt, 100, 0, 2000) AS h
FROM muon_pairs
WHERE list_any(
    list_sum(list_select(Muon_charge, pair)) = 0
    AND inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass, pair) >= 60
    AND inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass, pair) <= 120
);
