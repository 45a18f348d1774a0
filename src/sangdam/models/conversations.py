"""Conversations (상담건), their messages, attachments, internal notes and activity log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sangdam.core.clock import now
from sangdam.models.agents import Agent
from sangdam.models.base import Base, ConversationStatus
from sangdam.models.customers import Customer
from sangdam.models.topics import Topic


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_priority", "status", "priority", "created_at"),
        Index("ix_conversations_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    priority: Mapped[int] = mapped_column(default=50)
    status: Mapped[str] = mapped_column(String(24), default=ConversationStatus.QUEUED.value)
    subject: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="ko")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    contact_phone: Mapped[str | None] = mapped_column(String(32))  # E.164, as given when filed
    contact_email: Mapped[str | None] = mapped_column(String(254))
    consent_at: Mapped[datetime | None]  # 개인정보 수집·이용 동의
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    last_message_at: Mapped[datetime] = mapped_column(default=now)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(lazy="joined")
    topic: Mapped[Topic | None] = relationship(lazy="joined")
    assignee: Mapped[Agent | None] = relationship(lazy="joined")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="conversation", order_by="Note.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """One message. ``channel_message_id`` is the provider's id: a redelivered message is stored once."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "channel_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_message_id: Mapped[str | None] = mapped_column(String(200))
    sender_kind: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    body: Mapped[str] = mapped_column(Text)  # already masked by the privacy guard
    masked_kinds: Mapped[str] = mapped_column(String(100), default="")  # comma-separated finding kinds
    created_at: Mapped[datetime] = mapped_column(default=now)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    agent: Mapped[Agent | None] = relationship(lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message", lazy="selectin")


class Attachment(Base):
    """A file sent with a message; bytes live under ``<data_dir>/attachments/<storage_key>``."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)

    message: Mapped[Message | None] = relationship(back_populates="attachments")


class Note(Base):
    """An internal note (메모): agents only, never shown to the customer."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)

    conversation: Mapped[Conversation] = relationship(back_populates="notes")
    agent: Mapped[Agent] = relationship(lazy="joined")


class ConversationActivity(Base):
    """The conversation's own log: status changes, assignments, transfers."""

    __tablename__ = "conversation_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=now)

    actor: Mapped[Agent | None] = relationship(lazy="joined")
