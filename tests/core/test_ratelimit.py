"""core.ratelimit: counts per bucket and window, the wait until a slot frees, pruning of old hits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from sangdam.core import ratelimit
from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.models import RateLimitHit


def age(db: Database, bucket: str, by: timedelta) -> None:
    with db.transaction() as session:
        session.execute(update(RateLimitHit).where(RateLimitHit.bucket == bucket).values(at=now() - by))


def hits(db: Database) -> int:
    with db.session() as session:
        return session.execute(select(func.count()).select_from(RateLimitHit)).scalar_one()


def test_hits_count_per_bucket_within_the_window(db: Database) -> None:
    with db.transaction() as session:
        ratelimit.hit(session, "a", "b")
        ratelimit.hit(session, "a")
        assert ratelimit.count(session, "a", 60) == 2 and ratelimit.count(session, "b", 60) == 1
        assert ratelimit.exceeded(session, ["b", "a"], 2, 60) and not ratelimit.exceeded(session, ["b"], 2, 60)
    age(db, "a", timedelta(seconds=61))
    with db.transaction() as session:
        assert ratelimit.count(session, "a", 60) == 0 and ratelimit.count(session, "a", 120) == 2
        ratelimit.clear(session, "b")
        assert ratelimit.count(session, "b", 60) == 0


def test_the_wait_until_a_slot_frees_follows_the_oldest_hit(db: Database) -> None:
    with db.transaction() as session:
        ratelimit.hit(session, "a")
        assert ratelimit.seconds_until_free(session, "empty", 3600) == 1
    age(db, "a", timedelta(minutes=45))
    with db.transaction() as session:
        assert 14 * 60 <= ratelimit.seconds_until_free(session, "a", 3600) <= 15 * 60 + 1


def test_pruning_removes_only_hits_older_than_any_window_in_short_transactions(db: Database) -> None:
    with db.transaction() as session:
        for _ in range(7):
            ratelimit.hit(session, "old")
        ratelimit.hit(session, "new")
    age(db, "old", timedelta(days=1, seconds=1))
    assert ratelimit.prune_all(db, batch=3) == 7
    assert hits(db) == 1


def test_the_server_prunes_in_the_background_until_stopped(db: Database) -> None:
    with db.transaction() as session:
        ratelimit.hit(session, "old")
    age(db, "old", timedelta(days=2))

    async def scenario() -> None:
        task = asyncio.create_task(ratelimit.prune_every(db, interval_seconds=0.01, first_after=0))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if hits(db) == 0:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()

    asyncio.run(scenario())
    assert hits(db) == 0


def test_the_app_prunes_while_it_serves(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app):
        task = app.state.prune_task
        assert not task.done()
    assert task.done()
