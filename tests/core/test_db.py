"""core.db: events wait for commit; nested savepoints don't publish early; SQLite in WAL mode."""

from __future__ import annotations

import pytest

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
