-- ADL q5 in DuckDB: MET of the events with an opposite-charge muon pair of mass in [60, 120].
SELECT hist_bin(MET_pt, 100, 0, 2000) AS bin, count(*) AS n
FROM events
WHERE len(Muon_pt) >= 2 AND list_bool_or(flatten(
    list_transform(range(1, len(Muon_pt) + 1), lambda i:
        list_transform(range(i + 1, len(Muon_pt) + 1), lambda j:
            Muon_charge[i] + Muon_charge[j] = 0
            AND mass_of_2(Muon_pt[i], Muon_eta[i], Muon_phi[i], Muon_mass[i],
                          Muon_pt[j], Muon_eta[j], Muon_phi[j], Muon_mass[j]) BETWEEN 60 AND 120))))
GROUP BY bin ORDER BY bin;
