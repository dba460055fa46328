-- ADL q8: in events with at least three light leptons (electrons and muons) and a
-- same-flavour opposite-charge (SFOS) pair: take the SFOS pair with invariant mass closest to
-- 91.2 GeV, and plot the transverse mass of the MET and the highest-pT light lepton that is not
-- in that pair.
-- Edge choice: lepton four-momenta use the stored masses; on a tie the first pair in
-- combination order (electrons before muons, i < j) wins.
WITH leptons AS (
    SELECT MET_pt, MET_phi,
           array_concat(Electron_pt, Muon_pt) AS pt,
           array_concat(Electron_eta, Muon_eta) AS eta,
           array_concat(Electron_phi, Muon_phi) AS phi,
           array_concat(Electron_mass, Muon_mass) AS mass,
           array_concat(Electron_charge, Muon_charge) AS charge,
           array_concat(array_repeat(0, list_len(Electron_pt)), array_repeat(1, list_len(Muon_pt))) AS flavour
    FROM events
    WHERE list_len(Electron_pt) + list_len(Muon_pt) >= 3
),
sfos_pairs AS (
    SELECT MET_pt, MET_phi, pt, eta, phi, mass,
           list_where(pair,
               list_sum(list_select(charge, pair)) = 0
               AND list_min(list_select(flavour, pair)) = list_max(list_select(flavour, pair))) AS sfos
    FROM (SELECT *, list_argcombinations(pt, 2) AS pair FROM leptons)
),
z_candidate AS (
    SELECT MET_pt, MET_phi, pt, phi,
           sfos[list_argmin(abs(inv_masses(pt, eta, phi, mass, sfos) - 91.2))] AS z
    FROM sfos_pairs
    WHERE list_len(sfos) > 0
),
third_lepton AS (
    SELECT MET_pt, MET_phi,
           list_where(pt, list_local_index(pt) != z[1] AND list_local_index(pt) != z[2]) AS other_pt,
           list_where(phi, list_local_index(pt) != z[1] AND list_local_index(pt) != z[2]) AS other_phi
    FROM z_candidate
)
SELECT hist(transverse_mass(other_pt[list_argmax(other_pt)], other_phi[list_argmax(other_pt)],
                            MET_pt, MET_phi),
            100, 15, 250) AS h
FROM third_lepton;
