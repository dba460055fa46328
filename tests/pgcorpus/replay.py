"""Replays a captured statement stream against a server and describes every answer.

The same code produces the expected answers (replayed against PostgreSQL 15 when the corpus is
captured) and the answers checked in CI (replayed against `hepq serve`), so the two are
compared on equal terms. A statement is sent the way its client sent it: simple-query text as
one Query message (several statements give several results), extended-protocol statements
through Parse/Bind/Execute with the logged parameters as untyped text, named prepared
statements prepared once per session under their own name. Sessions are replayed in the
captured order, interleaved as they were, each on its own connection.

An answer records, per result: the status (`tuples`, `command`, `copy_out`, `copy_in`,
`empty`, `error`), the result columns as (name, type OID), the command-tag verb, the row count
and, for errors, the SQLSTATE.
"""

from __future__ import annotations

import re
from typing import Any

from psycopg import pq

STATUS = {
    pq.ExecStatus.TUPLES_OK: "tuples",
    pq.ExecStatus.SINGLE_TUPLE: "tuples",
    pq.ExecStatus.COMMAND_OK: "command",
    pq.ExecStatus.COPY_OUT: "copy_out",
    pq.ExecStatus.COPY_IN: "copy_in",
    pq.ExecStatus.EMPTY_QUERY: "empty",
    pq.ExecStatus.FATAL_ERROR: "error",
    pq.ExecStatus.NONFATAL_ERROR: "error",
}


def describe(res: pq.abc.PGresult) -> dict[str, Any]:
    status = STATUS.get(res.status, str(res.status))
    out: dict[str, Any] = {"status": status}
    if status == "error":
        state = res.error_field(pq.DiagnosticField.SQLSTATE)
        message = res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
        out["sqlstate"] = state.decode() if state else None
        out["message"] = message.decode(errors="replace") if message else None
        return out
    if status in ("copy_out", "copy_in"):
        # A COPY result describes only how many columns there are and their format.
        out["copy_columns"] = res.nfields
        out["copy_binary"] = bool(res.binary_tuples)
        return out
    if res.nfields:
        out["columns"] = [[res.fname(i).decode(), res.ftype(i)] for i in range(res.nfields)]
    tag = (res.command_status or b"").decode()
    out["tag"] = tag.split(" ")[0] if tag else ""
    if status == "tuples":
        out["rows"] = res.ntuples
    return out


def drain(conn: pq.abc.PGconn) -> list[dict[str, Any]]:
    """Every result of the statement just sent (COPY OUT data is read and counted)."""
    results = []
    while True:
        res = conn.get_result()
        if res is None:
            return results
        d = describe(res)
        if d["status"] == "copy_out":
            nbytes = 0
            while True:
                n, data = conn.get_copy_data(0)
                if n < 0:
                    break
                nbytes += n
            d["copy_bytes"] = nbytes > 0
        elif d["status"] == "copy_in":
            conn.put_copy_end(b"not replayed")
        results.append(d)


class Session:
    """One replayed client connection."""

    def __init__(self, conninfo: str):
        self.conn = pq.PGconn.connect(conninfo.encode())
        if self.conn.status != pq.ConnStatus.OK:
            raise RuntimeError(f"cannot connect ({conninfo}): {self.conn.error_message.decode(errors='replace')}")
        self.prepared: set[str] = set()

    def run(self, stmt: dict[str, Any]) -> list[dict[str, Any]]:
        sql = stmt["sql"].encode()
        params = [None if p is None else p.encode() for p in stmt.get("params", [])]
        if stmt["protocol"] == "simple":
            self.conn.send_query(sql)
            return drain(self.conn)
        name = stmt.get("name") or ""
        if not name:
            self.conn.send_query_params(sql, params)
            return drain(self.conn)
        if name not in self.prepared:
            self.conn.send_prepare(name.encode(), sql)
            prepared = drain(self.conn)
            if any(r["status"] == "error" for r in prepared):
                return prepared
            self.prepared.add(name)
        self.conn.send_query_prepared(name.encode(), params)
        return drain(self.conn)

    def close(self) -> None:
        self.conn.finish()


def replay(sessions: list[dict[str, Any]], conninfo: str, table_oids: dict[str, str] | None = None) -> list[list[dict]]:
    """Runs the corpus; returns, for every statement in corpus order, the list of its results.

    `sessions` is the corpus's list of statements, each carrying the session it belongs to.
    `table_oids` maps a captured table OID (as text in the statement) to this server's OID of
    the same table, so that `WHERE c.oid = '16385'` asks about the same table here.
    """
    open_sessions: dict[str, Session] = {}
    answers = []
    try:
        for stmt in sessions:
            key = stmt["session"]
            if key not in open_sessions:
                open_sessions[key] = Session(conninfo)
            if table_oids:
                stmt = dict(stmt, sql=substitute_oids(stmt["sql"], table_oids))
                if "params" in stmt:
                    stmt["params"] = [
                        table_oids.get(p, p) if p is not None else None for p in stmt["params"]
                    ]
            answers.append(open_sessions[key].run(stmt))
    finally:
        for s in open_sessions.values():
            s.close()
    return answers


def substitute_oids(sql: str, table_oids: dict[str, str]) -> str:
    return re.sub(r"(?<![0-9])(\d{5,})(?![0-9])", lambda m: table_oids.get(m.group(1), m.group(1)), sql)
