-- ADL q1: the missing transverse energy (MET) of every event.
SELECT hist(MET_pt, 100, 0, 2000) AS h
FROM events;
