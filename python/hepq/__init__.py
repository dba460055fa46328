"""hepq: SQL for high-energy-physics data, in-process.

The same engine as the ``hepq`` command line and server (Apache DataFusion with hepq's ROOT,
RNTuple, LH5 and Parquet readers and its list, kinematics and histogram functions), with
results handed to pyarrow, pandas, polars, awkward and hist through the Arrow C stream
interface, without copying the engine's buffers::

    import hepq
    con = hepq.connect()
    rel = con.sql("SELECT nMuon, Muon_pt FROM read_root('nano.root', 'Events') WHERE nMuon >= 2")
    table = rel.arrow()        # pyarrow.Table
    events = rel.awkward()     # awkward.Array, Muon_pt as a jagged list
    h = con.sql("SELECT hist(MET_pt, 50, 0, 200) FROM read_root('nano.root')").hist()

The connection is also a DB-API 2.0 (PEP 249) connection: ``con.cursor().execute(sql,
params)`` with ``?`` placeholders (``paramstyle = "qmark"``; DataFusion's own ``$1, $2, …``
work too), so ``pandas.read_sql(sql, con)`` works.

Queries run with the GIL released; Ctrl-C (``KeyboardInterrupt``) cancels a running query.
Errors raise the PEP 249 classes (``hepq.ProgrammingError`` for SQL and planning errors,
``hepq.DataError``, ``hepq.OperationalError``, …) with the engine's message.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any, Sequence

from . import _hepq, plotting
from ._hepq import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Cursor,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    rewrite_qmark,
)

__version__: str = _hepq.__version__

#: PEP 249: the DB-API level this module implements.
apilevel = "2.0"
#: PEP 249: threads may share the module and connections (a connection's session is
#: thread-safe), but not cursors.
threadsafety = 2
#: PEP 249: ``?`` placeholders (DataFusion's ``$1, $2, …`` are accepted as well).
paramstyle = "qmark"

__all__ = [
    "connect",
    "Connection",
    "Relation",
    "Cursor",
    "apilevel",
    "threadsafety",
    "paramstyle",
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
    "Binary",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
]

#: Rows per batch in a connection's queries (``datafusion.execution.batch_size``).
BATCH_ROWS = 32_768

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "kib": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
}


def _parse_size(size: int | str | None) -> int | None:
    """Bytes from ``4294967296``, ``"4GB"``, ``"512MiB"`` (as the CLI's ``--memory-limit``)."""
    if size is None:
        return None
    if isinstance(size, bool):
        raise ProgrammingError(f"memory_limit must be a size such as 4GB, not {size!r}")
    if isinstance(size, int):
        if size < 1:
            raise ProgrammingError(f"memory_limit must be positive, not {size}")
        return size
    text = str(size).strip()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ")
    unit = text[len(number) :].strip().lower()
    try:
        value = float(number) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        raise ProgrammingError(f"'{text}' is not a size (try 4GB or 512MiB)") from None
    if not value >= 1:
        raise ProgrammingError(f"'{text}' is not a positive size")
    return int(value)


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pyarrow():
    try:
        import pyarrow
    except ImportError as e:  # pragma: no cover - pyarrow is a dependency
        raise ImportError("hepq needs pyarrow: pip install pyarrow") from e
    return pyarrow


class _Capsule:
    """Hands an already-made ``arrow_array_stream`` capsule to pyarrow's importers."""

    __slots__ = ("_capsule",)

    def __init__(self, capsule: Any):
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        capsule, self._capsule = self._capsule, None
        if capsule is None:
            raise InterfaceError("this Arrow stream was already consumed")
        return capsule


def _reader(capsule: Any):
    return _pyarrow().RecordBatchReader.from_stream(_Capsule(capsule))


def _to_arrow_stream(obj: Any) -> Any:
    """An object with ``__arrow_c_stream__`` for ``obj``: Arrow data as it is; pandas and
    awkward through their pyarrow conversions; anything else through ``pyarrow.table``."""
    if hasattr(obj, "__arrow_c_stream__") and not _is_pandas(obj):
        return obj
    pa = _pyarrow()
    if _is_pandas(obj):
        return pa.Table.from_pandas(obj)
    module = type(obj).__module__.split(".")[0]
    if module == "awkward":
        import awkward as ak

        return ak.to_arrow_table(obj, extensionarray=False)
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    try:
        return pa.table(obj)
    except (TypeError, ValueError, pa.ArrowInvalid) as e:
        raise InterfaceError(
            f"cannot register a {type(obj).__name__}: expected a path or URL, Arrow data "
            f"(anything with __arrow_c_stream__), a pandas or polars DataFrame or an awkward Array ({e})"
        ) from None


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and type(obj).__name__ == "DataFrame"


class Relation:
    """A query result, not yet run: every conversion runs the query (again).

    Exports the Arrow PyCapsule interface (``__arrow_c_stream__``), so ``pyarrow.table(rel)``,
    ``polars.DataFrame(rel)`` and DuckDB (``duckdb.sql("SELECT * FROM rel")``) read it
    directly, batch by batch, without copies.
    """

    __slots__ = ("_frame", "_connection")

    def __init__(self, frame: Any, connection: "Connection"):
        self._frame = frame
        self._connection = connection

    # -- Arrow ---------------------------------------------------------------------------

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """Starts the query; the consumer pulls its record batches one at a time."""
        return self._frame.__arrow_c_stream__(requested_schema)

    def __arrow_c_schema__(self) -> Any:
        """The result's schema (without running the query)."""
        return self._frame.__arrow_c_schema__()

    @property
    def columns(self) -> list[str]:
        """The result's column names."""
        return self._frame.column_names()

    @property
    def schema(self):
        """The result's schema as a ``pyarrow.Schema`` (without running the query)."""
        return _pyarrow().schema(self._frame)

    def arrow(self):
        """Runs the query and returns a ``pyarrow.Table`` sharing the engine's buffers."""
        return _reader(self._frame.collect()).read_all()

    def to_arrow_table(self):
        """Alias of :meth:`arrow`."""
        return self.arrow()

    def to_batches(self):
        """A ``pyarrow.RecordBatchReader`` that runs the query as batches are read (results
        larger than memory stream through)."""
        return _pyarrow().RecordBatchReader.from_stream(self._frame)

    def record_batch(self):
        """Alias of :meth:`to_batches` (DuckDB's name)."""
        return self.to_batches()

    # -- Scientific Python ----------------------------------------------------------------

    def pandas(self):
        """Runs the query and returns a ``pandas.DataFrame`` (list columns hold arrays)."""
        return self.arrow().to_pandas()

    df = pandas

    def polars(self):
        """Runs the query and returns a ``polars.DataFrame`` (needs polars)."""
        try:
            import polars as pl
        except ImportError as e:
            raise ImportError("Relation.polars() needs polars: pip install polars") from e
        return pl.from_arrow(self.arrow())

    pl = polars

    def awkward(self):
        """Runs the query and returns an ``awkward.Array`` of records (``ak.from_arrow``):
        list columns become jagged lists. Columns, lists and list elements that hold no NULL
        become non-option types (``var * float32``, as uproot gives), the others option types
        (``var * ?float32``)."""
        try:
            import awkward as ak
        except ImportError as e:
            raise ImportError("Relation.awkward() needs awkward: pip install awkward") from e
        return _to_awkward(self.arrow())

    def hist(self, column: str | None = None):
        """Loads a single histogram cell (the UHI JSON document of ``hist(...)`` and the other
        histogram aggregates) as a ``hist.Hist``. The result must have one row; ``column`` picks
        the column when there are several."""
        docs = self._hist_documents(column)
        if len(docs) != 1:
            raise ProgrammingError(
                f"Relation.hist() needs a result with exactly one row, got {len(docs)}; "
                "use .hists() for a column of histograms"
            )
        return _load_hist(docs[0])

    def plot(self, column: str | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """Draws the result's single histogram (see :meth:`hist`) with mplhep and returns the
        matplotlib Axes: ``mplhep.histplot`` for one axis, one line per category for
        ``hist_cat``, ``mplhep.hist2dplot`` for ``hist2d``. ``ax`` defaults to a new figure;
        ``kwargs`` go to the mplhep function. Needs hist, matplotlib and mplhep."""
        return plotting.plot_hist(self.hist(column), ax=ax, **kwargs)

    def hists(self, column: str | None = None) -> list:
        """Every histogram of a column (one per row, e.g. one per GROUP BY group) as ``hist.Hist``."""
        return [_load_hist(doc) for doc in self._hist_documents(column)]

    def _hist_documents(self, column: str | None) -> list[str]:
        table = self.arrow()
        if column is None:
            if table.num_columns != 1:
                raise ProgrammingError(
                    f"the result has {table.num_columns} columns ({', '.join(table.column_names)}); "
                    "name the histogram column: .hist('h')"
                )
            column = table.column_names[0]
        if column not in table.column_names:
            raise ProgrammingError(f"no column '{column}' in the result ({', '.join(table.column_names)})")
        values = table.column(column).to_pylist()
        for value in values:
            if not isinstance(value, str):
                raise DataError(
                    f"column '{column}' does not hold histogram documents (got {type(value).__name__}); "
                    "use hist(...), hist2d(...) or hist_cat(...)"
                )
        return values

    # -- rows -----------------------------------------------------------------------------

    def fetchall(self) -> list[tuple]:
        """Runs the query and returns every row as a tuple."""
        return _rows(self.arrow())

    def fetchone(self) -> tuple | None:
        """Runs the query for its first row (None if there is none)."""
        rows = _rows(Relation(self._frame.limit(1), self._connection).arrow())
        return rows[0] if rows else None

    def fetchmany(self, size: int = 1) -> list[tuple]:
        """Runs the query for its first ``size`` rows."""
        return _rows(Relation(self._frame.limit(size), self._connection).arrow())

    def limit(self, n: int, offset: int = 0) -> "Relation":
        """The first ``n`` rows after ``offset`` (still lazy)."""
        return Relation(self._frame.limit(n, offset), self._connection)

    def explain(self, verbose: bool = False, analyze: bool = False) -> str:
        """The logical and physical plans (``analyze=True`` runs the query for its metrics)."""
        table = Relation(self._frame.explain(verbose, analyze), self._connection).arrow()
        lines = []
        for kind, plan in zip(table.column(0).to_pylist(), table.column(1).to_pylist()):
            lines.append(f"{kind}:\n{plan}")
        return "\n\n".join(lines)

    # -- display --------------------------------------------------------------------------

    def show(self, n: int = 20) -> None:
        """Prints the first ``n`` rows as a text table."""
        print(self._frame.format_rows(n))

    def __str__(self) -> str:
        return self._frame.format_rows(10)

    def __repr__(self) -> str:
        try:
            body = self._frame.format_rows(10)
        except Error as e:
            return f"<hepq.Relation (error: {e})>"
        return f"<hepq.Relation [{', '.join(self.columns)}]>\n{body}"

    def _repr_html_(self) -> str:
        """An HTML table of the first rows, for notebooks."""
        limit = 10
        table = Relation(self._frame.limit(limit + 1), self._connection).arrow()
        schema = table.schema
        head = "".join(
            f"<th>{html.escape(f.name)}<br><small>{html.escape(str(f.type))}</small></th>" for f in schema
        )
        rows = _rows(table.slice(0, limit))
        body = []
        for row in rows:
            cells = "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in row)
            body.append(f"<tr>{cells}</tr>")
        more = "<p>first %d rows shown</p>" % limit if table.num_rows > limit else ""
        # A one-row result of histogram aggregates draws its histograms under the table.
        drawings = []
        if len(rows) == 1:
            for name, value in zip(table.column_names, rows[0]):
                if plotting.is_hist_document(value):
                    try:
                        h = _load_hist(value)
                    except Exception:  # noqa: BLE001 - hist/uhi missing or an odd document
                        continue
                    drawing = plotting.hist_html(h)
                    if drawing:
                        drawings.append(f"<figure><figcaption>{html.escape(name)}</figcaption>{drawing}</figure>")
        return (
            "<div class='hepq-relation'><table><thead><tr>"
            + head
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>"
            + more
            + "".join(drawings)
            + "</div>"
        )


def _cell_text(value: Any) -> str:
    """A cell of the HTML table: histogram documents as their one-line summary."""
    return plotting.hist_summary(value) if plotting.is_hist_document(value) else _short(value)


def _short(value: Any, width: int = 80) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _rows(table) -> list[tuple]:
    columns = [column.to_pylist() for column in table.columns]
    if not columns:
        return [()] * table.num_rows
    return list(zip(*columns))


def _to_awkward(table):
    """``table`` as an ``awkward.Array`` of records.

    Numeric columns and lists of numbers without NULLs (ROOT branches) are wrapped around the
    Arrow buffers of the combined chunks (one ``memcpy`` per column, no per-element work); other
    columns go through ``ak.from_arrow`` with the nullability of the data.
    """
    import awkward as ak
    import numpy as np
    import pyarrow as pa

    def numbers(array):
        if array.null_count or not (pa.types.is_integer(array.type)
                                    or pa.types.is_floating(array.type)):
            return None
        return ak.contents.NumpyArray(array.to_numpy(zero_copy_only=True))

    def content(array):
        flat = numbers(array)
        if flat is not None:
            return flat
        if (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)) and not array.null_count:
            inner = content(array.values)
            if inner is not None:
                kind = np.int32 if pa.types.is_list(array.type) else np.int64
                offsets = np.frombuffer(array.buffers()[1], dtype=kind)
                offsets = offsets[array.offset : array.offset + len(array) + 1]
                index = ak.index.Index32 if kind is np.int32 else ak.index.Index64
                return ak.contents.ListOffsetArray(index(offsets), inner)
        return None

    fields, contents = [], []
    for name in table.column_names:
        column = table.column(name)
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        layout = content(array) if len(array) else None
        if layout is None:
            single = pa.Table.from_arrays([array], names=[name])
            layout = ak.from_arrow(_strict_nullability(single), highlevel=False).content(name)
        fields.append(name)
        contents.append(layout)
    return ak.Array(ak.contents.RecordArray(contents, fields, length=table.num_rows))


def _strict_nullability(table):
    """``table`` with every field that holds no NULL marked non-nullable (buffers shared).

    The engine declares list elements nullable; awkward turns every nullable Arrow field into
    an option type, which analysts do not expect for ROOT branches that cannot hold NULLs.
    """
    import pyarrow as pa

    def tighten(field, arrays):
        t = field.type
        has_nulls = any(a.null_count for a in arrays)
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            child = tighten(t.value_field, [a.flatten() for a in arrays])
            if pa.types.is_list(t):
                t = pa.list_(child)
            elif pa.types.is_large_list(t):
                t = pa.large_list(child)
            else:
                t = pa.list_(child, t.list_size)
        elif pa.types.is_struct(t):
            children = [tighten(t.field(i), [a.field(i) for a in arrays]) for i in range(t.num_fields)]
            t = pa.struct(children)
        return pa.field(field.name, t, nullable=has_nulls, metadata=field.metadata)

    schema = pa.schema(
        [tighten(f, table.column(i).chunks) for i, f in enumerate(table.schema)],
        metadata=table.schema.metadata,
    )
    return table if schema.equals(table.schema, check_metadata=True) else table.cast(schema)


def _load_hist(document: str):
    try:
        import hist
        import uhi.io.json as uhi_json
    except ImportError as e:
        raise ImportError("Relation.hist() needs hist and uhi: pip install hist uhi") from e
    return hist.Hist(json.loads(document, object_hook=uhi_json.object_hook))


class Connection:
    """A hepq session: tables, settings and queries. Also a PEP 249 connection.

    Use :func:`connect` to make one.
    """

    def __init__(
        self,
        warehouse: str | os.PathLike | None = None,
        threads: int | None = None,
        memory_limit: int | str | None = None,
        catalog: str | None = None,
    ):
        env = [(k, v) for k, v in os.environ.items() if k.startswith("AWS_")]
        self._session = _hepq._Session(
            None if warehouse is None else os.fspath(warehouse),
            threads,
            _parse_size(memory_limit),
            env,
            catalog,
        )
        # Results go to Python as Arrow batches of 32,768 rows (DataFusion's default is 8,192):
        # each chunk costs pyarrow, pandas and awkward a fixed amount, and a 10M-row result is
        # then 306 chunks, not 1,221 (bench/python). `SET datafusion.execution.batch_size`
        # changes it for the connection.
        self._session.sql(f"SET datafusion.execution.batch_size = {BATCH_ROWS}")
        self._closed = False

    def _live(self):
        if self._closed:
            raise InterfaceError("the connection is closed")
        return self._session

    @property
    def warnings(self) -> list[str]:
        """Problems met while opening the warehouse (tables that were skipped)."""
        return self._live().warnings()

    # -- queries --------------------------------------------------------------------------

    def sql(self, query: str, params: Sequence[Any] | None = None) -> Relation | None:
        """Runs ``;``-separated statements and returns the last one's result as a
        :class:`Relation` (None for statements without a result, such as CREATE or SET).

        ``params`` binds ``?`` (or ``$1, $2, …``) placeholders of the last statement.
        INSERT and COPY run at once; a query runs when its relation is read.
        """
        session = self._live()
        if params is None:
            frame = session.sql(query)
        else:
            query, values = rewrite_qmark(query, params)
            frame = session.sql_params(query, _params_batch(values))
        if frame is None or not frame.column_names():
            return None
        return Relation(frame, self)

    query = sql

    def execute(self, query: str, params: Sequence[Any] | None = None) -> Cursor:
        """PEP 249 shortcut (as sqlite3 has): a new cursor that has executed ``query``."""
        cursor = self.cursor()
        cursor.execute(query, params)
        return cursor

    def cursor(self) -> Cursor:
        """A new PEP 249 cursor."""
        self._live()
        return Cursor(self)

    def table(self, name: str) -> Relation:
        """All of table ``name``."""
        relation = self.sql(f"SELECT * FROM {_quote_identifier(name)}")
        assert relation is not None
        return relation

    def tables(self) -> list[str]:
        """The names of the session's tables."""
        return self._live().table_names()

    # -- registration ---------------------------------------------------------------------

    def register(self, name: str, obj: Any, format: str | None = None) -> None:
        """Makes ``obj`` queryable as table ``name`` (replacing a table of that name):

        * a path, folder, glob or URL (``str`` or ``os.PathLike``): registered as
          ``CREATE EXTERNAL TABLE`` would (format from the extension unless ``format`` is given:
          parquet, csv, json, arrow, root, rntuple, lh5); Hive partitions are discovered;
        * Arrow data — a pyarrow Table, RecordBatch or RecordBatchReader, a polars DataFrame,
          a DuckDB result, a hepq Relation, anything with ``__arrow_c_stream__`` — read once
          into memory, sharing the producer's buffers;
        * a pandas DataFrame (through ``pyarrow.Table.from_pandas``) or an awkward Array
          (through ``ak.to_arrow_table``).
        """
        session = self._live()
        if isinstance(obj, (str, os.PathLike)):
            session.register_location(name, os.fspath(obj), format)
            return
        if format is not None:
            raise ProgrammingError("format= applies to paths and URLs only")
        session.register_arrow(name, _to_arrow_stream(obj))

    def unregister(self, name: str) -> None:
        """Removes table ``name`` from the session."""
        self._live().deregister(name)

    def from_arrow(self, obj: Any) -> Relation:
        """A relation over in-memory data (as :meth:`register` accepts) without naming it."""
        return Relation(self._live().arrow_frame(_to_arrow_stream(obj)), self)

    def read_root(self, path: str | os.PathLike, tree: str | None = None) -> Relation:
        """The TTree ``tree`` (optional when the files hold one) of ROOT files, through SQL's
        ``read_root``: one row per entry, jagged branches as list columns."""
        args = [_quote_literal(os.fspath(path))]
        if tree is not None:
            args.append(_quote_literal(tree))
        return self._relation(f"SELECT * FROM read_root({', '.join(args)})")

    def read_rntuple(self, path: str | os.PathLike, name: str | None = None) -> Relation:
        """The RNTuple ``name`` (optional when the files hold one) of ROOT files, through SQL's
        ``read_rntuple``."""
        args = [_quote_literal(os.fspath(path))]
        if name is not None:
            args.append(_quote_literal(name))
        return self._relation(f"SELECT * FROM read_rntuple({', '.join(args)})")

    def read_parquet(self, path: str | os.PathLike) -> Relation:
        """Parquet files (a file, folder or glob) through DataFusion's Parquet reader. Hive
        partition columns of a folder appear when it is registered instead (:meth:`register`)."""
        return Relation(self._live().read_parquet(os.fspath(path)), self)

    def _relation(self, query: str) -> Relation:
        relation = self.sql(query)
        if relation is None:  # pragma: no cover - a SELECT always has columns
            raise InternalError(f"no result from {query}")
        return relation

    # -- PEP 249 --------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the connection; later use raises InterfaceError."""
        self._closed = True

    def commit(self) -> None:
        """No-op: hepq has no transactions (every statement takes effect at once)."""
        self._live()

    def rollback(self) -> None:
        """No-op: hepq has no transactions, so there is nothing to roll back."""
        self._live()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<hepq.Connection ({state})>"

    # PEP 249 optional extension: the exception classes as connection attributes.
    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _params_batch(values: Sequence[Any]):
    """One row of Arrow data, one column per parameter (types as pyarrow infers them)."""
    pa = _pyarrow()
    arrays = []
    for i, value in enumerate(values):
        if isinstance(value, pa.Scalar):
            arrays.append(pa.array([value.as_py()], type=value.type))
            continue
        try:
            arrays.append(pa.array([value]))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
            raise NotSupportedError(
                f"parameter {i + 1} ({type(value).__name__}) has no SQL type: {e}"
            ) from None
    names = [f"p{i + 1}" for i in range(len(arrays))]
    return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})


