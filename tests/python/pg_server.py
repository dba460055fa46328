"""A throwaway PostgreSQL server for the tests of the shared PostgreSQL catalog.

`PostgresServer` runs Debian's (or any) PostgreSQL server binaries: `initdb` into a fresh
folder, `pg_ctl start` on 127.0.0.1 at a free port with trust authentication for the test
user `hepq`, and `pg_ctl stop -m immediate` at the end. initdb and postgres refuse to run as
root, so under root (CI) they run as the `postgres` user (or `nobody`), which owns the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "hepq"


def server_binaries() -> Path | None:
    """The folder with `initdb`, `pg_ctl` and `postgres`: from PATH, else the newest
    /usr/lib/postgresql/N/bin (Debian's layout, not on PATH)."""
    candidates = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.base = Path(tempfile.mkdtemp(prefix="hepq-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.account = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.account = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if self.account is None:
                raise RuntimeError("running as root, and there is no 'postgres' or 'nobody' user to run PostgreSQL as")
            os.chown(self.base, self.account.pw_uid, self.account.pw_gid)

    def _demote(self):
        if self.account is not None:
            os.setgid(self.account.pw_gid)
            os.setuid(self.account.pw_uid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ, LC_ALL="C", HOME=str(self.base))
        proc = subprocess.run(
            [str(self.binaries / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            preexec_fn=self._demote,
            cwd=self.base,
        )
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{log}")
        return proc

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        auth = USER if password is None else f"{USER}:{password}"
        return f"postgres://{auth}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
