-- ADL q7 in DuckDB: per event, Σ pT of jets (pT > 30) not within ΔR < 0.4 of a lepton with
-- pT > 10; every event is filled (0 without such jets).
SELECT hist_bin(coalesce(list_sum(list_filter(Jet_pt, lambda pt, i:
            pt > 30
            AND coalesce(list_bool_and(list_transform(range(1, len(Electron_pt) + 1), lambda e:
                Electron_pt[e] <= 10
                OR delta_r(Jet_eta[i], Jet_phi[i], Electron_eta[e], Electron_phi[e]) >= 0.4)), true)
            AND coalesce(list_bool_and(list_transform(range(1, len(Muon_pt) + 1), lambda m:
                Muon_pt[m] <= 10
                OR delta_r(Jet_eta[i], Jet_phi[i], Muon_eta[m], Muon_phi[m]) >= 0.4)), true))),
        0), 100, 15, 200) AS bin,
       count(*) AS n
FROM events
GROUP BY bin ORDER BY bin;
