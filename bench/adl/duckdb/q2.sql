-- ADL q2 in DuckDB: pT of every jet.
SELECT hist_bin(pt, 100, 15, 60) AS bin, count(*) AS n
FROM (SELECT unnest(Jet_pt) AS pt FROM events)
GROUP BY bin ORDER BY bin;
