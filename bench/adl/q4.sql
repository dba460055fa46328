-- ADL q4: MET of the events with at least two jets of pT > 40 GeV.
SELECT hist(MET_pt, 100, 0, 2000) AS h
FROM events
WHERE list_count_true(Jet_pt > 40) >= 2;
