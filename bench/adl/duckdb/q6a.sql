-- ADL q6a in DuckDB: pT of the trijet with mass closest to 172.5 GeV (events with >= 3 jets).
-- Each trijet becomes a struct whose first fields are (distance, i, j, k), so the smallest
-- after list_sort is the closest, the first in combination order on a tie.
WITH best AS (
    SELECT list_sort(flatten(flatten(
        list_transform(range(1, len(Jet_pt) + 1), lambda i:
            list_transform(range(i + 1, len(Jet_pt) + 1), lambda j:
                list_transform(range(j + 1, len(Jet_pt) + 1), lambda k: {
                    'd': abs(mass_of_3(Jet_pt[i], Jet_eta[i], Jet_phi[i], Jet_mass[i],
                                       Jet_pt[j], Jet_eta[j], Jet_phi[j], Jet_mass[j],
                                       Jet_pt[k], Jet_eta[k], Jet_phi[k], Jet_mass[k]) - 172.5),
                    'i': i, 'j': j, 'k': k,
                    'pt': pt_of_3(Jet_pt[i], Jet_phi[i], Jet_pt[j], Jet_phi[j], Jet_pt[k], Jet_phi[k])
                }))))))[1] AS top
    FROM events
    WHERE len(Jet_pt) >= 3
)
SELECT hist_bin(top.pt, 100, 15, 40) AS bin, count(*) AS n
FROM best
GROUP BY bin ORDER BY bin;
