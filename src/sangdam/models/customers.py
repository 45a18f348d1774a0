"""Customers (회원) and their contact points. No resident number, card number or password is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sangdam.core.clock import now
from sangdam.models.base import Base


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(16), default="general")  # general, gold, vip
    language: Mapped[str] = mapped_column(String(8), default="ko")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )

    def contact(self, kind: str) -> str | None:
        for cp in self.contact_points:
            if cp.kind == kind:
                return cp.value
        return None


class ContactPoint(Base):
    """A way to reach a customer: phone (E.164), email (lower-cased), messenger user id …

    The pair (kind, value) is unique: an inbound contact finds its customer through it.
    """

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(254))
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)

    customer: Mapped[Customer] = relationship(back_populates="contact_points")
