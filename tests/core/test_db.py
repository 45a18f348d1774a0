"""core.db: events wait for commit; nested savepoints don't publish early; SQLite in WAL mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sangdam.core.db import Database, queue_event
from sangdam.core.events import Event


def test_events_publish_after_commit_and_vanish_on_rollback(db: Database) -> None:
    seen: list[str] = []
    db.bus._deliver_locally = lambda e: seen.append(e.kind)  # type: ignore[method-assign]
    with db.transaction() as s:
        queue_event(s, Event("a", {}))
        with s.begin_nested():
            queue_event(s, Event("b", {}))
        assert seen == []
    assert seen == ["a", "b"]
    with pytest.raises(ZeroDivisionError), db.transaction() as s:
        queue_event(s, Event("c", {}))
        1 / 0  # noqa: B018
    with db.transaction() as s:
        pass
    assert seen == ["a", "b"]


def test_sqlite_runs_in_wal_mode(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_run_commits_on_the_loop_and_rolls_back_on_error(db: Database) -> None:
    """``Database.run`` (async callers): the work's result comes back, its events publish after commit,
    and a failing work leaves nothing behind."""
    import asyncio

    from sqlalchemy import func, select

    from sangdam.models import Customer

    seen: list[str] = []
    db.bus._deliver_locally = lambda e: seen.append(e.kind)  # type: ignore[method-assign]

    def add(session: Session) -> int:
        customer = Customer(name="홍길동")
        session.add(customer)
        session.flush()
        queue_event(session, Event("customer.added", {}))
        return customer.id

    def fail(session: Session) -> None:
        session.add(Customer(name="김철수"))
        session.flush()
        raise ValueError("boom")

    customer_id = asyncio.run(db.run(add))
    assert customer_id > 0 and seen == ["customer.added"]
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(db.run(fail))
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


def _hold_writer_lock(db_file: str, marker: str, ready: Any, release: Any) -> None:
    """In another process: take the writer lock, say so, wait, write the marker, then let go."""
    from pathlib import Path

    from sangdam.core.db import WriterLock

    lock = WriterLock(Path(db_file + ".writer-lock"))
    with lock:
        ready.set()
        release.wait(30)
        Path(marker).write_text("released")
    lock.close()


@contextmanager
def _another_process_holding_the_writer_lock(tmp_path: Path) -> Iterator[tuple[Database, Path, Any]]:
    """A database, and another process that holds its writer lock until ``release`` is set (it
    writes ``marker`` just before it lets go)."""
    import multiprocessing

    from sangdam.core.events import EventBus

    db_file = tmp_path / "sangdam.db"
    marker = tmp_path / "marker"
    database = Database(f"sqlite:///{db_file}", EventBus())
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_writer_lock, args=(str(db_file), str(marker), ready, release))
    holder.start()
    try:
        assert ready.wait(60), "the other process did not take the lock"
        yield database, marker, release
    finally:
        release.set()
        holder.join(30)
        database.dispose()
    assert holder.exitcode == 0


def test_sqlite_writers_in_other_processes_wait_for_each_other(tmp_path: Path) -> None:
    """``sangdam serve --workers N`` on SQLite: a process's transaction starts only once another
    process's write is over (the writer lock is an flock beside the database file)."""
    with _another_process_holding_the_writer_lock(tmp_path) as (database, marker, release):
        release.set()  # it writes the marker before letting go: we can only get in after that
        with database.transaction() as session:
            session.execute(text("select 1"))
            assert marker.read_text() == "released"


def test_the_writer_lock_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    from sangdam.core.events import EventBus

    database = Database(f"sqlite:///{tmp_path / 'sangdam.db'}", EventBus())
    try:
        with database.transaction() as outer, database.transaction() as inner:
            # a refused access writes its audit row on its own while the request's transaction is open
            assert outer is not inner
    finally:
        database.dispose()


def test_grouped_work_shares_a_commit_and_a_refusal_takes_nobody_with_it(db: Database) -> None:
    """``Database.run_grouped`` (group commit): units submitted together commit together; when one
    fails, the others are written on their own, once, with their events, and the failure reaches
    only its own caller."""
    import asyncio

    from sqlalchemy import event, func, select

    from sangdam.models import Customer

    seen: list[str] = []
    db.bus._deliver_locally = lambda e: seen.append(e.kind)  # type: ignore[method-assign]
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda conn: commits.append(1))

    def add(name: str) -> Any:
        def work(session: Session) -> int:
            customer = Customer(name=name)
            session.add(customer)
            session.flush()
            queue_event(session, Event("customer.added", {"name": name}))
            return customer.id

        return work

    def refuse(session: Session) -> None:
        session.add(Customer(name="거절"))
        session.flush()
        raise ValueError("refused")

    async def together(*works: Any) -> list[Any]:
        return await asyncio.gather(*(db.run_grouped(w) for w in works), return_exceptions=True)

    ids = asyncio.run(together(*(add(f"고객{i}") for i in range(5))))
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 5
    assert len(commits) == 1 and seen == ["customer.added"] * 5

    commits.clear()
    seen.clear()
    outcomes = asyncio.run(together(add("가"), refuse, add("나")))
    assert isinstance(outcomes[0], int) and isinstance(outcomes[2], int)
    assert isinstance(outcomes[1], ValueError)
    assert len(commits) == 1 and seen == ["customer.added"] * 2  # the two others again together; nothing twice
    with db.session() as s:
        names = s.execute(select(Customer.name)).scalars().all()
        assert sorted(names) == sorted([f"고객{i}" for i in range(5)] + ["가", "나"])
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 7


def test_waiting_for_another_process_s_write_keeps_the_event_loop_running(tmp_path: Path) -> None:
    """With ``--workers N`` on SQLite, a process waiting for the writer lock goes on serving: its
    event loop is not stopped by the wait, and the work runs once the other process lets go."""
    import asyncio

    with _another_process_holding_the_writer_lock(tmp_path) as (database, marker, release):

        async def scenario() -> tuple[int, str]:
            write = asyncio.create_task(database.run(lambda s: marker.read_text()))
            ticks = 0
            for _ in range(20):  # 0.2 s in which the write must wait and the loop must keep turning
                await asyncio.sleep(0.01)
                ticks += 1
                assert not write.done()
            release.set()
            return ticks, await asyncio.wait_for(write, 30)

        ticks, seen = asyncio.run(scenario())
    assert ticks == 20 and seen == "released"


def test_a_grouped_refusal_keeps_its_audit_row_once(db: Database) -> None:
    """A refused unit's :func:`keep_after_rollback` row (the audit of a refused access) survives the
    refusal, once: not once for the shared attempt and again for the unit's own."""
    import asyncio

    from sqlalchemy import func, select

    from sangdam.core.db import keep_after_rollback
    from sangdam.models import AuditEvent, Customer

    def add(session: Session) -> None:
        session.add(Customer(name="홍길동"))

    def refuse(session: Session) -> None:
        keep_after_rollback(session, AuditEvent(actor_kind="agent", action="conversation.denied", object_type="x"))
        raise PermissionError("refused")

    async def together() -> list[Any]:
        return await asyncio.gather(*(db.run_grouped(w) for w in (add, refuse, add)), return_exceptions=True)

    outcomes = asyncio.run(together())
    assert outcomes[0] is None and outcomes[2] is None and isinstance(outcomes[1], PermissionError)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 2
