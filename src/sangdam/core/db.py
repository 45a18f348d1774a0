"""Database engine and sessions.

SQLite (WAL) is the embedded default; PostgreSQL is the scale-out mode. A session is the unit of
work: actions queue their events on it with :func:`queue_event`, and the events are published only
after the transaction commits (dropped on rollback).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from sangdam.core.events import Event, EventBus

_PENDING = "sangdam_pending_events"
_KEEP = "sangdam_keep_after_rollback"
GROUP_MAX = 16  # units of work that share one transaction at most (group commit)
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
            pool_use_lifo=True,
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
        self._path = lock_path
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

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it (True), else leave at once (False)."""
        if not self._threads.acquire(blocking=False):
            return False
        if self._depth == 0 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._threads.release()
                return False
        self._depth += 1
        return True

    def wait_free(self) -> None:
        """Block until whoever holds the lock lets go (it may be taken again at once: then retry).

        Waits on a file description of its own: ``flock`` on the shared one would succeed at once
        while another thread of this process holds it, and unlocking it would free their lock.
        """
        with self._threads:
            pass
        if self._path is not None:
            fd = os.open(self._path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                os.close(fd)  # closing lets go of the lock

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
        self._groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()

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
    def transaction(self, *, keep_on_failure: bool = True) -> Iterator[Session]:
        """A session whose work commits at the end of the block (or rolls back on error).

        Rows marked with :func:`keep_after_rollback` (audit of a refused access, say) are written
        in a transaction of their own when the block fails, and nothing else is; not with
        ``keep_on_failure=False``, for a block that will run its work again.
        """
        with self._writer, self.session_factory() as session:
            try:
                with session.begin():
                    yield session
            except BaseException:
                kept: list[Any] = session.info.pop(_KEEP, [])
                if kept and keep_on_failure:
                    with self.session_factory() as again, again.begin():
                        again.add_all(kept)
                raise

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a transaction, from async code (the result of ``work`` is returned).

        On SQLite the work runs right here on the event loop, once this process has the writer
        lock (:meth:`writer_turn`). SQLite writes one transaction at a time anyway, and a local
        transaction of a millisecond or two costs less than handing it to a worker thread, whose
        hop and GIL hand-overs cost about 3 ms of CPU per request under load (``bench/intake.py``:
        200 inquiries/s through worker threads, 437/s on the loop). On PostgreSQL (network round
        trips, many writers) the work goes to a worker thread.
        """
        if self.is_sqlite:
            async with self.writer_turn():
                return self.in_transaction(work)
        return await anyio.to_thread.run_sync(self.in_transaction, work)

    @contextlib.asynccontextmanager
    async def writer_turn(self) -> AsyncIterator[None]:
        """Hold SQLite's writer lock for a block of async code, waiting for it without stopping the
        event loop: while another process (``--workers N``) or thread writes, this process goes on
        reading requests, and those that reach a group commit meanwhile join the next write.
        Nothing to wait for on PostgreSQL."""
        writer = self._writer
        if not isinstance(writer, WriterLock):
            yield
            return
        while not writer.try_acquire():
            await anyio.to_thread.run_sync(writer.wait_free)
        try:
            yield
        finally:
            writer.release()

    async def run_grouped(self, work: Callable[[Session], T]) -> T:
        """Like :meth:`run`, but ``work`` may share its transaction with others submitted meanwhile
        (group commit, :class:`GroupCommit`): for the busy, small writes of the public roads (an
        inquiry, a chat message). ``work`` must keep its effects in the session (rows, and events
        by :func:`queue_event`): if a unit of work it was grouped with fails, it runs again alone.
        """
        loop = asyncio.get_running_loop()
        group = self._groups.get(loop)
        if group is None:
            group = self._groups[loop] = GroupCommit(self)
        return await group.submit(work)

    def in_transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a transaction of its own; its result."""
        with self.transaction() as session:
            return work(session)

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writer, WriterLock):
            self._writer.close()


class GroupCommit:
    """Group commit: units of work submitted while a write is under way share the next transaction.

    A commit costs more than a small write (``BEGIN IMMEDIATE``, the WAL pages, the connection and
    session set-up): on SQLite, eight inquiries in one transaction cost 0.6–0.8 ms each in-process
    against 1.0 ms in transactions of their own. Alone, a unit of work is written at once; under
    load, those that arrived during one write go together in the next (at most :data:`GROUP_MAX`).
    If the shared transaction fails (one unit refused, say), it is rolled back as a whole; the unit
    that failed runs again alone (its outcome, and any row it keeps after a refusal, are its own),
    and the others together again. So a refused unit never takes others with it, a flood of refused
    requests does not turn every write into a transaction of its own, and nothing is stored or
    published twice. One per event loop (:meth:`Database.run_grouped`).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None

    async def submit(self, work: Callable[[Session], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.pending.append((work, future))
        if not self.running:
            self.running = True
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                if self.db.is_sqlite:
                    async with self.db.writer_turn():  # those that come while waiting join the batch
                        batch = self._take()
                        outcomes = self._write([work for work, _ in batch])
                else:
                    batch = self._take()
                    try:
                        outcomes = await anyio.to_thread.run_sync(self._write, [work for work, _ in batch])
                    except Exception as exc:  # pragma: no cover - the thread pool itself failed
                        outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self.running = False

    def _take(self) -> list[tuple[Callable[[Session], Any], asyncio.Future[Any]]]:
        batch, self.pending = self.pending[:GROUP_MAX], self.pending[GROUP_MAX:]
        return batch

    def _write(self, works: list[Callable[[Session], Any]]) -> list[tuple[bool, Any]]:
        """Each unit's outcome, ``(True, result)`` or ``(False, exception)``, in order."""
        outcomes: dict[int, tuple[bool, Any]] = {}
        together = list(range(len(works)))
        while len(together) > 1:
            failed: int | None = None
            try:
                # On failure every unit runs again, and keeps its own rows then: not twice.
                with self.db.transaction(keep_on_failure=False) as session:
                    results = []
                    for index in together:
                        failed = index
                        results.append(works[index](session))
                    failed = None
            except Exception:
                if failed is None:  # the commit itself failed: each on its own below
                    break
                # The unit that failed learns its own outcome alone; the others try together again.
                outcomes[failed] = self._alone(works[failed])
                together.remove(failed)
                continue
            outcomes.update((index, (True, result)) for index, result in zip(together, results, strict=True))
            together = []
        for index in together:
            outcomes[index] = self._alone(works[index])
        return [outcomes[index] for index in range(len(works))]

    def _alone(self, work: Callable[[Session], Any]) -> tuple[bool, Any]:
        try:
            return True, self.db.in_transaction(work)
        except Exception as exc:
            return False, exc


def keep_after_rollback(session: Session, row: Any) -> None:
    """Add ``row`` now, and write it again on its own if the transaction rolls back."""
    session.add(row)
    mapper = inspect(row).mapper
    copy = mapper.class_(**{c.key: getattr(row, c.key) for c in mapper.column_attrs if c.key != "id"})
    session.info.setdefault(_KEEP, []).append(copy)


def queue_event(session: Session, item: Event) -> None:
    """Publish ``item`` once ``session`` commits; forget it if the transaction rolls back."""
    session.info.setdefault(_PENDING, []).append(item)
