"""Live chat (채팅 상담): resumable customer sessions, read markers, CSAT ratings and canned responses.

The chat itself is an ordinary conversation (``channel = "webchat"``) whose messages are ordinary
``messages`` rows; these tables hold only what chat adds. Nothing that matters lives only in a
server's memory: a customer reconnecting to another worker, or after a restart, finds all of it here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.core.clock import now
from sangdam.models.base import Base


class ChatSession(Base):
    """A browser's resumable handle on one chat conversation.

    The customer holds a signed token; only its SHA-256 is stored, so a database leak does not
    let anyone rejoin a chat. A reload, a lost network or another device with the same token
    rejoins the same conversation.
    """

    __tablename__ = "chat_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="ko")
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]


class ChatConversation(Base):
    """Chat state of one conversation, keyed by it: read markers of each side and the bot stage.

    ``customer_last_read_message_id`` is the last message the customer has seen;
    ``agent_last_read_message_id`` the last one an agent has seen (the customer's "읽음").
    """

    __tablename__ = "chat_conversations"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    customer_last_read_message_id: Mapped[int | None]
    agent_last_read_message_id: Mapped[int | None]
    bot_failed_answers: Mapped[int] = mapped_column(default=0)  # two failed answers → a person
    handed_off_at: Mapped[datetime | None]  # when the bot handed the chat to routing
    handoff_reason: Mapped[str | None] = mapped_column(String(32))  # requested, low_confidence, sensitive, …
    transcript_email: Mapped[str | None] = mapped_column(String(254))
    transcript_sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class CsatRating(Base):
    """상담 만족도: the customer's 1–5 rating and comment, one per conversation."""

    __tablename__ = "csat_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")  # masked by the privacy guard
    created_at: Mapped[datetime] = mapped_column(default=now)


class CannedResponse(Base):
    """상용구: a reusable reply. ``body`` may hold ``{고객명}``, ``{접수번호}`` and ``{상담원명}``.

    ``topic_id`` None: offered for every topic.
    """

    __tablename__ = "canned_responses"
    __table_args__ = (Index("ix_canned_responses_active_topic", "active", "topic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
