"""Differential tests: the same questions asked of hepq and of DuckDB over the same Parquet files.

Both engines read the generated Hive-partitioned datasets: hepq through `--register` (partition
discovery: LHC `run` BIGINT, LEGEND `period`/`run`/`datatype` VARCHAR), DuckDB through views
over `read_parquet(..., hive_partitioning = true)` typed the same way. Results must have the
same columns and rows: as ordered lists where the query's ORDER BY fixes the order, otherwise
as multisets. Integers and strings compare exactly; floats with a relative tolerance, because
float32 aggregates are summed in different orders.

Each case is one query text for both engines, or one per engine where the dialects spell the
same thing differently (hepq `array_length(l)` is DuckDB `len(l)`); the two texts must mean
the same. Every output column is named with AS so that the names compare too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import pytest

from conftest import duckdb_connect


@dataclass(frozen=True)
class Case:
    id: str
    hepq_sql: str
    duckdb_sql: str | None = None  # None: the same text as hepq_sql
    ordered: bool = False  # True: ORDER BY makes the row order deterministic
    rel_tol: float = 1e-5
    abs_tol: float = 1e-6
    allow_empty: bool = False

    @property
    def duck(self) -> str:
        return self.duckdb_sql if self.duckdb_sql is not None else self.hepq_sql


def both(id: str, sql: str, **kw) -> Case:
    return Case(id, sql, None, **kw)


def per_engine(id: str, hepq_sql: str, duckdb_sql: str, **kw) -> Case:
    return Case(id, hepq_sql, duckdb_sql, **kw)


CASES = [
    # ---------------------------------------------------------------- LHC: scans and filters
    both(
        "lhc_count_per_run",
        "SELECT run, count(*) AS n FROM lhc GROUP BY run ORDER BY run",
        ordered=True,
    ),
    both(
        "lhc_select_star_head",
        # Every column, lists included, with the partition column last.
        "SELECT * FROM lhc ORDER BY run, event LIMIT 5",
        ordered=True,
    ),
    both(
        "lhc_filter_trigger_met",
        "SELECT run, count(*) AS n, avg(MET_pt) AS avg_met, max(MET_pt) AS max_met, "
        "min(MET_sumet) AS min_sumet, sum(MET_pt) AS sum_met "
        "FROM lhc WHERE HLT_IsoMu24 AND MET_pt > 25.5 GROUP BY run",
    ),
    both(
        "lhc_partition_filter_in_between",
        "SELECT run, count(*) AS n, min(event) AS first_event, max(event) AS last_event "
        "FROM lhc WHERE run IN (194050, 194108) OR run BETWEEN 194070 AND 194080 GROUP BY run",
    ),
    both(
        "lhc_lumi_blocks_count_distinct",
        "SELECT run, count(DISTINCT luminosityBlock) AS n_lumi, min(luminosityBlock) AS first_lumi, "
        "max(luminosityBlock) AS last_lumi, count(DISTINCT PV_npvs) AS n_npvs FROM lhc GROUP BY run",
    ),
    both(
        "lhc_pv_having",
        "SELECT run, PV_npvs, count(*) AS n, avg(abs(PV_z)) AS mean_abs_z, max(PV_x) AS max_x "
        "FROM lhc GROUP BY run, PV_npvs HAVING count(*) > 100",
    ),
    # ---------------------------------------------------------------- LHC: list columns
    per_engine(
        "lhc_array_length_vs_counter",
        "SELECT run, sum(CAST(nJet AS BIGINT)) AS sum_njet, sum(array_length(Jet_pt)) AS sum_len, "
        "count(*) FILTER (WHERE nJet <> array_length(Jet_pt)) AS mismatches, "
        "sum(array_length(Muon_pt)) AS n_muons, sum(array_length(Electron_pt)) AS n_electrons "
        "FROM lhc GROUP BY run",
        "SELECT run, sum(CAST(nJet AS BIGINT)) AS sum_njet, sum(len(Jet_pt)) AS sum_len, "
        "count(*) FILTER (WHERE nJet <> len(Jet_pt)) AS mismatches, "
        "sum(len(Muon_pt)) AS n_muons, sum(len(Electron_pt)) AS n_electrons "
        "FROM lhc GROUP BY run",
    ),
    per_engine(
        "lhc_nmuon_multiplicity",
        # Empty lists included: their length is 0 in both engines.
        "SELECT array_length(Muon_pt) AS n_mu, count(*) AS n FROM lhc GROUP BY array_length(Muon_pt)",
        "SELECT len(Muon_pt) AS n_mu, count(*) AS n FROM lhc GROUP BY len(Muon_pt)",
    ),
    both(
        "lhc_leading_jet_index",
        # 1-based element access; a missing second jet is NULL.
        "SELECT run, event, Jet_pt[1] AS lead_pt, Jet_eta[1] AS lead_eta, Jet_pt[2] AS sublead_pt "
        "FROM lhc WHERE nJet >= 1 ORDER BY Jet_pt[1] DESC, run, event LIMIT 20",
        ordered=True,
    ),
    both(
        "lhc_unnest_jets",
        "SELECT run, count(*) AS n_jets, sum(pt) AS sum_pt, max(pt) AS max_pt, min(pt) AS min_pt "
        "FROM (SELECT run, unnest(Jet_pt) AS pt FROM lhc) AS j GROUP BY run",
    ),
    both(
        "lhc_unnest_zipped_filter",
        # Two lists unnested side by side (zipped), then a per-jet cut.
        "SELECT run, count(*) AS n, avg(pt) AS mean_pt FROM "
        "(SELECT run, unnest(Jet_pt) AS pt, unnest(Jet_eta) AS eta FROM lhc) AS j "
        "WHERE pt > 30 AND abs(eta) < 2.5 GROUP BY run",
    ),
    both(
        "lhc_unnest_bool_and_int_lists",
        "SELECT 'jet_puid' AS what, run, count(*) FILTER (WHERE puid) AS value, count(*) AS n FROM "
        "(SELECT run, unnest(Jet_puId) AS puid FROM lhc) AS j GROUP BY run "
        "UNION ALL "
        "SELECT 'muon_charge', run, sum(CAST(q AS BIGINT)), count(*) FROM "
        "(SELECT run, unnest(Muon_charge) AS q FROM lhc) AS m GROUP BY run",
    ),
    both(
        "lhc_muon_category_case",
        "SELECT CASE WHEN nMuon = 0 THEN 'none' WHEN nMuon = 1 THEN 'single' "
        "WHEN nMuon = 2 AND Muon_charge[1] + Muon_charge[2] = 0 THEN 'os_pair' "
        "WHEN nMuon = 2 THEN 'ss_pair' ELSE 'multi' END AS category, "
        "count(*) AS n, avg(MET_pt) AS mean_met FROM lhc GROUP BY 1",
    ),
    both(
        "lhc_dimuon_mass",
        "SELECT run, count(*) AS n_pairs, avg(m) AS mean_mass, "
        "count(*) FILTER (WHERE m BETWEEN 60 AND 120) AS n_z FROM ("
        "  SELECT run, sqrt(2 * CAST(Muon_pt[1] AS DOUBLE) * CAST(Muon_pt[2] AS DOUBLE) * "
        "    (cosh(CAST(Muon_eta[1] AS DOUBLE) - CAST(Muon_eta[2] AS DOUBLE)) "
        "     - cos(CAST(Muon_phi[1] AS DOUBLE) - CAST(Muon_phi[2] AS DOUBLE)))) AS m "
        "  FROM lhc WHERE nMuon = 2 AND Muon_charge[1] <> Muon_charge[2] "
        "    AND Muon_tightId[1] AND Muon_tightId[2] AND Muon_pfRelIso04_all[1] < 0.25"
        ") AS pairs GROUP BY run",
    ),
    both(
        "lhc_other_collections",
        "SELECT run, sum(CAST(nElectron AS BIGINT)) AS n_ele, "
        "count(*) FILTER (WHERE Electron_cutBasedId[1]) AS n_ele_id, avg(Electron_pt[1]) AS lead_ele, "
        "sum(CAST(nTau AS BIGINT)) AS n_tau, max(Tau_pt[1]) AS max_tau, "
        "sum(CAST(nPhoton AS BIGINT)) AS n_pho, avg(Photon_pt[1]) AS lead_pho, "
        "count(*) FILTER (WHERE Muon_softId[1]) AS n_soft FROM lhc GROUP BY run",
    ),
    # ---------------------------------------------------------------- LHC: order, windows
    both(
        "lhc_top_met",
        "SELECT run, event, MET_pt, MET_phi FROM lhc ORDER BY MET_pt DESC, run, event LIMIT 10",
        ordered=True,
    ),
    both(
        "lhc_met_histogram",
        "SELECT run, CAST(floor(CAST(MET_pt AS DOUBLE) / 10) AS BIGINT) AS met_bin, count(*) AS n "
        "FROM lhc GROUP BY run, met_bin HAVING count(*) >= 50 ORDER BY run, met_bin",
        ordered=True,
    ),
    both(
        "lhc_window_row_number_top3",
        "SELECT run, event, MET_pt, rn FROM ("
        "  SELECT run, event, MET_pt, "
        "    row_number() OVER (PARTITION BY run ORDER BY MET_pt DESC, event) AS rn FROM lhc"
        ") AS t WHERE rn <= 3 ORDER BY run, rn",
        ordered=True,
    ),
    both(
        "lhc_window_running_sum",
        "SELECT run, luminosityBlock AS lumi, n, "
        "sum(n) OVER (PARTITION BY run ORDER BY luminosityBlock "
        "  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_n "
        "FROM (SELECT run, luminosityBlock, count(*) AS n FROM lhc GROUP BY run, luminosityBlock) AS t "
        "ORDER BY run, lumi",
        ordered=True,
    ),
    # ---------------------------------------------------------------- LHC: joins, subqueries
    both(
        "lhc_self_join_run_stats",
        "WITH s AS (SELECT run, count(*) AS n, avg(MET_pt) AS met FROM lhc GROUP BY run) "
        "SELECT a.run AS run_a, b.run AS run_b, a.n - b.n AS dn, a.met - b.met AS dmet "
        "FROM s AS a JOIN s AS b ON a.run < b.run ORDER BY run_a, run_b",
        ordered=True,
        abs_tol=1e-4,
    ),
    both(
        "lhc_left_join_values",
        # A run missing from the lookup gets NULLs; a lookup row without events is dropped.
        "WITH lumi AS (SELECT * FROM (VALUES (194050, 1.25), (194108, 0.5), (999999, 2.0)) "
        "  AS v(run, int_lumi)) "
        "SELECT s.run, s.n, l.int_lumi, CAST(s.n AS DOUBLE) / l.int_lumi AS rate "
        "FROM (SELECT run, count(*) AS n FROM lhc GROUP BY run) AS s "
        "LEFT JOIN lumi AS l ON s.run = l.run ORDER BY s.run",
        ordered=True,
    ),
    both(
        "lhc_scalar_subquery",
        "SELECT run, count(*) AS n_above FROM lhc "
        "WHERE MET_pt > (SELECT avg(MET_pt) FROM lhc) GROUP BY run",
    ),
    both(
        "lhc_in_subquery_having",
        "SELECT run, count(*) AS n FROM lhc "
        "WHERE run IN (SELECT run FROM lhc GROUP BY run HAVING count(*) > 6000) GROUP BY run",
    ),
    both(
        "lhc_distinct",
        "SELECT DISTINCT run, nMuon FROM lhc WHERE nMuon <= 3",
    ),
    # ---------------------------------------------------------------- LHC: NULL handling
    both(
        "lhc_null_handling",
        "SELECT run, count(*) AS n, count(Jet_pt[1]) AS n_with_jet, "
        "count(*) - count(Jet_pt[1]) AS n_without_jet, avg(Jet_pt[1]) AS mean_lead, "
        "sum(CASE WHEN nJet > 1000 THEN 1 END) AS never, "
        "coalesce(sum(CASE WHEN nJet > 1000 THEN 1 END), -1) AS never_coalesced, "
        "max(nullif(nMuon, 0)) AS max_mu, count(nullif(nMuon, 0)) AS n_with_mu "
        "FROM lhc GROUP BY run",
    ),
    both(
        "lhc_null_predicates",
        "SELECT count(*) FILTER (WHERE Jet_pt[1] IS NULL) AS no_jet, "
        "count(*) FILTER (WHERE Muon_pt[3] IS NOT NULL) AS three_mu, "
        "count(*) FILTER (WHERE Jet_pt[2] IS DISTINCT FROM NULL) AS two_jets, "
        "count(*) FILTER (WHERE coalesce(Jet_pt[1], 0) = 0) AS lead_or_zero, "
        "min(coalesce(Muon_pt[1], -1)) AS min_lead_mu FROM lhc",
    ),
    # ---------------------------------------------------------------- LEGEND: partitions
    both(
        "legend_count_partitions",
        "SELECT period, run, datatype, count(*) AS n FROM legend "
        "GROUP BY period, run, datatype ORDER BY period, run, datatype",
        ordered=True,
    ),
    both(
        "legend_distinct_partitions",
        "SELECT DISTINCT period, datatype FROM legend",
    ),
    both(
        "legend_partition_string_functions",
        "SELECT upper(datatype) AS dt, concat(period, '/', run) AS pr, length(run) AS lr, "
        "substr(run, 2) AS run_digits, CAST(right(run, 3) AS INTEGER) AS run_no, "
        "replace(period, 'p', 'P') AS pp, starts_with(datatype, 'c') AS is_cal, "
        "period || '-' || datatype AS tag, lower(upper(period)) AS lp, count(*) AS n "
        "FROM legend WHERE run LIKE 'r00%' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
    ),
    both(
        "legend_group_by_expression_and_its_cast",
        # An expression and a CAST of it as two group keys (DataFusion names both alike).
        "SELECT substr(run, 2) AS run_digits, CAST(substr(run, 2) AS INTEGER) AS run_no, "
        "count(*) AS n FROM legend GROUP BY 1, 2",
    ),
    both(
        "legend_rollup",
        "SELECT period, datatype, count(*) AS n, sum(energy) AS e_sum FROM legend "
        "GROUP BY ROLLUP (period, datatype)",
    ),
    # ---------------------------------------------------------------- LEGEND: physics
    both(
        "legend_cal_energy_histogram",
        "SELECT CAST(floor(energy / 50) AS BIGINT) * 50 AS bin_lo, count(*) AS n FROM legend "
        "WHERE datatype = 'cal' AND is_valid GROUP BY 1 HAVING count(*) >= 5 ORDER BY bin_lo",
        ordered=True,
    ),
    both(
        "legend_tl208_peak_channels",
        "SELECT period, datatype, count(*) AS n, count(DISTINCT channel) AS n_channels, "
        "avg(energy) AS mean_e, stddev(energy) AS sd_e FROM legend "
        "WHERE energy BETWEEN 2600 AND 2630 GROUP BY period, datatype",
    ),
    both(
        "legend_psd_cut_flow_case",
        "SELECT datatype, CASE WHEN NOT is_valid THEN 'invalid' WHEN multiplicity > 1 THEN 'multi' "
        "WHEN lar_veto THEN 'lar' WHEN aoe < 0.9 THEN 'low_aoe' WHEN aoe > 1.1 THEN 'high_aoe' "
        "ELSE 'pass' END AS cut, count(*) AS n, avg(energy) AS mean_e FROM legend GROUP BY 1, 2",
    ),
    both(
        "legend_multiplicity_having",
        "SELECT multiplicity, count(*) AS n, sum(CASE WHEN lar_veto THEN 1 ELSE 0 END) AS n_veto, "
        "avg(lq) AS mean_lq, max(aoe) AS max_aoe FROM legend GROUP BY multiplicity HAVING count(*) > 10",
    ),
    both(
        "legend_time_span",
        "SELECT period, run, datatype, min(timestamp) AS t0, max(timestamp) AS t1, "
        "max(timestamp) - min(timestamp) AS span FROM legend GROUP BY 1, 2, 3",
    ),
    both(
        "legend_channel_rank_window",
        # Ties in counts get equal ranks, so the result is deterministic without a tie-breaker.
        "SELECT datatype, channel, n, rank() OVER (PARTITION BY datatype ORDER BY n DESC) AS rk, "
        "dense_rank() OVER (PARTITION BY datatype ORDER BY n DESC) AS drk FROM "
        "(SELECT datatype, channel, count(*) AS n FROM legend GROUP BY datatype, channel) AS t",
    ),
    both(
        "legend_running_sum_lag",
        "SELECT period, run, n, sum(n) OVER (PARTITION BY period ORDER BY run) AS cum_n, "
        "lag(n) OVER (PARTITION BY period ORDER BY run) AS prev_n FROM "
        "(SELECT period, run, count(*) AS n FROM legend GROUP BY period, run) AS t ORDER BY period, run",
        ordered=True,
    ),
    both(
        "legend_in_list_top_n",
        "SELECT channel, datatype, count(*) AS n, max(energy) AS e_max FROM legend "
        "WHERE channel IN (1084803, 1104000, 1121600, 1118400) AND datatype <> 'cal' "
        "GROUP BY channel, datatype ORDER BY n DESC, channel LIMIT 3",
        ordered=True,
    ),
    both(
        "legend_intersect_except",
        "(SELECT channel FROM legend WHERE datatype = 'cal' "
        " INTERSECT SELECT channel FROM legend WHERE multiplicity >= 3) "
        "EXCEPT SELECT channel FROM legend WHERE period = 'p04' AND energy > 2700",
    ),
    both(
        "legend_correlated_exists",
        "SELECT DISTINCT p.period, p.datatype FROM legend AS p WHERE EXISTS "
        "(SELECT 1 FROM legend AS q WHERE q.period = p.period AND q.datatype = p.datatype "
        " AND q.energy > 2610 AND q.multiplicity = 1)",
    ),
    both(
        "lhc_legend_cross_join",
        "SELECT l.period, l.n AS hits, c.n AS events, CAST(l.n AS DOUBLE) / c.n AS ratio FROM "
        "(SELECT period, count(*) AS n FROM legend GROUP BY period) AS l "
        "CROSS JOIN (SELECT count(*) AS n FROM lhc) AS c ORDER BY l.period",
        ordered=True,
    ),
]


# ------------------------------------------------------------------------------ comparison


def normalize(value):
    """DuckDB's Python values as hepq's JSON would give them."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def equal(a, b, rel_tol: float, abs_tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y, rel_tol, abs_tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k], rel_tol, abs_tol) for k in a)
    return a == b


