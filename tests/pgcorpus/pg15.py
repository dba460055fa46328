"""A throw-away PostgreSQL 15 cluster (Debian's postgresql-15) on a free loopback port.

Used by the compatibility-corpus capture (capture.py) and the server benchmark
(bench/server/run.py). When run as root, the server runs as the `postgres` user (PostgreSQL
refuses root). Every statement is logged to a CSV log (`log_statement = all`) when asked.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Postgres15:
    """A temporary cluster; `stop()` removes it."""

    def __init__(self, log_statements: bool = True, settings: dict[str, str] | None = None):
        # Its own directory in /tmp: the `postgres` user must be able to reach it.
        root = Path(tempfile.mkdtemp(prefix="hepq-pg15-"))
        self.root = root
        self.data = root / "data"
        self.log_dir = root / "log"
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                     "--locale", "C"])
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{root}'",
            "logging_collector": "on",
            "log_destination": "'csvlog'",
            "log_directory": f"'{self.log_dir}'",
            "log_filename": "'pg.log'",
            "log_statement": "'all'" if log_statements else "'none'",
            "log_parameter_max_length": "-1",
            "fsync": "off",
            **(settings or {}),
        }
        with open(self.data / "postgresql.conf", "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(root / "startup.log"), "start"])
        self.csv = self.log_dir / "pg.csv"
        self.admin("CREATE ROLE hepq SUPERUSER LOGIN")
        self.admin("CREATE DATABASE hepq OWNER hepq")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(sql)

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn) as c:
            return c.execute("SELECT version()").fetchone()[0]

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=hepq dbname=hepq"

    def log_size(self) -> int:
        return self.csv.stat().st_size if self.csv.exists() else 0

    def log_records(self, start: int, end: int) -> list[list[str]]:
        with open(self.csv, "rb") as f:
            f.seek(start)
            data = f.read(end - start).decode()
        return list(csv.reader(data.splitlines(keepends=True)))

    def stop(self) -> None:
        try:
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
