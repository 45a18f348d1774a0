"""Routing tables: queues (대기열) with their skills and topics, routing entries, offers.

The routing state lives here, not in a process's memory: a restarted server (or another worker)
finds every waiting, offered and assigned conversation in ``routing_entries``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sangdam.core.clock import now
from sangdam.models.base import Base, Rank, StrEnum


class EntryState(StrEnum):
    WAITING = "waiting"  # in queue
    OFFERED = "offered"  # ringing at one agent until offer_expires_at
    ASSIGNED = "assigned"  # the agent accepted; holds a slot of their capacity until released


class OfferOutcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # agent went on break/offline, conversation closed or escalated


class RoutingQueue(Base):
    """A queue for a group of topics, with the skills its agents need."""

    __tablename__ = "routing_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    overflow_after_s: Mapped[int | None]  # None: never widens to the secondary skills
    offer_timeout_s: Mapped[int] = mapped_column(default=20)
    min_rank: Mapped[str] = mapped_column(String(16), default=Rank.AGENT.value)
    is_supervisor_queue: Mapped[bool] = mapped_column(default=False)  # 상급자 연결
    is_default: Mapped[bool] = mapped_column(default=False)  # for topics mapped to no queue
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every channel
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    skills: Mapped[list[RoutingQueueSkill]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", lazy="selectin"
    )
    topics: Mapped[list[RoutingQueueTopic]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def required_skill_ids(self) -> frozenset[int]:
        return frozenset(s.skill_id for s in self.skills if not s.secondary)

    @property
    def secondary_skill_ids(self) -> frozenset[int]:
        return frozenset(s.skill_id for s in self.skills if s.secondary)

    def serves(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


class RoutingQueueSkill(Base):
    """A skill a queue requires (``secondary`` false) or widens to after overflow (true)."""

    __tablename__ = "routing_queue_skills"

    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    secondary: Mapped[bool] = mapped_column(default=False)

    queue: Mapped[RoutingQueue] = relationship(back_populates="skills")


class RoutingQueueTopic(Base):
    """Which queue a topic's conversations go to; a topic belongs to at most one queue."""

    __tablename__ = "routing_queue_topics"

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id", ondelete="CASCADE"), index=True)

    queue: Mapped[RoutingQueue] = relationship(back_populates="topics")


class RoutingEntry(Base):
    """A conversation that needs a person: waiting, offered to one agent, or assigned to one.

    ``enqueued_at`` is the original time: a conversation returned to the queue keeps its place.
    ``skipped`` maps an agent id (as text) to the POSIX time until which that agent must not be
    offered this conversation again (``None``: for good).
    """

    __tablename__ = "routing_entries"
    __table_args__ = (
        Index("ix_routing_entries_queue_state", "queue_id", "state", "priority", "enqueued_at"),
        Index("ix_routing_entries_agent_state", "agent_id", "state"),
        Index("ix_routing_entries_state_expires", "state", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id"))
    channel: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int]
    enqueued_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=EntryState.WAITING.value)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    offer_id: Mapped[int | None]
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    escalated: Mapped[bool] = mapped_column(default=False)
    escalated_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    queue: Mapped[RoutingQueue] = relationship()  # not joined: entries are read FOR UPDATE


class RoutingOffer(Base):
    """The log of offers: who was offered what, when, and what came of it."""

    __tablename__ = "routing_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("routing_queues.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    offered_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default=OfferOutcome.PENDING.value)
    level: Mapped[int] = mapped_column(default=0)
    via_overflow: Mapped[bool] = mapped_column(default=False)
    waited_s: Mapped[float] = mapped_column(default=0.0)  # from enqueued_at to this offer


class RoutingAgentState(Base):
    """Per-agent routing state kept apart from ``agents``: since when the agent has been idle."""

    __tablename__ = "routing_agent_states"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    idle_since: Mapped[datetime] = mapped_column(default=now)