def sort_key(row):
    """A total order for rows of mixed values; floats rounded so near-equal values sort together."""

    def key(v):
        if v is None:
            return (0,)
        if isinstance(v, bool):
            return (1, int(v))
        if isinstance(v, int):
            return (1, v)
        if isinstance(v, float):
            return (1, float(f"{v:.4g}"))
        if isinstance(v, str):
            return (2, v)
        if isinstance(v, list):
            return (3, tuple(key(x) for x in v))
        return (4, repr(v))

    return tuple(key(v) for v in row)


def rows_equal(a, b, case: Case) -> bool:
    return len(a) == len(b) and all(equal(x, y, case.rel_tol, case.abs_tol) for x, y in zip(a, b))


def unmatched(hepq_rows, duck_rows, case: Case):
    """Rows of each side without a partner on the other (multiset comparison, tolerant)."""
    remaining = list(duck_rows)
    only_hepq = []
    for row in hepq_rows:
        for i, other in enumerate(remaining):
            if rows_equal(row, other, case):
                del remaining[i]
                break
        else:
            only_hepq.append(row)
    return only_hepq, remaining


def show(rows, limit=8):
    text = "\n".join(f"    {r!r}" for r in rows[:limit])
    return text + (f"\n    ... ({len(rows) - limit} more)" if len(rows) > limit else "")


