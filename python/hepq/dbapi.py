"""The PEP 249 (DB-API 2.0) half of hepq: cursors, type objects, constructors, placeholders.

``paramstyle`` is ``"qmark"``: ``?`` placeholders outside string literals, quoted identifiers
and comments are rewritten to DataFusion's ``$1, $2, …`` (which may also be written directly).
A cursor runs its statement to the end in ``execute`` (with the GIL released, Ctrl-C cancels)
and keeps the result as Arrow data; ``fetch*`` hand out rows from it.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from ._hepq import InterfaceError, NotSupportedError, ProgrammingError

if TYPE_CHECKING:  # pragma: no cover
    from . import Connection

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:
    """PEP 249: the local date of a POSIX timestamp."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    """PEP 249: the local time of day of a POSIX timestamp."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    """PEP 249: the local date and time of a POSIX timestamp."""
    return Timestamp(*time.localtime(ticks)[:6])


class DBAPITypeObject:
    """A PEP 249 type object: equal to every Arrow type of its category, so that
    ``cursor.description[i][1] == hepq.NUMBER`` works (type codes are ``pyarrow.DataType``s)."""

    def __init__(self, name: str, predicate_names: Sequence[str]):
        self.name = name
        self._predicates = predicate_names

    def __eq__(self, other: Any) -> bool:
        import pyarrow.types as pat

        if isinstance(other, DBAPITypeObject):
            return other.name == self.name
        try:
            return any(getattr(pat, p)(other) for p in self._predicates)
        except (TypeError, AttributeError):
            return False

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"hepq.{self.name}"


STRING = DBAPITypeObject("STRING", ["is_string", "is_large_string", "is_string_view"])
BINARY = DBAPITypeObject("BINARY", ["is_binary", "is_large_binary", "is_binary_view", "is_fixed_size_binary"])
NUMBER = DBAPITypeObject("NUMBER", ["is_integer", "is_floating", "is_decimal", "is_boolean"])
DATETIME = DBAPITypeObject("DATETIME", ["is_timestamp", "is_date", "is_time", "is_duration", "is_interval"])
ROWID = DBAPITypeObject("ROWID", [])


def _skip_comments(sql: str) -> str:
    """`sql` without leading whitespace and comments (to find its first keyword)."""
    text = sql.lstrip()
    while True:
        if text.startswith("--"):
            text = text.split("\n", 1)[1].lstrip() if "\n" in text else ""
        elif text.startswith("/*"):
            end = text.find("*/")
            text = text[end + 2 :].lstrip() if end >= 0 else ""
        else:
            return text


def _placeholders(sql: str) -> tuple[list[int], bool]:
    """Positions of ``?`` placeholders, and whether ``$n`` placeholders occur, outside string
    literals, quoted identifiers and comments."""
    marks: list[int] = []
    dollar = False
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote inside
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "?":
            marks.append(i)
            i += 1
        elif c == "$" and i + 1 < n and sql[i + 1].isdigit():
            dollar = True
            i += 1
        else:
            i += 1
    return marks, dollar


def rewrite_qmark(sql: str, params: Sequence[Any] | Any) -> tuple[str, list[Any]]:
    """Rewrites ``?`` placeholders to ``$1, $2, …`` and checks the parameter count."""
    if isinstance(params, dict):
        raise NotSupportedError("named parameters are not supported: use ? (paramstyle 'qmark') or $1, $2, …")
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise ProgrammingError(f"parameters must be a sequence (a list or tuple), not {type(params).__name__}")
    values = list(params)
    marks, dollar = _placeholders(sql)
    if marks and dollar:
        raise ProgrammingError("use either ? or $1, $2, … placeholders in one statement, not both")
    if not marks:
        return sql, values
    if len(marks) != len(values):
        raise ProgrammingError(f"the statement has {len(marks)} ? placeholders but {len(values)} parameters were given")
    out = []
    last = 0
    for k, pos in enumerate(marks, start=1):
        out.append(sql[last:pos])
        out.append(f"${k}")
        last = pos + 1
    out.append(sql[last:])
    return "".join(out), values


_DML = ("INSERT", "UPDATE", "DELETE", "COPY", "MERGE")


class Cursor:
    """A PEP 249 cursor over a :class:`hepq.Connection`."""

    #: Rows that :meth:`fetchmany` returns by default.
    arraysize: int = 1

    def __init__(self, connection: "Connection"):
        self._connection = connection
        self._closed = False
        self._table = None
        self._rows: list[tuple] | None = None
        self._position = 0
        self.description: list[tuple] | None = None
        self.rowcount: int = -1

    @property
    def connection(self) -> "Connection":
        """The connection this cursor belongs to (PEP 249 extension)."""
        return self._connection

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        self._connection._live()

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> "Cursor":
        """Runs ``operation`` (``?`` placeholders bound to ``parameters``) to the end."""
        self._check()
        self._table = None
        self._rows = None
        self._position = 0
        self.description = None
        self.rowcount = -1
        relation = self._connection.sql(operation, parameters)
        if relation is None:
            return self
        table = relation.arrow()
        keyword = _skip_comments(operation).split(None, 1)[0].upper() if operation.strip() else ""
        if keyword in _DML and table.num_columns == 1 and table.num_rows == 1:
            count = table.column(0)[0].as_py()
            self.rowcount = int(count) if isinstance(count, int) else -1
            return self
        self._table = table
        self.rowcount = table.num_rows
        self.description = [
            (field.name, field.type, None, None, _precision(field.type), _scale(field.type), field.nullable)
            for field in table.schema
        ]
        return self

    def executemany(self, operation: str, seq_of_parameters: Iterable[Sequence[Any]]) -> "Cursor":
        """Runs ``operation`` once per parameter sequence; ``rowcount`` is the sum."""
        total = 0
        counted = False
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
            if self.rowcount >= 0:
                total += self.rowcount
                counted = True
        self.rowcount = total if counted else -1
        return self

    def _all_rows(self) -> list[tuple]:
        if self._table is None:
            raise ProgrammingError("no result to fetch: execute a query first")
        if self._rows is None:
            from . import _rows

            self._rows = _rows(self._table)
        return self._rows

    def fetchone(self) -> tuple | None:
        """The next row, or None after the last."""
        self._check()
        rows = self._all_rows()
        if self._position >= len(rows):
            return None
        row = rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        """The next ``size`` rows (default :attr:`arraysize`)."""
        self._check()
        rows = self._all_rows()
        size = self.arraysize if size is None else size
        out = rows[self._position : self._position + size]
        self._position += len(out)
        return out

    def fetchall(self) -> list[tuple]:
        """Every remaining row."""
        self._check()
        rows = self._all_rows()
        out = rows[self._position :]
        self._position = len(rows)
        return out

    def fetch_arrow_table(self):
        """The whole result as a ``pyarrow.Table`` (not consumed by it)."""
        self._check()
        if self._table is None:
            raise ProgrammingError("no result to fetch: execute a query first")
        return self._table

    def fetchdf(self):
        """The whole result as a ``pandas.DataFrame``."""
        return self.fetch_arrow_table().to_pandas()

    def close(self) -> None:
        """Closes the cursor; later use raises InterfaceError."""
        self._closed = True
        self._table = None
        self._rows = None

    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249; does nothing."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """PEP 249; does nothing."""

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _precision(arrow_type: Any) -> int | None:
    return getattr(arrow_type, "precision", None)


def _scale(arrow_type: Any) -> int | None:
    return getattr(arrow_type, "scale", None)
