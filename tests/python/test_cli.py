"""The `hepq` command line: output formats, scripts, error messages, help and engine flags."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

HEAD_SQL = "SELECT run, event, nJet, Jet_pt, HLT_IsoMu24 FROM lhc ORDER BY run, event LIMIT 3"
HEAD_COLUMNS = ["run", "event", "nJet", "Jet_pt", "HLT_IsoMu24"]


def assert_clean_error(run, *, must_mention: list[str] = ()):
    """A user error: exit 1 and one `Error: ` line on stderr naming what went wrong."""
    assert run.returncode == 1, f"expected exit 1:\n{run.describe()}"
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{run.describe()}"
    assert lines[0].startswith("Error: "), f"stderr should start with 'Error: ':\n{run.describe()}"
    lowered = run.stderr.lower()
    for word in ("panicked", "backtrace", "stack backtrace"):
        assert word not in lowered, run.describe()
    for text in must_mention:
        assert text.lower() in lowered, f"the message should mention {text!r}:\n{run.describe()}"
    return lines[0]


def floats_close(a: list, b: list) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(a, b))


# ------------------------------------------------------------------------------ formats


@pytest.fixture(scope="module")
def head_rows(hepq, tables):
    rows = hepq.sql(HEAD_SQL, register=tables)
    assert len(rows) == 3
    return rows


def test_json_is_a_list_of_row_objects(head_rows):
    for row in head_rows:
        assert isinstance(row, dict)
        assert list(row) == HEAD_COLUMNS
        assert isinstance(row["run"], int) and isinstance(row["event"], int)
        assert isinstance(row["HLT_IsoMu24"], bool)
        assert isinstance(row["Jet_pt"], list), "list columns are JSON arrays"
        assert len(row["Jet_pt"]) == row["nJet"]
        assert all(isinstance(x, (int, float)) for x in row["Jet_pt"])


def test_ndjson_is_one_object_per_line(hepq, tables, head_rows):
    run = hepq.sql_run(HEAD_SQL, register=tables, fmt="ndjson")
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.describe()
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in rows)
    assert [list(r) for r in rows] == [HEAD_COLUMNS] * 3
    for r, expected in zip(rows, head_rows):
        assert r["event"] == expected["event"]
        assert isinstance(r["Jet_pt"], list) and floats_close(r["Jet_pt"], expected["Jet_pt"])


def test_csv_has_header_and_json_lists(hepq, tables, head_rows):
    run = hepq.sql_run(HEAD_SQL, register=tables, fmt="csv")
    reader = csv.reader(io.StringIO(run.stdout))
    records = list(reader)
    assert records[0] == HEAD_COLUMNS, run.describe()
    assert len(records) == 4, run.describe()
    for record, expected in zip(records[1:], head_rows):
        row = dict(zip(HEAD_COLUMNS, record))
        assert int(row["run"]) == expected["run"]
        assert int(row["event"]) == expected["event"]
        assert row["HLT_IsoMu24"] in ("true", "false")
        pts = json.loads(row["Jet_pt"])  # list cells are JSON text
        assert isinstance(pts, list) and floats_close(pts, expected["Jet_pt"])


def test_table_format_shows_names_and_values(hepq, tables, head_rows):
    run = hepq.sql_run(HEAD_SQL, register=tables, fmt="table")
    for name in HEAD_COLUMNS:
        assert name in run.stdout, run.describe()
    for row in head_rows:
        assert str(row["event"]) in run.stdout, run.describe()
    # The default format is the table.
    default = hepq.run("sql", *hepq.register_args(tables), "-c", HEAD_SQL)
    assert default.stdout == run.stdout


def test_empty_result_in_every_format(hepq, tables):
    sql = "SELECT run, event FROM lhc WHERE run < 0"
    assert hepq.sql(sql, register=tables) == []
    assert hepq.sql_run(sql, register=tables, fmt="ndjson").stdout.strip() == ""
    csv_out = hepq.sql_run(sql, register=tables, fmt="csv").stdout
    assert csv_out.splitlines()[:1] == ["run,event"], csv_out


def test_nulls_are_json_null(hepq):
    rows = hepq.sql("SELECT CAST(NULL AS INT) AS a, 'x' AS b, [1, 2] AS c")
    assert rows == [{"a": None, "b": "x", "c": [1, 2]}]


# ------------------------------------------------------------------------------ scripts


def test_script_file_prints_last_result(hepq, lhc_dir, tmp_path):
    script = tmp_path / "script.sql"
    script.write_text(
        "-- a comment\n"
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{lhc_dir}/';\n"
        "SELECT 'not printed' AS x;\n"
        "SELECT run, count(*) AS n FROM t GROUP BY run ORDER BY run;\n"
    )
    run = hepq.run("sql", "-f", script, "--format", "json")
    rows = json.loads(run.stdout)
    assert [set(r) for r in rows] == [{"run", "n"}] * len(rows)
    assert sum(r["n"] for r in rows) == 20_000
    assert "not printed" not in run.stdout


def test_several_statements_in_command(hepq, tables):
    rows = hepq.sql(
        "CREATE VIEW muons AS SELECT run, nMuon FROM lhc WHERE nMuon > 0; "
        "SELECT 1 AS first; "
        "SELECT count(*) AS n FROM muons",
        register=tables,
    )
    assert list(rows[0]) == ["n"] and len(rows) == 1
    (direct,) = hepq.sql("SELECT count(*) AS n FROM lhc WHERE nMuon > 0", register=tables)
    assert rows[0]["n"] == direct["n"] > 0


def test_ddl_only_script_succeeds(hepq, lhc_dir):
    run = hepq.run(
        "sql", "-c", f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{lhc_dir}/'"
    )
    assert run.returncode == 0


# ------------------------------------------------------------------------------ errors


def test_missing_path_is_named(hepq, tmp_path):
    missing = tmp_path / "no" / "such" / "folder"
    run = hepq.run("sql", "--register", f"x={missing}/", "-c", "SELECT 1", check=False)
    assert_clean_error(run, must_mention=[str(missing)])


def test_missing_path_in_create_external_table(hepq, tmp_path):
    missing = tmp_path / "nowhere"
    run = hepq.sql_run(
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{missing}/'; SELECT count(*) FROM t",
        check=False,
    )
    assert_clean_error(run, must_mention=[str(missing)])


def test_non_parquet_file_is_named(hepq, tmp_path):
    bogus = tmp_path / "notes.parquet"
    bogus.write_text("this is not a parquet file\n" * 20)
    run = hepq.run("sql", "--register", f"x={bogus}", "-c", "SELECT count(*) FROM x", check=False)
    assert_clean_error(run, must_mention=["notes.parquet"])


def test_non_parquet_file_in_folder_is_named(hepq, tmp_path):
    folder = tmp_path / "table"
    folder.mkdir()
    (folder / "broken.parquet").write_bytes(b"PAR1 but not really" * 10)
    run = hepq.run("sql", "--register", f"x:parquet={folder}/", "-c", "SELECT count(*) FROM x", check=False)
    assert_clean_error(run, must_mention=["broken.parquet"])


def test_bad_sql_names_the_position(hepq, tables):
    run = hepq.sql_run("SELECT run,, event FROM lhc", register=tables, check=False)
    line = assert_clean_error(run)
    assert "line" in line.lower() and "column" in line.lower(), run.describe()


def test_unknown_table_is_named(hepq):
    run = hepq.sql_run("SELECT * FROM no_such_table_here", check=False)
    assert_clean_error(run, must_mention=["no_such_table_here"])


def test_unknown_column_is_named(hepq, tables):
    run = hepq.sql_run("SELECT Jet_nonsense FROM lhc", register=tables, check=False)
    assert_clean_error(run, must_mention=["Jet_nonsense"])


def test_error_in_later_statement_fails_the_script(hepq, tables):
    run = hepq.sql_run("SELECT 1 AS a; SELECT * FROM missing_table_two", register=tables, check=False)
    assert_clean_error(run, must_mention=["missing_table_two"])
    assert run.stdout.strip() == "", "nothing is printed when a statement fails"


def test_bad_register_spec(hepq):
    run = hepq.run("sql", "--register", "nonsense", "-c", "SELECT 1", check=False)
    assert_clean_error(run, must_mention=["nonsense"])


def test_generate_refuses_non_empty_folder(hepq, tmp_path):
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    run = hepq.run("generate", "lhc", "--events", "10", "--out", out, check=False)
    assert_clean_error(run, must_mention=[str(out)])


# ------------------------------------------------------------------------------ help and flags


@pytest.mark.parametrize("command", ["sql", "demo", "generate"])
def test_help(hepq, command):
    run = hepq.run(command, "--help")
    assert "Usage" in run.stdout, run.describe()
    assert command in run.stdout


def test_top_level_help_lists_commands(hepq):
    run = hepq.run("--help")
    for command in ("sql", "demo", "generate"):
        assert command in run.stdout, run.describe()


def test_memory_limit_and_threads(hepq, tables):
    sql = (
        "SELECT run, count(*) AS n, count(DISTINCT event) AS ne FROM lhc GROUP BY run ORDER BY run"
    )
    plain = hepq.sql(sql, register=tables)
    limited = hepq.sql(sql, register=tables, extra=["--memory-limit", "64MB", "--threads", "1"])
    assert limited == plain
    assert sum(r["n"] for r in plain) == 20_000


def test_bad_memory_limit_is_rejected(hepq):
    run = hepq.run("sql", "--memory-limit", "lots", "-c", "SELECT 1", check=False)
    assert run.returncode != 0
    assert "lots" in run.stderr
    assert "panicked" not in run.stderr


# ------------------------------------------------------------------------------ generate, demo


def test_generate_is_deterministic(hepq, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        hepq.run("generate", "legend", "--events", "3000", "--out", out, "--seed", seed)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    assert files_a == files_b and files_a
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files_a if (c / f).exists())


def test_demo_builds_warehouse_once(hepq, tmp_path):
    warehouse = tmp_path / "wh"
    first = hepq.run(
        "demo", "--warehouse", warehouse, "--lhc-events", "4000", "--legend-hits", "4000", timeout=600
    )
    assert first.stdout.strip(), "the demo prints a tour"
    for table in ("lhc_events", "legend_hits"):
        assert any((warehouse / "tables" / table).rglob("*.parquet")), f"no {table} files"
    files = sorted((warehouse / "tables").rglob("*.parquet"))
    mtimes = [f.stat().st_mtime_ns for f in files]

    hepq.run("demo", "--warehouse", warehouse, "--lhc-events", "4000", "--legend-hits", "4000", timeout=600)
    assert sorted((warehouse / "tables").rglob("*.parquet")) == files
    assert [f.stat().st_mtime_ns for f in files] == mtimes, "the second run must not regenerate"

    rows = hepq.sql(
        "SELECT (SELECT count(*) FROM lhc_events) AS lhc, (SELECT count(*) FROM legend_hits) AS legend",
        extra=["--warehouse", str(warehouse)],
    )
    assert rows == [{"lhc": 4000, "legend": 4000}]
