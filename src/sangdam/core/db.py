"""Database engine and sessions.

SQLite (WAL) is the embedded default; PostgreSQL is the scale-out mode. A session is the unit of
work: actions queue their events on it with :func:`queue_event`, and the events are published only
after the transaction commits (dropped on rollback).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from sangdam.core.events import Event, EventBus

_PENDING = "sangdam_pending_events"
_KEEP = "sangdam_keep_after_rollback"
T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=kwargs.pop("pool_size", 20),
            max_overflow=kwargs.pop("max_overflow", 20),
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take the write lock at BEGIN so two writers never deadlock upgrading a read lock.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    return create_engine(url, pool_size=kwargs.pop("pool_size", 20), max_overflow=10, pool_pre_ping=True, **kwargs)


class WriterLock:
    """SQLite's single writer, taken without sleeping: threads of this process queue on a lock, and
    processes (``sangdam serve --workers N``) on an ``flock`` of a file beside the database, which
    wakes the next one the moment the lock is free.

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while another connection
    writes; waiting there made the p99 latency seconds long. Re-entrant within a thread.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600) if lock_path is not None else None

    def __enter__(self) -> None:
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _sqlite_file(url: str) -> Path | None:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    return Path(path) if path and path != ":memory:" and not path.startswith("file:") else None


class Database:
    """An engine, its session factory and the event bus that committed events go to."""

    def __init__(self, url: str, bus: EventBus, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.bus = bus
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time: writers queue on a lock rather than on SQLite's busy handler.
        self._writer: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.is_sqlite:
            db_file = _sqlite_file(url)
            self._writer = WriterLock(db_file.with_name(db_file.name + ".writer-lock") if db_file else None)
        event.listen(self.session_factory, "after_commit", self._after_commit)
        event.listen(self.session_factory, "after_soft_rollback", self._after_rollback)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _after_commit(self, session: Session) -> None:
        if session.get_nested_transaction() is not None:  # a savepoint committed; the transaction goes on
            return
        pending: list[Event] = session.info.pop(_PENDING, [])
        for item in pending:
            self.bus.publish(item)

    def _after_rollback(self, session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop(_PENDING, None)

    def session(self) -> Session:
        return self.session_factory()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block (or rolls back on error).

        Rows marked with :func:`keep_after_rollback` (audit of a refused access, say) are written
        in a transaction of their own when the block fails, and nothing else is.
        """
        with self._writer, self.session_factory() as session:
            try:
                with session.begin():
                    yield session
            except BaseException:
                kept: list[Any] = session.info.pop(_KEEP, [])
                if kept:
                    with self.session_factory() as again, again.begin():
                        again.add_all(kept)
                raise

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a transaction, from async code (the result of ``work`` is returned).

        On SQLite the work runs right here on the event loop. SQLite writes one transaction at a
        time anyway, and a local transaction of a millisecond or two costs less than handing it to
        a worker thread, whose hop and GIL hand-overs cost about 3 ms of CPU per request under load
        (``bench/intake.py``: 200 inquiries/s through worker threads, 437/s on the loop). The loop
        waits only while another thread or process finishes its own short write. On PostgreSQL
        (network round trips, many writers) the work goes to a worker thread.
        """
        return await self.offload(self.in_transaction, work)

    async def offload(self, function: Callable[..., T], *args: Any) -> T:
        """Call a synchronous function that uses the database, from async code: right here on
        SQLite, in a worker thread on PostgreSQL (see :meth:`run`)."""
        if self.is_sqlite:
            return function(*args)
        return await anyio.to_thread.run_sync(function, *args)

    def in_transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a transaction of its own; its result."""
        with self.transaction() as session:
            return work(session)

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writer, WriterLock):
            self._writer.close()


def keep_after_rollback(session: Session, row: Any) -> None:
    """Add ``row`` now, and write it again on its own if the transaction rolls back."""
    session.add(row)
    mapper = inspect(row).mapper
    copy = mapper.class_(**{c.key: getattr(row, c.key) for c in mapper.column_attrs if c.key != "id"})
    session.info.setdefault(_KEEP, []).append(copy)


def queue_event(session: Session, item: Event) -> None:
    """Publish ``item`` once ``session`` commits; forget it if the transaction rolls back."""
    session.info.setdefault(_PENDING, []).append(item)
