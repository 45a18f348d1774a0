"""Business hours, closures and callback requests."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.core.clock import now
from sangdam.models.base import Base, StrEnum


class BusinessHoursRule(Base):
    """One opening period of a scope, in Seoul time: a queue and/or a channel, or the whole center.

    A scope's rows replace the built-in hours of that scope (weekdays 09:00–18:00; the lost-card
    line 24/7). ``closes`` not after ``opens`` runs past midnight; 00:00–00:00 is the whole day.
    """

    __tablename__ = "business_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        Index("ix_business_hours_scope", "queue", "channel", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str | None] = mapped_column(String(64))  # None: every queue
    channel: Mapped[str | None] = mapped_column(String(16))  # None: every channel
    weekday: Mapped[int]  # 0 = Monday … 6 = Sunday
    opens: Mapped[time]
    closes: Mapped[time]
    observe_holidays: Mapped[bool] = mapped_column(default=True)  # closed on public holidays
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class Closure(Base):
    """An admin-defined closure (임시 휴무): whole days, first to last inclusive, with a reason.

    Naming neither queue nor channel closes every line that observes public holidays.
    """

    __tablename__ = "closures"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    first_day: Mapped[date] = mapped_column(index=True)
    last_day: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class CallbackStatus(StrEnum):
    PENDING = "pending"  # waiting for its scheduled time
    QUEUED = "queued"  # turned into a queued conversation
    DONE = "done"  # the agent called back
    CANCELLED = "cancelled"


CALLBACK_STATUS_LABELS_KO = {"pending": "예약", "queued": "대기", "done": "완료", "cancelled": "취소"}


class CallbackRequest(Base):
    """A callback request (콜백 예약) left out of hours, released as a conversation at ``scheduled_for``."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        Index("ix_callback_requests_due", "status", "scheduled_for"),
        Index("ix_callback_requests_customer", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    queue: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=now)
    scheduled_for: Mapped[datetime]  # the opening time it waits for
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.PENDING.value)
    released_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
