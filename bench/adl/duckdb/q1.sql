-- ADL q1 in DuckDB: MET of every event.
SELECT hist_bin(MET_pt, 100, 0, 2000) AS bin, count(*) AS n
FROM events
GROUP BY bin ORDER BY bin;
