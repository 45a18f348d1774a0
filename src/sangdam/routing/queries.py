"""Routing reads: a conversation's place in its queue, queue lengths, an agent's pending offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from sangdam.models.routing import EntryState, RoutingEntry, RoutingQueue


@dataclass(frozen=True, slots=True)
class QueuePosition:
    queue: str
    state: str  # waiting, offered, assigned
    position: int | None  # 1-based among the waiting; 0 while offered to an agent; None once assigned
    waiting: int  # how many wait in the same queue
    enqueued_at: datetime


def entry_for(session: Session, conversation_id: int) -> RoutingEntry | None:
    return session.execute(
        select(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id)
    ).scalar_one_or_none()


def position(session: Session, conversation_id: int) -> int | None:
    """The conversation's place in its queue: 1 is next; 0 while an agent is being offered it;
    ``None`` when it is assigned or not routed. Order: priority, then the original enqueue time."""
    entry = entry_for(session, conversation_id)
    if entry is None or entry.state == EntryState.ASSIGNED:
        return None
    if entry.state == EntryState.OFFERED:
        return 0
    ahead = session.execute(
        select(func.count())
        .select_from(RoutingEntry)
        .where(
            RoutingEntry.queue_id == entry.queue_id,
            RoutingEntry.state == EntryState.WAITING,
            or_(
                RoutingEntry.priority > entry.priority,
                and_(RoutingEntry.priority == entry.priority, RoutingEntry.enqueued_at < entry.enqueued_at),
                and_(
                    RoutingEntry.priority == entry.priority,
                    RoutingEntry.enqueued_at == entry.enqueued_at,
                    RoutingEntry.id < entry.id,
                ),
            ),
        )
    ).scalar_one()
    return int(ahead) + 1


def queue_position(session: Session, conversation_id: int) -> QueuePosition | None:
    """Everything the waiting customer's display needs, or ``None`` if the conversation is not routed."""
    entry = entry_for(session, conversation_id)
    if entry is None:
        return None
    queue = session.get(RoutingQueue, entry.queue_id)
    assert queue is not None
    return QueuePosition(
        queue=queue.code,
        state=entry.state,
        position=position(session, conversation_id),
        waiting=waiting_counts(session).get(queue.code, 0),
        enqueued_at=entry.enqueued_at,
    )


def waiting_counts(session: Session) -> dict[str, int]:
    """Waiting conversations per queue code (queues with none are listed with 0)."""
    counts: dict[int, int] = {
        row.queue_id: row.waiting
        for row in session.execute(
            select(RoutingEntry.queue_id, func.count().label("waiting"))
            .where(RoutingEntry.state == EntryState.WAITING)
            .group_by(RoutingEntry.queue_id)
        )
    }
    return {q.code: int(counts.get(q.id, 0)) for q in session.execute(select(RoutingQueue)).scalars()}


def pending_offers(session: Session, agent_id: int) -> list[RoutingEntry]:
    """The conversations ringing at an agent's console, oldest offer first."""
    return list(
        session.execute(
            select(RoutingEntry)
            .where(RoutingEntry.agent_id == agent_id, RoutingEntry.state == EntryState.OFFERED)
            .order_by(RoutingEntry.offered_at, RoutingEntry.id)
        ).scalars()
    )
