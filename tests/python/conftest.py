"""Shared fixtures of the end-to-end suite: the `hepq` binary and the generated demo datasets.

The binary comes from `HEPQ_BIN` (scripts/test.sh points it at the debug build), else
`target/debug/hepq` under the repository root. Without it the suite skips with the reason;
with `CI=true` every skip, for whatever reason, is turned into a failure, so that CI can never
pass by testing nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")

# Dataset sizes and seeds: small enough for a debug binary on 2 cores, large enough for several
# runs (LHC: 3 runs at 20 k events) and partitions (LEGEND: 2 periods x 2 runs x cal/phy).
LHC_EVENTS = 20_000
LHC_SEED = 7
LEGEND_HITS = 50_000
LEGEND_SEED = 11

# Words that must never appear in what hepq prints on failure.
PANIC_MARKERS = ("panicked", "backtrace", "RUST_BACKTRACE")


def skip_or_fail(reason: str) -> None:
    """Skips the test, or fails it when running in CI (CI=true), naming the reason."""
    if IN_CI:
        pytest.fail(f"{reason} (a skip is a failure when CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI no test may skip: any skip (importorskip, skipif, a missing file) fails it."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true makes skips failures): {reason}"


@dataclass
class Run:
    """One finished `hepq` invocation."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"hepq {' '.join(self.args)}\n-> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


class Hepq:
    """Runs the `hepq` binary and parses its output."""

    def __init__(self, binary: Path):
        self.binary = binary

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # No inherited AWS_* settings: tests that use S3 pass exactly the ones they mean. No
        # inherited HEPQ_WAREHOUSE: a test uses a warehouse only when it passes --warehouse.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HEPQ_WAREHOUSE"}
        env.update(extra or {})
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        cwd: Path | None = None,
    ) -> Run:
        args = [str(a) for a in args]
        proc = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
            cwd=cwd,
        )
        run = Run(args, proc.returncode, proc.stdout, proc.stderr)
        for marker in PANIC_MARKERS:
            assert marker.lower() not in run.stderr.lower(), f"'{marker}' in stderr:\n{run.describe()}"
        if check and run.returncode != 0:
            raise AssertionError(f"hepq failed:\n{run.describe()}")
        return run

    @staticmethod
    def register_args(register: dict[str, str] | None) -> list[str]:
        out = []
        for name, location in (register or {}).items():
            out += ["--register", f"{name}={location}"]
        return out

    def sql_run(
        self,
        sql: str,
        *,
        register: dict[str, str] | None = None,
        fmt: str = "json",
        extra: list[str] | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> Run:
        args = ["sql", *self.register_args(register), *(extra or []), "--format", fmt, "-c", sql]
        return self.run(*args, check=check, env=env)

    def sql(self, sql: str, **kwargs) -> list[dict]:
        """Runs `sql` with `--format json` and returns the rows of the last result."""
        run = self.sql_run(sql, fmt="json", **kwargs)
        try:
            rows = json.loads(run.stdout)
        except json.JSONDecodeError as e:
            raise AssertionError(f"output is not JSON ({e}):\n{run.describe()}") from None
        assert isinstance(rows, list), run.describe()
        return rows


@pytest.fixture(scope="session")
def hepq_bin() -> Path:
    configured = os.environ.get("HEPQ_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "hepq"
    if not path.is_file() or not os.access(path, os.X_OK):
        origin = "HEPQ_BIN" if configured else "default path (HEPQ_BIN unset)"
        skip_or_fail(f"hepq binary not found at {path} ({origin}); build it with `cargo build -p hepq-server`")
    return path


@pytest.fixture(scope="session")
def hepq(hepq_bin: Path) -> Hepq:
    return Hepq(hepq_bin)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def lhc_dir(hepq: Hepq, data_root: Path) -> Path:
    """NanoAOD-like events: DIR/run=<int>/part-NNNNN.parquet."""
    out = data_root / "lhc"
    hepq.run("generate", "lhc", "--events", LHC_EVENTS, "--out", out, "--seed", LHC_SEED)
    files = sorted(out.glob("run=*/*.parquet"))
    assert files, f"hepq generate lhc wrote no run=*/ Parquet files under {out}"
    return out


@pytest.fixture(scope="session")
def legend_dir(hepq: Hepq, data_root: Path) -> Path:
    """Germanium hits: DIR/period=pNN/run=rNNN/datatype=cal|phy/part-NNNNN.parquet."""
    out = data_root / "legend"
    hepq.run("generate", "legend", "--events", LEGEND_HITS, "--out", out, "--seed", LEGEND_SEED)
    files = sorted(out.glob("period=*/run=*/datatype=*/*.parquet"))
    assert files, f"hepq generate legend wrote no period=*/run=*/datatype=*/ Parquet files under {out}"
    return out


@pytest.fixture(scope="session")
def tables(lhc_dir: Path, legend_dir: Path) -> dict[str, str]:
    """`--register` arguments for both datasets (folders, with a trailing slash)."""
    return {"lhc": f"{lhc_dir}/", "legend": f"{legend_dir}/"}


def duckdb_connect(lhc_dir: Path | None = None, legend_dir: Path | None = None):
    """A DuckDB connection with views `lhc` and `legend` typed as hepq types them:
    LHC `run` BIGINT; LEGEND `period`, `run`, `datatype` VARCHAR."""
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    if lhc_dir is not None:
        con.execute(
            f"CREATE VIEW lhc AS SELECT * FROM read_parquet('{lhc_dir}/**/*.parquet', "
            "hive_partitioning = true, hive_types = {'run': BIGINT})"
        )
    if legend_dir is not None:
        con.execute(
            f"CREATE VIEW legend AS SELECT * FROM read_parquet('{legend_dir}/**/*.parquet', "
            "hive_partitioning = true, "
            "hive_types = {'period': VARCHAR, 'run': VARCHAR, 'datatype': VARCHAR})"
        )
    return con


def write_views_concurrently(hepq_bin: Path, hepq: "Hepq", extra: list[str], writers: int = 3, views: int = 15) -> None:
    """Starts `writers` `hepq sql` processes at once, each creating `views` views
    `busy.v_<writer>_<i>` (schema `busy` must exist), and asserts that every one succeeded
    without a panic."""
    procs = []
    for writer in range(writers):
        sql = "; ".join(f"CREATE VIEW busy.v_{writer}_{i} AS SELECT {i} AS i" for i in range(views))
        procs.append(
            subprocess.Popen(
                [str(hepq_bin), "sql", *extra, "-c", sql],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=hepq.env(),
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        for marker in PANIC_MARKERS:
            assert marker.lower() not in err.lower(), err