def connect(
    warehouse: str | os.PathLike | None = None,
    threads: int | None = None,
    memory_limit: int | str | None = None,
    catalog: str | None = None,
) -> Connection:
    """Opens a hepq session in this process.

    * ``warehouse``: a warehouse directory. Schemas, external tables, views, materialised
      views and Iceberg tables (``CREATE TABLE``) created in it are kept in
      ``WAREHOUSE/catalog.sqlite`` and are there in the next connection (listed in
      ``hepq.tables``; pyiceberg's ``SqlCatalog("hepq", uri="sqlite:///WAREHOUSE/catalog.sqlite")``
      reads the Iceberg tables); every folder of ``WAREHOUSE/tables/`` is also a table.
      Default: none, nothing persists. ``register()``ed tables last for the connection only.
    * ``threads``: partitions a query is split into (default: all cores).
    * ``memory_limit``: bytes (or ``"4GB"``, ``"512MiB"``) for operators that buffer (sorts,
      joins, aggregates); default unlimited.
    * ``catalog``: the warehouse's catalog database by URL instead of its ``catalog.sqlite``:
      ``"postgres://user:password@host:5432/db"`` for a PostgreSQL catalog that several hosts
      share (the warehouse directory, on a shared file system, holds the data files), as the
      CLI's ``--catalog``. Needs ``warehouse``.

    ``AWS_*`` environment variables configure ``s3://`` locations, as for the CLI.
    """
    return Connection(warehouse=warehouse, threads=threads, memory_limit=memory_limit, catalog=catalog)

