-- ADL q5: MET of the events with an opposite-charge muon pair of invariant mass in
-- [60, 120] GeV.
-- Edge choice: four-momenta use the stored Muon_mass (not the massless approximation); a pair
-- is opposite-charge when its two charges sum to 0.
WITH muon_pairs AS (
    SELECT MET_pt,
           list_sum(list_select(Muon_charge, list_argcombinations(Muon_pt, 2))) AS charge,
           inv_masses(Muon_pt, Muon_eta, Muon_phi, Muon_mass,
                      list_argcombinations(Muon_pt, 2)) AS mass
    FROM events
    WHERE list_len(Muon_pt) >= 2
)
SELECT hist(MET_pt, 100, 0, 2000) AS h
FROM muon_pairs
WHERE list_any(charge = 0 AND mass >= 60 AND mass <= 120);
