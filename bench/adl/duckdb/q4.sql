-- ADL q4 in DuckDB: MET of the events with at least two jets of pT > 40 GeV.
SELECT hist_bin(MET_pt, 100, 0, 2000) AS bin, count(*) AS n
FROM events
WHERE len(list_filter(Jet_pt, lambda pt: pt > 40)) >= 2
GROUP BY bin ORDER BY bin;
