-- ADL q7: per event, the scalar sum of the pT of the jets with pT > 30 GeV that are not within
-- ΔR < 0.4 of any light lepton (electron or muon) with pT > 10 GeV.
-- Edge choice: every event is filled; an event without a surviving jet fills 0 (which lands
-- in the underflow bin). A jet in an event without such leptons is kept (min_delta_r is NULL
-- there, filled with +inf).
WITH leptons AS (
    SELECT Jet_pt, Jet_eta, Jet_phi,
           array_concat(list_where(Electron_eta, Electron_pt > 10),
                        list_where(Muon_eta, Muon_pt > 10)) AS lepton_eta,
           array_concat(list_where(Electron_phi, Electron_pt > 10),
                        list_where(Muon_phi, Muon_pt > 10)) AS lepton_phi
    FROM events
)
SELECT hist(
    list_sum(list_where(Jet_pt,
        Jet_pt > 30
        AND list_fill_null(min_delta_r(Jet_eta, Jet_phi, lepton_eta, lepton_phi), 'inf'::float) >= 0.4)),
    100, 15, 200) AS h
FROM leptons;