def compare(case: Case, hepq_cols, hepq_rows, duck_cols, duck_rows):
    assert hepq_cols == duck_cols, f"columns differ:\n  hepq:   {hepq_cols}\n  duckdb: {duck_cols}"
    assert len(hepq_rows) == len(duck_rows), (
        f"row counts differ: hepq {len(hepq_rows)}, duckdb {len(duck_rows)}\n"
        f"  hepq:\n{show(hepq_rows)}\n  duckdb:\n{show(duck_rows)}"
    )
    if case.ordered:
        for i, (h, d) in enumerate(zip(hepq_rows, duck_rows)):
            assert rows_equal(h, d, case), (
                f"row {i} differs (ordered comparison):\n  hepq:   {h!r}\n  duckdb: {d!r}"
            )
        return
    hs, ds = sorted(hepq_rows, key=sort_key), sorted(duck_rows, key=sort_key)
    if all(rows_equal(h, d, case) for h, d in zip(hs, ds)):
        return
    only_hepq, only_duck = unmatched(hs, ds, case)
    assert not only_hepq and not only_duck, (
        f"rows differ (multiset comparison): {len(only_hepq)} only in hepq, "
        f"{len(only_duck)} only in duckdb\n  only hepq:\n{show(only_hepq)}\n  only duckdb:\n{show(only_duck)}"
    )


