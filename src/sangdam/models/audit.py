"""Audit log (who saw or changed what, when) and rate-limit counters shared by every worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.core.clock import now
from sangdam.models.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_customer", "customer_id", "at"),
        Index("ix_audit_events_actor", "actor_kind", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now)
    actor_kind: Mapped[str] = mapped_column(String(16))  # agent, customer, api, system
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))  # e.g. conversation.view, message.create
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RateLimitHit(Base):
    """One counted attempt in a rate-limit bucket (e.g. failed receipt lookups per address)."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=now)
