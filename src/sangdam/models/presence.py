"""Agent presence: the console and chat WebSockets an agent has open, on any worker.

One row per socket. A worker refreshes ``seen_at`` of its own open sockets; a row left open by a
worker that died stops being refreshed and counts as closed at ``seen_at``. When an agent has no
live row left, the grace period of :mod:`sangdam.channels.webchat.presence` starts from the last
``closed_at`` (or stale ``seen_at``); a new connection in the meantime cancels it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sangdam.core.clock import now
from sangdam.models.base import Base


class AgentConnection(Base):
    __tablename__ = "agent_connections"
    __table_args__ = (Index("ix_agent_connections_agent_closed", "agent_id", "closed_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random hex, chosen by the worker
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # console (/console/ws) or chat (/console/chat-ws)
    worker: Mapped[str] = mapped_column(String(100))  # host:pid, for operators
    opened_at: Mapped[datetime] = mapped_column(default=now)
    seen_at: Mapped[datetime] = mapped_column(default=now)
    closed_at: Mapped[datetime | None]
