"""Prepared statements for the busiest writes: compiled once per database, run on the driver's cursor.

Filing an inquiry runs about a dozen small statements. Through ``Connection.execute`` a message
insert measured 22 µs on SQLite (its cache key, the compiled-cache look-up, the parameter set-up,
the result object), of which the driver's own work is 3 µs; prepared, 8 µs. A :class:`Prepared`
statement is a normal SQLAlchemy Core statement, compiled once per dialect; each call runs the
columns' own type processing on the values (UTC datetimes, JSON), then the SQL on a cursor of the
connection's driver, inside the session's transaction. Driver errors are raised as SQLAlchemy's
(``IntegrityError`` and so on), so callers catch the same exceptions as with ``execute``.

What it leaves out, so statements must not need it: values computed by column defaults (every
inserted column is given), "expanding" ``IN`` parameters, result type processing (select ids and
text; read datetimes and JSON through the ORM or ``Connection.execute``), and SQLAlchemy's cursor
events (statement logging does not see these statements).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Processor, ...]
    fixed: Mapping[str, Any]  # values bound in the statement itself (``status == "queued"``)
    positional: bool

    def values(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if self.fixed:
            params = {**self.fixed, **params}
        try:
            processed = [p(params[n]) if p else params[n] for n, p in zip(self.names, self.processors, strict=True)]
        except KeyError as exc:
            raise TypeError(f"no value for {exc.args[0]!r} in {self.sql!r}") from None
        return tuple(processed) if self.positional else dict(zip(self.names, processed, strict=True))


class Prepared:
    """A Core statement with named bind parameters, compiled once per dialect (see the module)."""

    def __init__(self, statement: Executable | Callable[[Dialect], Executable]) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self._statement if isinstance(self._statement, Executable) else self._statement(dialect)
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        prefetch = getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None)
        if prefetch:
            raise ValueError(f"give every column a value; defaults are not computed here: {prefetch}")
        names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
        binds = compiled.binds
        if any(binds[name].expanding for name in names):
            raise ValueError("expanding IN parameters are not supported; use Connection.execute")
        processors = tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        fixed = {name: binds[name].value for name in names if not binds[name].required}
        return _Compiled(compiled.string, names, processors, fixed, compiled.positional)

    @staticmethod
    def _on_cursor(conn: Connection, call: str, sql: str, values: Any) -> Any:
        """``cursor.<call>(sql, values)`` on a cursor of the connection's driver; its errors as SQLAlchemy's."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            getattr(cursor, call)(sql, values)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, values, exc, conn.dialect.loaded_dbapi.Error) from exc
        return cursor

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        compiled = self._for(conn.dialect)
        return self._on_cursor(conn, "execute", compiled.sql, compiled.values(params))

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run it; how many rows it changed."""
        return int(self._run(conn, params).rowcount)

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row it selects (or returns), as a tuple; None if none."""
        return self._run(conn, params).fetchone()  # type: ignore[no-any-return]

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row; None if no row."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return list(self._run(conn, params).fetchall())

    def execute_many(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run it once per row, in one driver call."""
        compiled = self._for(conn.dialect)
        batch = [compiled.values(row) for row in rows]
        if batch:
            self._on_cursor(conn, "executemany", compiled.sql, batch)


class PreparedInsert(Prepared):
    """An insert of the given columns of a table (every one given a value on each call); with
    :meth:`insert` it returns the new row's id (SQLite's rowid; ``RETURNING id`` elsewhere)."""

    def __init__(self, table: Table, columns: Iterable[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        super().__init__(self._build)

    def _build(self, dialect: Dialect) -> Executable:
        statement = self.table.insert().values({c: bindparam(c, type_=self.table.c[c].type) for c in self.columns})
        return statement if dialect.name == "sqlite" else statement.returning(self.table.c.id)

    def insert(self, conn: Connection, row: Mapping[str, Any]) -> int:
        """Insert ``row``; the new id."""
        cursor = self._run(conn, row)
        return int(cursor.lastrowid if conn.dialect.name == "sqlite" else cursor.fetchone()[0])
