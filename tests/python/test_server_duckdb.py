"""`hepq serve` as seen by DuckDB's postgres extension (`ATTACH … (TYPE postgres)`).

The extension comes from PyPI (`duckdb-extension-postgres-scanner`, the build matching the
pinned `duckdb`; `INSTALL postgres` would download it) and is loaded by path. The server runs
on a free 127.0.0.1 port over a temporary warehouse holding the `types` Parquet table written
by pyarrow (test_server_pg.types_table); what DuckDB reads through the attached database is
compared with DuckDB reading the same Parquet file directly.

Scans go through the extension's two read paths: binary `COPY (SELECT …) TO STDOUT (FORMAT
binary)` (its default) and plain queries over the text protocol (`pg_use_text_protocol = true`);
`pg_use_binary_copy` only picks the COPY format of writes. `postgres_query`, `postgres_execute`
and `postgres_scan` are checked too. hepq reports `relpages = 0`, so the extension scans each
table with one query (no `WHERE ctid BETWEEN …` ranges, no exported snapshot): checked on the
queries it prints with `pg_debug_show_queries`.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import skip_or_fail
from test_server_pg import N_ROWS, Server, types_table, types_warehouse
from test_server_pg import same as pg_same

# Columns and the types the extension gives them: hepq's int8/int4/int2/float4/float8/bool/
# text/date/timestamp/numeric/bytea, float4[]/int4[] for lists, float8[][]/int4[][] for
# fixed-size inner lists (2-D arrays), json for jagged nested lists and structs.
SCALARS = ["id", "i32", "i16", "f32", "f64", "flag", "name", "day", "ts", "dec", "blob"]
LISTS = ["vals", "ints", "pair", "grid"]
JSON_COLUMNS = ["jag", "rec"]
COLUMNS = SCALARS + LISTS + JSON_COLUMNS

# The two ways the extension reads a table.
READ_PATHS = {
    "binary-copy": [],
    "text-protocol": ["SET pg_use_text_protocol = true"],
}


def extension_path() -> Path:
    try:
        import duckdb_extension_postgres_scanner as ext
    except ImportError:
        skip_or_fail("duckdb-extension-postgres-scanner is not installed (tests/requirements.txt)")
    found = sorted(Path(ext.__file__).parent.glob(f"extensions/v{duckdb.__version__}/postgres_scanner.duckdb_extension"))
    if not found:
        skip_or_fail(f"no postgres_scanner extension for DuckDB {duckdb.__version__} in {ext.__file__}")
    return found[0]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return types_warehouse(tmp_path_factory, "pg-duckdb-warehouse")


@pytest.fixture(scope="module")
def server(hepq_bin: Path, warehouse: Path):
    srv = Server(hepq_bin, ["--warehouse", str(warehouse)])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ext() -> Path:
    return extension_path()


@pytest.fixture(scope="module")
def reference(warehouse: Path):
    """DuckDB reading the same Parquet file, jagged lists and structs as JSON text."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW types AS SELECT * FROM read_parquet('{warehouse}/tables/types/*.parquet')")
    return con


def attached(server: Server, ext: Path, settings: list[str] = ()):
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    for s in settings:
        con.execute(s)
    con.execute(f"ATTACH '{server.dsn}' AS h (TYPE postgres, READ_ONLY)")
    return con


def same(col: str, got, want) -> bool:
    """As test_server_pg.same, and json text (jagged lists, structs) compared as parsed JSON."""
    if col in JSON_COLUMNS and got is not None and want is not None:
        return json.loads(got) == want
    return pg_same(col, got, want)


def expected_rows() -> list[tuple]:
    t = types_table()
    cols = {c: t.column(c).to_pylist() for c in COLUMNS}
    return [tuple(cols[c][i] for c in COLUMNS) for i in range(N_ROWS)]


def check_rows(rows, want) -> None:
    assert len(rows) == len(want)
    for got_row, want_row in zip(rows, want):
        for col, g, w in zip(COLUMNS, got_row, want_row):
            assert same(col, g, w), f"column {col}, id {want_row[0]}: got {g!r}, want {w!r}"


def test_attach_lists_tables_and_columns(server, ext):
    con = attached(server, ext)
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'h' ORDER BY ALL"
    ).fetchall()
    assert ("public", "types") in tables
    names = [r[2] for r in con.execute("SHOW ALL TABLES").fetchall() if r[0] == "h"]
    assert "types" in names
    cols = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = 'h' AND table_name = 'types' ORDER BY column_index"
        ).fetchall()
    )
    assert list(cols) == COLUMNS
    assert cols["id"] == "BIGINT" and cols["i32"] == "INTEGER" and cols["i16"] == "SMALLINT"
    assert cols["f32"] == "FLOAT" and cols["f64"] == "DOUBLE" and cols["flag"] == "BOOLEAN"
    assert cols["name"] == "VARCHAR" and cols["day"] == "DATE" and cols["ts"] == "TIMESTAMP"
    assert cols["dec"] == "DECIMAL(10,3)" and cols["blob"] == "BLOB"
    assert cols["vals"] == "FLOAT[]" and cols["ints"] == "INTEGER[]"
    assert cols["pair"] == "DOUBLE[]" and cols["grid"] == "INTEGER[][]", cols


