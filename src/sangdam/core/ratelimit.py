"""Rate limits counted in the database, so every worker sees the same count."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.models import RateLimitHit


def count(session: Session, bucket: str, window_seconds: int) -> int:
    since = now() - timedelta(seconds=window_seconds)
    return session.execute(
        select(func.count()).select_from(RateLimitHit).where(RateLimitHit.bucket == bucket, RateLimitHit.at >= since)
    ).scalar_one()


def exceeded(session: Session, buckets: list[str], limit: int, window_seconds: int) -> bool:
    return any(count(session, b, window_seconds) >= limit for b in buckets)


def hit(session: Session, *buckets: str) -> None:
    for bucket in buckets:
        session.add(RateLimitHit(bucket=bucket))


def clear(session: Session, bucket: str) -> None:
    session.execute(delete(RateLimitHit).where(RateLimitHit.bucket == bucket))


def prune(session: Session, older_than_seconds: int = 86400) -> int:
    cutoff = now() - timedelta(seconds=older_than_seconds)
    result = session.execute(delete(RateLimitHit).where(RateLimitHit.at < cutoff))
    return result.rowcount or 0
