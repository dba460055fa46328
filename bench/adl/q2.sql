-- ADL q2: the pT of every jet (a list column: every element is filled).
SELECT hist(Jet_pt, 100, 15, 60) AS h
FROM events;
