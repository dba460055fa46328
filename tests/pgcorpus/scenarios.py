"""What each client does when the corpus is captured: the work hepq's client tests give it.

Every scenario connects as user `hepq` to database `hepq` on 127.0.0.1:PORT and uses the
tables `types` (every type hepq sends; tests/python/test_server_pg.types_table) and `events`
(the CMS open-data file's branches). The statements they send to PostgreSQL 15 are captured
from its log; the scenarios are written so that the same calls also work against hepq.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
JDBC_JAR = Path("/usr/share/java/postgresql.jar")
TYPE_COLUMNS = "id, i32, i16, f32, f64, flag, name, day, ts, dec, blob, vals, ints, pair, grid, jag, rec"


def dsn(port: int) -> str:
    return f"host=127.0.0.1 port={port} user=hepq dbname=hepq"


def psql(port: int) -> None:
    binary = shutil.which("psql")
    if binary is None:
        raise RuntimeError("psql (Debian postgresql-client) is not installed")
    base = [binary, "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "hepq", "hepq"]
    for commands in (
        [r"\l"],
        [r"\dn"],
        [r"\dt"],
        [r"\d"],
        [r"\d events"],
        [r"\d types"],
        [r"\d+ types"],
        [r"\df"],
        [r"\dv"],
        [r"\di"],
        [r"\du"],
        [r"\dT"],
        [r"\x", 'SELECT "Muon_pt", "nMuon" FROM events LIMIT 1'],
        ["SELECT count(*) FROM events; SELECT 40 + 2 AS answer"],
    ):
        args = list(base)
        for c in commands:
            args += ["-c", c]
        subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)


def psycopg3(port: int) -> None:
    import psycopg
    from psycopg.types import TypeInfo

    with psycopg.connect(dsn(port), autocommit=True) as conn:
        conn.execute(f"SELECT {TYPE_COLUMNS} FROM types ORDER BY id").fetchall()
        with conn.cursor(binary=True) as cur:
            cur.execute(f"SELECT {TYPE_COLUMNS} FROM types ORDER BY id").fetchall()
        conn.execute("SELECT id, name FROM types WHERE id < %s AND name IS NOT NULL ORDER BY id", (20,)).fetchall()
        # More than 9 parameters, and NULL parameters.
        conn.execute(
            "SELECT count(*) FROM types WHERE id IN (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            tuple(range(12)),
        ).fetchone()
        conn.execute("SELECT count(*) FROM types WHERE i32 = %s", (None,)).fetchone()
        conn.execute("SELECT %s::int4[] AS a", ([1, None, 3],)).fetchone()
        # Automatic prepare after 5 executions, then DEALLOCATE ALL.
        for i in range(7):
            conn.execute("SELECT f64 FROM types WHERE id = %s", (i,)).fetchone()
        conn.execute("DEALLOCATE ALL")
        for spec in ("COPY (SELECT id, vals FROM types ORDER BY id) TO STDOUT",
                     "COPY (SELECT id, name FROM types ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
                     "COPY (SELECT id, f64, ints FROM types ORDER BY id) TO STDOUT (FORMAT binary)"):
            with conn.cursor().copy(spec) as copy:
                for _ in copy:
                    pass
        conn.execute("SHOW server_version").fetchone()
        conn.execute("SELECT version(), current_schema(), current_database(), current_user").fetchone()
    # Transactions, savepoints and type lookups inside them.
    with psycopg.connect(dsn(port)) as conn:
        conn.execute("SELECT count(*) FROM types").fetchone()
        with conn.transaction():
            TypeInfo.fetch(conn, "json")
            TypeInfo.fetch(conn, "float4[]")
        conn.commit()
        with conn.cursor("named") as cur:
            cur.execute("SELECT id, vals FROM types ORDER BY id")
            cur.fetchmany(10)
            cur.fetchall()
        conn.rollback()
        conn.execute("SET statement_timeout = '5s'")
        conn.execute("SHOW statement_timeout").fetchone()
        conn.execute("RESET statement_timeout")


def psycopg2(port: int) -> None:
    import psycopg2 as pg2

    conn = pg2.connect(dsn(port))
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, name, ints, day FROM types WHERE id < %s ORDER BY id", (20,))
        cur.fetchall()
        cur.execute("SELECT %s AS a, %s AS b, %s AS c", (1, "x", None))
        cur.fetchall()
        conn.rollback()
        named = conn.cursor("c1")
        named.execute("SELECT id, f32 FROM types ORDER BY id")
        named.fetchmany(5)
        named.close()
        conn.commit()
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM events")
        cur.fetchall()
    finally:
        conn.close()


def asyncpg(port: int) -> None:
    import json

    import asyncpg as apg

    async def main():
        conn = await apg.connect(host="127.0.0.1", port=port, user="hepq", database="hepq")
        try:
            await conn.fetchval("SELECT version()")
            await conn.fetch(f"SELECT {TYPE_COLUMNS} FROM types ORDER BY id")
            await conn.fetch("SELECT id, vals, ints, ARRAY[flag, NOT flag] AS flags FROM types WHERE id < $1 ORDER BY id", 40)
            await conn.fetchval("SELECT count(*) FROM types WHERE i32 > $1 AND f64 < $2 AND flag = $3", -50, 1.0, True)
            await conn.fetchval("SELECT count(*) FROM types WHERE i32 = $1", None)
            await conn.fetchval("SELECT $1::int4 IS NULL", None)
            await conn.fetchval("SELECT count(*) FROM types WHERE ints IS NOT DISTINCT FROM $1", [0, 1, 2])
            await conn.fetchval("SELECT cardinality($1::int4[])", [4, None, 6])
            await conn.fetchval("SELECT $1::int + 1", 41)
            await conn.fetchval("SELECT $1::text[]", ["a", None, "é"])
            stmt = await conn.prepare("SELECT vals FROM types WHERE id = $1")
            for i in (1, 2, 3):
                await stmt.fetchval(i)
            await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            await conn.fetchval("SELECT rec FROM types WHERE id = 1")
            await conn.reset_type_codec("json", schema="pg_catalog")
            async with conn.transaction():
                [r async for r in conn.cursor("SELECT id FROM types ORDER BY id", prefetch=50)]
        finally:
            await conn.close()
        pool = await apg.create_pool(host="127.0.0.1", port=port, user="hepq", database="hepq", min_size=1, max_size=1)
        try:
            for _ in range(2):
                async with pool.acquire() as c:
                    await c.fetchval("SELECT count(*) FROM types")
        finally:
            await pool.close()

    asyncio.run(main())


def sqlalchemy(port: int) -> None:
    import pandas as pd
    import sqlalchemy as sa

    for driver in ("psycopg", "psycopg2"):
        engine = sa.create_engine(f"postgresql+{driver}://hepq@127.0.0.1:{port}/hepq")
        try:
            insp = sa.inspect(engine)
            insp.get_schema_names()
            insp.get_table_names()
            insp.get_view_names()
            insp.has_table("types")
            insp.get_columns("types")
            insp.get_columns("events")
            insp.get_pk_constraint("types")
            insp.get_foreign_keys("types")
            insp.get_indexes("types")
            insp.get_unique_constraints("types")
            insp.get_check_constraints("types")
            insp.get_table_comment("types")
            pd.read_sql("SELECT id, i32, f64, name, day FROM types WHERE id < 100 AND i16 > -10 ORDER BY id", engine)
            pd.read_sql_table("types", engine, columns=["id", "f64", "name", "vals"])
        finally:
            engine.dispose()


def pgjdbc(port: int) -> None:
    if not JDBC_JAR.exists() or shutil.which("javac") is None:
        raise RuntimeError(f"pgjdbc needs {JDBC_JAR} (libpostgresql-jdbc-java) and a JDK")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["javac", "-cp", str(JDBC_JAR), "-d", tmp, str(HERE / "CorpusJdbc.java")],
                       check=True, capture_output=True, timeout=300)
        subprocess.run(["java", "-cp", f"{tmp}:{JDBC_JAR}", "CorpusJdbc", f"jdbc:postgresql://127.0.0.1:{port}/hepq"],
                       check=True, capture_output=True, timeout=300)


def duckdb_postgres(port: int) -> None:
    import duckdb
    import duckdb_extension_postgres_scanner as ext

    found = sorted(Path(ext.__file__).parent.glob(f"extensions/v{duckdb.__version__}/postgres_scanner.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{found[0]}'")
    con.execute(f"ATTACH 'host=127.0.0.1 port={port} user=hepq dbname=hepq' AS pg (TYPE postgres, READ_ONLY)")
    con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'pg'").fetchall()
    con.execute("DESCRIBE pg.public.types").fetchall()
    con.execute("SELECT id, f32, vals, ints, grid FROM pg.public.types").fetchall()
    con.execute("SET pg_use_text_protocol = true")
    con.execute("SELECT id, name, vals FROM pg.public.types WHERE id < 10").fetchall()
    con.execute("SELECT * FROM postgres_query('pg', 'SELECT id, ints FROM types WHERE id < 5')").fetchall()
    con.close()


CLIENTS = {
    "psql": psql,
    "psycopg": psycopg3,
    "psycopg2": psycopg2,
    "asyncpg": asyncpg,
    "sqlalchemy": sqlalchemy,
    "pgjdbc": pgjdbc,
    "duckdb": duckdb_postgres,
}
