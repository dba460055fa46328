-- DuckDB macros shared by the ADL queries in this folder (bench/adl/run executes this file
-- first on every connection). DuckDB has no histogram type: each query returns the bin number
-- (0 = underflow, 1..n, n + 1 = overflow, as boost-histogram's flow bins) and the count.
CREATE OR REPLACE MACRO hist_bin(x, n, low, high) AS
    CASE
        WHEN x IS NULL THEN NULL
        WHEN isnan(x) OR x >= high THEN n + 1
        WHEN x < low THEN 0
        ELSE least(n, CAST(floor((x - low) / (high - low) * n) AS INTEGER) + 1)
    END;
CREATE OR REPLACE MACRO p_x(pt, phi) AS pt * cos(phi);
CREATE OR REPLACE MACRO p_y(pt, phi) AS pt * sin(phi);
CREATE OR REPLACE MACRO p_z(pt, eta) AS pt * sinh(eta);
CREATE OR REPLACE MACRO p_e(pt, eta, m) AS sqrt(pow(pt * cosh(eta), 2) + m * m);
-- Invariant mass from E² - p², negative for a space-like sum (as the `vector` package).
CREATE OR REPLACE MACRO signed_sqrt(m2) AS sign(m2) * sqrt(abs(m2));
CREATE OR REPLACE MACRO mass_of_2(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2) AS signed_sqrt(
    pow(p_e(pt1, eta1, m1) + p_e(pt2, eta2, m2), 2)
    - pow(p_x(pt1, phi1) + p_x(pt2, phi2), 2)
    - pow(p_y(pt1, phi1) + p_y(pt2, phi2), 2)
    - pow(p_z(pt1, eta1) + p_z(pt2, eta2), 2));
CREATE OR REPLACE MACRO mass_of_3(pt1, eta1, phi1, m1, pt2, eta2, phi2, m2, pt3, eta3, phi3, m3) AS signed_sqrt(
    pow(p_e(pt1, eta1, m1) + p_e(pt2, eta2, m2) + p_e(pt3, eta3, m3), 2)
    - pow(p_x(pt1, phi1) + p_x(pt2, phi2) + p_x(pt3, phi3), 2)
    - pow(p_y(pt1, phi1) + p_y(pt2, phi2) + p_y(pt3, phi3), 2)
    - pow(p_z(pt1, eta1) + p_z(pt2, eta2) + p_z(pt3, eta3), 2));
CREATE OR REPLACE MACRO pt_of_3(pt1, phi1, pt2, phi2, pt3, phi3) AS sqrt(
    pow(p_x(pt1, phi1) + p_x(pt2, phi2) + p_x(pt3, phi3), 2)
    + pow(p_y(pt1, phi1) + p_y(pt2, phi2) + p_y(pt3, phi3), 2));
CREATE OR REPLACE MACRO delta_phi(phi1, phi2) AS
    (phi1 - phi2 + pi()) - 2 * pi() * floor((phi1 - phi2 + pi()) / (2 * pi())) - pi();
CREATE OR REPLACE MACRO delta_r(eta1, phi1, eta2, phi2) AS
    sqrt(pow(eta1 - eta2, 2) + pow(delta_phi(phi1, phi2), 2));
