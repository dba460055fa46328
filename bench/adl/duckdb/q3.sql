-- ADL q3 in DuckDB: pT of the jets with |eta| < 1.
SELECT hist_bin(pt, 100, 15, 60) AS bin, count(*) AS n
FROM (SELECT unnest(list_filter(Jet_pt, lambda pt, i: abs(Jet_eta[i]) < 1)) AS pt FROM events)
GROUP BY bin ORDER BY bin;
