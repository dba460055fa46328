-- ADL q3: the pT of the jets with |eta| < 1.
SELECT hist(list_where(Jet_pt, abs(Jet_eta) < 1), 100, 15, 60) AS h
FROM events;