# ------------------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def duck(lhc_dir, legend_dir):
    con = duckdb_connect(lhc_dir, legend_dir)
    yield con
    con.close()


def test_cases_are_many_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 24


# Known engine bugs hepq inherits, kept visible: strict, so a fix upstream turns them red.
KNOWN_BUGS = {
    "legend_group_by_expression_and_its_cast": "DataFusion names an expression and its CAST "
    "alike, so two GROUP BY keys collide (apache/datafusion#18975)",
}

PARAMS = [
    pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[c.id]))
    if c.id in KNOWN_BUGS
    else pytest.param(c, id=c.id)
    for c in CASES
]


@pytest.mark.parametrize("case", PARAMS)
def test_matches_duckdb(case: Case, hepq, tables, duck):
    rows = hepq.sql(case.hepq_sql, register=tables)
    hepq_cols = list(rows[0].keys()) if rows else []
    for r in rows:
        assert list(r.keys()) == hepq_cols, f"rows with different keys: {hepq_cols} vs {list(r.keys())}"
    hepq_rows = [list(r.values()) for r in rows]

    cursor = duck.execute(case.duck)
    duck_cols = [d[0] for d in cursor.description]
    duck_rows = [normalize(list(r)) for r in cursor.fetchall()]

    if not case.allow_empty:
        assert duck_rows, f"the reference result is empty; the case tests nothing: {case.duck}"
    if not hepq_rows:
        assert not duck_rows, f"hepq returned no rows, duckdb {len(duck_rows)}:\n{show(duck_rows)}"
        return
    compare(case, hepq_cols, hepq_rows, duck_cols, duck_rows)
