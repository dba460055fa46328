#!/usr/bin/env python3
"""Captures the compatibility corpus from a real PostgreSQL 15 (run by hand, not by CI).

    .venv/bin/python tests/pgcorpus/capture.py --hepq target/debug/hepq [--out tests/pgcorpus/corpus.json]

1. Starts `hepq serve` over the tables of the server tests (`types`, written by pyarrow, and
   `events`, the CMS open-data file) and asks it for their column types (`format_type`).
2. Starts a throw-away PostgreSQL 15 cluster (Debian's `postgresql-15`, run as the `postgres`
   user when this runs as root) on a free loopback port with `log_statement = all` and a CSV
   log, creates the same tables with those types and copies the rows over from hepq.
3. Runs every client of scenarios.py against PostgreSQL; the statements it logs, with their
   session, protocol, prepared-statement name and parameters, are the corpus.
4. Replays the corpus against PostgreSQL (replay.py) and stores its answers (result columns
   with names and type OIDs, command tags, SQLSTATEs) next to every statement.

tests/python/test_pg_corpus.py replays the corpus against `hepq serve` and compares.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "python"))

import replay  # noqa: E402
import scenarios  # noqa: E402
from pg15 import Postgres15  # noqa: E402

ROOT_FILE = REPO.parent / "shared" / "testdata" / "cms-opendata" / "Run2012B_SingleMu_1000.root"
TABLES = ("types", "events")
# Queries whose rows (not only their shape) must be PostgreSQL's: information_schema over the
# test tables, which BI tools read for column types.
VALUE_QUERIES = [
    "SELECT table_name, column_name, ordinal_position, is_nullable, data_type, udt_name, "
    "numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision "
    "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    "SELECT table_schema, table_name, table_type FROM information_schema.tables "
    "WHERE table_schema = 'public' ORDER BY table_name",
    "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'public'",
]


def wait_for_log(pg: Postgres15) -> int:
    """The log's size once the logger has written everything logged so far."""
    last, stable = -1, 0
    while stable < 3:
        time.sleep(0.2)
        size = pg.log_size()
        stable = stable + 1 if size == last else 0
        last = size
    return last


EXECUTE = re.compile(r"^execute (fetch from )?(.*?)(?:/(.*?))?: (.*)$", re.S)
PARAM = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')", re.S)


def statements(records: list[list[str]], client: str) -> list[dict]:
    """The corpus entries of one client's log records (csvlog columns: 5 session id, 13
    message, 14 detail)."""
    out = []
    for rec in records:
        if len(rec) < 15 or rec[11] != "LOG":
            continue
        session, message, detail = rec[5], rec[13], rec[14]
        if message.startswith("statement: "):
            out.append({"client": client, "session": session, "protocol": "simple", "sql": message[len("statement: "):]})
            continue
        m = EXECUTE.match(message)
        if not m:
            continue
        if m.group(1):  # "execute fetch from": the same portal fetched further, not a new statement
            continue
        name = m.group(2)
        params = []
        if detail.startswith("parameters: "):
            found = {int(p.group(1)): (None if p.group(2) == "NULL" else p.group(3).replace("''", "'"))
                     for p in PARAM.finditer(detail)}
            params = [found[i] for i in sorted(found)]
        out.append({
            "client": client,
            "session": session,
            "protocol": "extended",
            "name": "" if name == "<unnamed>" else name,
            "sql": m.group(4),
            "params": params,
        })
    return out


def client_versions() -> dict[str, str]:
    from importlib.metadata import version

    versions = {p: version(p) for p in ("psycopg", "psycopg2-binary", "asyncpg", "SQLAlchemy", "pandas", "duckdb")}
    versions["psql"] = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    jar = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libpostgresql-jdbc-java"], capture_output=True, text=True)
    versions["pgjdbc"] = jar.stdout.strip() or "unknown"
    return versions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hepq", type=Path, required=True, help="the hepq binary that serves the tables' types and rows")
    ap.add_argument("--out", type=Path, default=HERE / "corpus.json")
    ap.add_argument("--clients", default=",".join(scenarios.CLIENTS))
    args = ap.parse_args()

    import psycopg
    import pyarrow.parquet as pq
    from test_server_pg import Server, types_table

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wh = tmp / "warehouse"
        (wh / "tables" / "types").mkdir(parents=True)
        pq.write_table(types_table(), wh / "tables" / "types" / "part-0.parquet")
        hepq = Server(args.hepq, ["--warehouse", str(wh), "--register", f"events={ROOT_FILE}"])
        pg = Postgres15()
        try:
            with psycopg.connect(scenarios.dsn(hepq.port), autocommit=True) as src, \
                    psycopg.connect(scenarios.dsn(pg.port), autocommit=True) as dst:
                for table in TABLES:
                    cols = src.execute(
                        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attndims, a.attnotnull FROM pg_attribute a "
                        f"WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 ORDER BY a.attnum"
                    ).fetchall()
                    # Lists of fixed-size lists are 2-D arrays: declared so (attndims), as DuckDB reads them.
                    ddl = ", ".join(f'"{n}" {t}' + "[]" * max(0, (d or 0) - 1) + (" NOT NULL" if nn else "")
                                    for n, t, d, nn in cols)
                    dst.execute(f"CREATE TABLE {table} ({ddl})")
                    with src.cursor().copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as out, \
                            dst.cursor().copy(f"COPY {table} FROM STDIN") as into:
                        for block in out:
                            into.write(block)
                oids = {t: dst.execute(f"SELECT '{t}'::regclass::oid").fetchone()[0] for t in TABLES}
                values = [{"sql": q, "rows": [[None if v is None else str(v) for v in r] for r in dst.execute(q)]}
                          for q in VALUE_QUERIES]
            corpus = []
            for client in args.clients.split(","):
                start = wait_for_log(pg)
                scenarios.CLIENTS[client](pg.port)
                end = wait_for_log(pg)
                found = statements(pg.log_records(start, end), client)
                print(f"{client}: {len(found)} statements", file=sys.stderr)
                corpus.extend(found)
            answers = replay.replay(corpus, scenarios.dsn(pg.port))
            for stmt, answer in zip(corpus, answers, strict=True):
                stmt["postgres"] = answer
            version = pg.version()
        finally:
            pg.stop()
            hepq.stop()
    doc = {
        "about": "Statements real clients sent to PostgreSQL 15 (log_statement = all) and PostgreSQL's answers; "
                 "captured by tests/pgcorpus/capture.py, replayed against hepq by tests/python/test_pg_corpus.py.",
        "postgres": version,
        "clients": client_versions(),
        "table_oids": {t: str(o) for t, o in oids.items()},
        "values": values,
        "statements": corpus,
    }
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(corpus)} statements to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