@pytest.mark.parametrize("path", list(READ_PATHS), ids=list(READ_PATHS))
def test_select_every_column(server, ext, path, capfd):
    con = attached(server, ext, [*READ_PATHS[path], "SET pg_debug_show_queries = true"])
    capfd.readouterr()
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM h.public.types ORDER BY id").fetchall()
    sent = capfd.readouterr().err
    check_rows(rows, expected_rows())
    # What the extension sent: one scan of the whole table, as binary COPY or as a query.
    scans = [line for line in sent.splitlines() if '"public"."types"' in line]
    assert len(scans) == 1, sent
    assert "ctid" not in sent and "pg_export_snapshot" not in sent, sent
    if path == "binary-copy":
        assert scans[0].startswith("COPY (SELECT ") and scans[0].endswith('TO STDOUT (FORMAT "binary");'), sent
    else:
        assert scans[0].startswith("SELECT ") and "COPY" not in sent, sent


@pytest.mark.parametrize("path", list(READ_PATHS), ids=list(READ_PATHS))
def test_lists_with_empty_and_null(server, ext, reference, path):
    con = attached(server, ext, READ_PATHS[path])
    got = con.execute("SELECT id, vals, ints FROM h.types WHERE id < 40 ORDER BY id").fetchall()
    want = reference.execute("SELECT id, vals, ints FROM types WHERE id < 40 ORDER BY id").fetchall()
    assert len(got) == len(want) == 40
    for g, w in zip(got, want):
        assert g[0] == w[0] and same("vals", g[1], w[1]) and g[2] == w[2], (g, w)
    # Empty lists, NULL lists and NULL elements are all there.
    assert any(g[1] == [] for g in got) and any(g[1] is None for g in got)
    assert any(g[1] is not None and None in g[1] for g in got)
    assert any(g[2] == [] for g in got) and any(g[2] is None for g in got)
    # DuckDB computes over the lists it read.
    (n,) = con.execute("SELECT sum(len(ints)) FROM h.types").fetchone()
    assert n == reference.execute("SELECT sum(len(ints)) FROM types").fetchone()[0]


@pytest.mark.parametrize("path", list(READ_PATHS), ids=list(READ_PATHS))
def test_filters_and_aggregates(server, ext, reference, path):
    con = attached(server, ext, READ_PATHS[path])
    sql = "SELECT count(*), sum(i32), min(name), max(day) FROM {t} WHERE i32 > -50 AND flag AND f64 < 1.0"
    assert con.execute(sql.format(t="h.types")).fetchall() == reference.execute(sql.format(t="types")).fetchall()
    sql = "SELECT id, name FROM {t} WHERE name LIKE 'n1%' ORDER BY id LIMIT 5"
    assert con.execute(sql.format(t="h.types")).fetchall() == reference.execute(sql.format(t="types")).fetchall()


def test_postgres_query(server, ext, reference):
    con = attached(server, ext)
    got = con.execute(
        "SELECT * FROM postgres_query('h', 'SELECT id, vals, ints, cardinality(ints) AS n FROM types "
        "WHERE id < 20 ORDER BY id')"
    ).fetchall()
    want = reference.execute("SELECT id, vals, ints, len(ints) FROM types WHERE id < 20 ORDER BY id").fetchall()
    assert len(got) == len(want) == 20
    for g, w in zip(got, want):
        assert g[0] == w[0] and same("vals", g[1], w[1]) and g[2] == w[2] and g[3] == w[3], (g, w)
    # hepq's own functions run on the server.
    (v,) = con.execute("SELECT * FROM postgres_query('h', 'SELECT version() AS v')").fetchone()
    assert v.startswith("PostgreSQL 16.") and "(hepq " in v
    # postgres_execute runs a statement on the server; DuckDB itself refuses writes to a
    # READ_ONLY attachment.
    con.execute("CALL postgres_execute('h', 'SET application_name = ''duckdb-test''')")
    with pytest.raises(duckdb.Error, match="read-only|read only"):
        con.execute("INSERT INTO h.types (id) VALUES (1000)")


def test_write_through_read_write_attach_is_refused(server, ext):
    """Without READ_ONLY, DuckDB writes with `COPY … FROM STDIN (FORMAT BINARY)`: the server
    answers SQLSTATE 0A000 (only `COPY … TO STDOUT` is supported), the table is unchanged."""
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    con.execute(f"ATTACH '{server.dsn}' AS h (TYPE postgres)")
    with pytest.raises(duckdb.Error, match="only COPY … TO STDOUT is supported"):
        con.execute("INSERT INTO h.types (id) VALUES (1000)")
    assert con.execute("SELECT count(*) FROM h.types").fetchone()[0] == N_ROWS


def test_postgres_scan(server, ext):
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    rows = con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM postgres_scan('{server.dsn}', 'public', 'types') ORDER BY id"
    ).fetchall()
    check_rows(rows, expected_rows())
