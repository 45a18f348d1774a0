"""One clock for the whole service: aware datetimes, stored in UTC, shown in Asia/Seoul."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Database drivers hand back naive datetimes for SQLite; they are UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_seoul(value: datetime) -> datetime:
    return as_utc(value).astimezone(SEOUL)


def format_seoul(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return to_seoul(value).strftime(fmt)
