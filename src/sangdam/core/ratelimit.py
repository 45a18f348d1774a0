"""Rate limits counted in the database, so every worker sees the same count.

Counting and recording are prepared statements (:mod:`sangdam.core.sql`): filing an inquiry runs
them on every request.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio.to_thread
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from sangdam.core.clock import as_utc, now
from sangdam.core.db import Database
from sangdam.core.sql import Prepared, PreparedInsert
from sangdam.models import RateLimitHit

log = logging.getLogger(__name__)
KEEP_SECONDS = 86400  # longer than any window
PRUNE_EVERY_SECONDS = 3600.0

_HITS = RateLimitHit.__table__
_IN_WINDOW = (_HITS.c.bucket == bindparam("bucket"), _HITS.c.at >= bindparam("since"))
_COUNT = Prepared(select(func.count()).select_from(_HITS).where(*_IN_WINDOW))
_HIT = PreparedInsert(_HITS, ["bucket", "at"])


def count(session: Session, bucket: str, window_seconds: int) -> int:
    since = now() - timedelta(seconds=window_seconds)
    return int(_COUNT.scalar(session.connection(), {"bucket": bucket, "since": since}))


def exceeded(session: Session, buckets: list[str], limit: int, window_seconds: int) -> bool:
    return any(count(session, b, window_seconds) >= limit for b in buckets)


def seconds_until_free(session: Session, bucket: str, window_seconds: int) -> int:
    """How long until the oldest hit in the window leaves it (at least 1 s); for a refusal's
    ``Retry-After``."""
    at = now()
    since = at - timedelta(seconds=window_seconds)
    oldest = session.execute(
        select(func.min(RateLimitHit.at)).where(RateLimitHit.bucket == bucket, RateLimitHit.at >= since)
    ).scalar()
    if oldest is None:
        return 1
    return max(1, int((as_utc(oldest) + timedelta(seconds=window_seconds) - at).total_seconds()) + 1)


def hit(session: Session, *buckets: str) -> None:
    at = now()
    _HIT.execute_many(session.connection(), [{"bucket": bucket, "at": at} for bucket in buckets])


def clear(session: Session, bucket: str) -> None:
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket))


def prune(session: Session, older_than_seconds: int = KEEP_SECONDS, batch: int = 5000) -> int:
    """Forget hits older than any window (at most ``batch`` rows); how many were removed."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    old = select(RateLimitHit.id).where(RateLimitHit.at < cutoff).limit(batch).scalar_subquery()
    result = session.execute(delete(RateLimitHit).where(RateLimitHit.id.in_(old)))
    return result.rowcount or 0  # type: ignore[attr-defined]


def prune_all(db: Database, older_than_seconds: int = KEEP_SECONDS, batch: int = 5000) -> int:
    """:func:`prune` in short transactions until nothing is left to remove (writers wait little)."""
    removed = 0
    while True:
        with db.transaction() as session:
            count = prune(session, older_than_seconds, batch)
        removed += count
        if count < batch:
            return removed


async def prune_every(db: Database, interval_seconds: float = PRUNE_EVERY_SECONDS, first_after: float = 60.0) -> None:
    """Run :func:`prune_all` a minute after start, then every ``interval_seconds``, in a worker
    thread, until cancelled (each server worker runs one; they remove the same old rows, harmless)."""
    await asyncio.sleep(first_after)
    while True:
        try:
            removed = await anyio.to_thread.run_sync(prune_all, db)
            if removed:
                log.info("rate limits: forgot %d old hits", removed)
        except Exception:
            log.exception("rate limits: pruning failed; trying again later")
        await asyncio.sleep(interval_seconds)
