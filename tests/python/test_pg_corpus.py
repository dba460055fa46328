"""The compatibility corpus: what real clients sent to PostgreSQL 15, replayed against hepq.

tests/pgcorpus/corpus.json holds every statement psql, psycopg 3, psycopg2, asyncpg, SQLAlchemy
(+ pandas), pgjdbc and DuckDB's postgres extension sent to a real PostgreSQL 15 (Debian's
postgresql-15, `log_statement = all`) while doing the work of hepq's client tests, together with
PostgreSQL's answers (tests/pgcorpus/capture.py). Here the same statements, in the same
sessions and protocol (simple or extended, named prepared statements, parameters), go to
`hepq serve` over the same tables, and every answer must have PostgreSQL's shape: the same
results, statuses, command tags, column names and column type OIDs.

Where hepq still answers differently, the difference is listed, with its reason, in
tests/pgcorpus/known_differences.json; the test fails on any difference not listed there and
on any listed one that is gone (so the list only shrinks, and stays true). After fixing one,
regenerate the list with `HEPQ_WRITE_KNOWN_DIFFERENCES=1 pytest tests/python/test_pg_corpus.py`
and review its diff.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import pytest

from conftest import REPO_ROOT, skip_or_fail
from test_server_pg import ROOT_FILE, Server, types_warehouse

sys.path.insert(0, str(REPO_ROOT / "tests" / "pgcorpus"))

CORPUS = REPO_ROOT / "tests" / "pgcorpus" / "corpus.json"
KNOWN = REPO_ROOT / "tests" / "pgcorpus" / "known_differences.json"
CLIENTS = ("psql", "psycopg", "psycopg2", "asyncpg", "sqlalchemy", "pgjdbc", "duckdb")

# Why a listed difference exists (the first pattern matching the difference gives it).
REASONS = [
    (r"type OID 25, PostgreSQL (16|114|1184|2205|2278|19|18|1028|1009)\b",
     "a column hepq sends as text: always NULL in hepq's catalog (folded away), a `::regclass` "
     "(sent as the relation name), or a function typed text"),
    (r"type OID 1009, PostgreSQL 1003", "name[] sent as text[]"),
    (r"type OID 1005, PostgreSQL 22", "int2vector sent as int2[]"),
    (r"type OID 20, PostgreSQL (23|26|2205)", "int8 where PostgreSQL has int4 or oid (computed integers, `to_regclass`)"),
    (r"type OID 21, PostgreSQL 23", "int2 where PostgreSQL has int4 (a catalog column's width)"),
    (r"type OID \d+, PostgreSQL \d+", "another type"),
    (r"columns \[.*\] != \[.*[A-Z].*\]",
     "unquoted aliases keep their case: hepq does not fold identifiers to lower case, so that "
     "mixed-case branch names such as Muon_pt work unquoted"),
    (r"columns .*'column\d+'", "a PostgreSQL name the engine cannot take in that select list (repeated, "
     "like `?column?` twice, or equal to a column the ORDER BY adds): a generated name instead"),
    (r"Dot access not supported", "unsupported: field access on a composite value, `(f(x)).n`"),
    (r"No field named x", "unsupported: a table function's alias naming its column (`unnest(a) x`)"),
    (r"statuses", "fails in hepq"),
    (r".", "other"),
]


def reason(difference: str) -> str:
    return next(r for pattern, r in REASONS if re.search(pattern, difference))


@pytest.fixture(scope="module")
def corpus() -> dict:
    return json.loads(CORPUS.read_text())


@pytest.fixture(scope="module")
def server(hepq_bin, tmp_path_factory):
    if not ROOT_FILE.exists():
        skip_or_fail(f"test data missing: {ROOT_FILE}")
    wh = types_warehouse(tmp_path_factory, "pg-corpus-warehouse")
    srv = Server(hepq_bin, ["--warehouse", str(wh), "--register", f"events={ROOT_FILE}"])
    yield srv
    srv.stop()


def differences(want: list[dict], got: list[dict]) -> list[str]:
    """What differs between PostgreSQL's results of one statement and hepq's."""
    if [w["status"] for w in want] != [g["status"] for g in got]:
        return [f"statuses {[w['status'] for w in want]} != {[g['status'] for g in got]}"
                + "".join(f" ({g.get('sqlstate')}: {g.get('message')})" for g in got if g["status"] == "error")]
    out = []
    for k, (w, g) in enumerate(zip(want, got)):
        if w["status"] == "error":
            continue
        for key in ("tag", "copy_columns", "copy_binary"):
            if w.get(key) != g.get(key):
                out.append(f"result {k}: {key} {w.get(key)!r} != {g.get(key)!r}")
        wc, gc = w.get("columns", []), g.get("columns", [])
        if [c[0] for c in wc] != [c[0] for c in gc]:
            out.append(f"result {k}: columns {[c[0] for c in wc]} != {[c[0] for c in gc]}")
            continue
        for (name, wt), (_, gt) in zip(wc, gc):
            if wt != gt:
                out.append(f"result {k}: column {name!r} has type OID {gt}, PostgreSQL {wt}")
    return out


def test_corpus_is_from_postgres_15_and_covers_every_client(corpus):
    assert corpus["postgres"].startswith("PostgreSQL 15."), corpus["postgres"]
    counts = Counter(s["client"] for s in corpus["statements"])
    assert set(counts) == set(CLIENTS), counts
    assert all(n >= 10 for n in counts.values()), counts
    protocols = Counter(s["protocol"] for s in corpus["statements"])
    assert protocols["simple"] > 0 and protocols["extended"] > 0, protocols
    assert any(s.get("name") for s in corpus["statements"]), "no named prepared statement captured"


def test_hepq_answers_every_statement_like_postgres(corpus, server, capsys):
    import psycopg
    import replay

    with psycopg.connect(server.dsn, autocommit=True) as conn:
        oids = {
            pg_oid: str(conn.execute(f"SELECT '{table}'::regclass::oid").fetchone()[0])
            for table, pg_oid in corpus["table_oids"].items()
        }
    statements = corpus["statements"]
    answers = replay.replay(statements, server.dsn, oids)
    found = []
    per_client: dict[str, list[int]] = {c: [0, 0] for c in CLIENTS}
    for k, (stmt, got) in enumerate(zip(statements, answers, strict=True)):
        diff = differences(stmt["postgres"], got)
        per_client[stmt["client"]][0] += 1
        if diff:
            per_client[stmt["client"]][1] += 1
            found.append({"statement": k, "client": stmt["client"], "sql": stmt["sql"],
                          "differences": diff, "reasons": sorted({reason(d) for d in diff})})
    with capsys.disabled():
        print("\ncompatibility corpus (PostgreSQL 15 answers vs hepq):")
        for client, (n, bad) in per_client.items():
            print(f"  {client:<11} {n:4d} statements, {n - bad:4d} same shape, {bad:3d} different")
        for r, n in Counter(r for f in found for r in f["reasons"]).most_common():
            print(f"    {n:3d} x {r}")
    assert server.alive()
    if os.environ.get("HEPQ_WRITE_KNOWN_DIFFERENCES"):
        KNOWN.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")
    known = json.loads(KNOWN.read_text())
    key = lambda f: (f["statement"], f["sql"], tuple(f["differences"]))  # noqa: E731
    new = [f for f in found if key(f) not in {key(k) for k in known}]
    gone = [k for k in known if key(k) not in {key(f) for f in found}]
    assert not new, f"{len(new)} statements differ from PostgreSQL in a way not listed in {KNOWN.name}:\n" + "\n".join(
        f"[{f['client']}] {f['sql'][:300]!r}\n    " + "\n    ".join(f["differences"]) for f in new)
    assert not gone, (f"{len(gone)} listed differences are gone (fixed?): regenerate {KNOWN.name} with "
                      "HEPQ_WRITE_KNOWN_DIFFERENCES=1 and review it:\n" + "\n".join(f"[{k['client']}] {k['sql'][:200]!r}" for k in gone))


def test_information_schema_rows_are_postgres(corpus, server):
    """information_schema over the test tables: the same rows as PostgreSQL 15 gives for the
    same column types (data_type, udt_name, precision, …), not the engine's Arrow names."""
    import psycopg

    assert corpus["values"], "no value queries captured"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        for q in corpus["values"]:
            got = [[None if v is None else str(v) for v in r] for r in conn.execute(q["sql"])]
            assert got == q["rows"], q["sql"]
