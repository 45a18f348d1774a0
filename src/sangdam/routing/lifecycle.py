"""The routing side of the conversation lifecycle: routing entries kept in step with what people do.

``conversations.actions`` calls :func:`follow` at the end of each change to a conversation, in the
same transaction. From the conversation's status and assignee it decides what routing must hold:

* ``resolved`` / ``closed`` → :func:`~sangdam.routing.actions.release`: the agent's slot is freed;
* open and nobody assigned (a new inquiry, a reopened one, one sent back to the queue) → in its
  queue: :func:`~sangdam.routing.actions.enqueue` when not routed yet; an entry that was assigned
  goes back to waiting at its original place (the agent who had it is skipped for a while);
* open and assigned (taken, assigned or transferred by hand, reopened with its agent) → the entry
  is assigned to that agent, so it counts against their capacity; an offer ringing for it is
  closed (accepted when it rang at that very agent, withdrawn otherwise);
* ``bot`` → nothing: the bot has it.

:func:`retarget` moves a waiting conversation to its new topic's queue. A conversation no queue
takes (no queues configured) stays unrouted, as before routing existed, and a warning is logged.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangdam.core.db import queue_event
from sangdam.core.errors import NotFound
from sangdam.models import Agent, Conversation
from sangdam.models.base import ConversationStatus
from sangdam.models.routing import EntryState, OfferOutcome, RoutingEntry
from sangdam.routing.actions import (
    _back_to_waiting,
    _close_offer,
    _lock_entry,
    _now,
    _routing_event,
    _touch_idle,
    enqueue,
    queue_for,
    release,
    routing_priority,
)

log = logging.getLogger(__name__)

CLOSED = (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)


def follow(session: Session, conversation: Conversation, now: datetime | None = None) -> RoutingEntry | None:
    """Make the routing entry agree with the conversation; returns the entry (``None``: not routed)."""
    at = _now(now)
    status = conversation.status
    if status == ConversationStatus.BOT:
        return None
    entry = _lock(session, conversation)
    if status in CLOSED:
        release(session, conversation.id, at)
        return None
    try:
        if conversation.assignee_id is not None:
            return _claim(session, conversation, entry, conversation.assignee_id, at)
        return _to_queue(session, conversation, entry, at)
    except NotFound as exc:
        if exc.code != "no_queue":
            raise
        log.warning("conversation %s is not routed: %s", conversation.id, exc.message_en)
        return None


def retarget(session: Session, conversation: Conversation, now: datetime | None = None) -> RoutingEntry | None:
    """After a topic change: a waiting (or ringing) conversation moves to its topic's queue, keeping its
    place in time; an escalated one stays with the supervisors; an assigned one stays with its agent."""
    at = _now(now)
    entry = _lock(session, conversation)
    if entry is None or entry.escalated or entry.state == EntryState.ASSIGNED:
        return entry
    session.flush()
    session.expire(conversation, ["topic"])  # the relationship still holds the old topic
    try:
        queue = queue_for(session, conversation)
    except NotFound as exc:
        if exc.code != "no_queue":
            raise
        return entry
    priority = routing_priority(conversation)
    if queue.id == entry.queue_id and priority == entry.priority:
        return entry
    from_queue_id = entry.queue_id
    offered_to = entry.agent_id if entry.state == EntryState.OFFERED else None
    if offered_to is not None:
        _close_offer(session, entry, OfferOutcome.WITHDRAWN, at)
        _back_to_waiting(entry, at)
    entry.queue_id = queue.id
    entry.priority = priority
    entry.updated_at = at
    conversation.priority = priority
    session.flush()
    queue_event(
        session,
        _routing_event(
            "requeued",
            entry,
            queue=queue.code,
            from_queue_id=from_queue_id,
            from_agent_id=offered_to,
            reason="topic_changed",
        ),
    )
    return entry


def _lock(session: Session, conversation: Conversation) -> RoutingEntry | None:
    """Lock in the order routing uses everywhere: the agents (the one holding the entry and the new
    assignee, by id), then the entry, then the conversation. The conversation's pending changes are
    not flushed (its row not locked) until the routing rows are held, so a concurrent accept, status
    change or dispatch waits instead of deadlocking with this transaction."""
    with session.no_autoflush:
        holder = session.execute(
            select(RoutingEntry.agent_id).where(RoutingEntry.conversation_id == conversation.id)
        ).scalar_one_or_none()
        for agent_id in sorted({a for a in (holder, conversation.assignee_id) if a is not None}):
            session.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update())
        return _lock_entry(session, conversation.id)


def _to_queue(session: Session, conversation: Conversation, entry: RoutingEntry | None, at: datetime) -> RoutingEntry:
    if entry is None:
        return enqueue(session, conversation, at)
    if entry.state == EntryState.ASSIGNED:
        agent_id = entry.agent_id
        _back_to_waiting(entry, at, skip_agent=agent_id)
        if agent_id is not None:
            _touch_idle(session, agent_id, at)
        session.flush()
        queue_event(session, _routing_event("requeued", entry, from_agent_id=agent_id, reason="unassigned"))
    return entry


def _claim(
    session: Session, conversation: Conversation, entry: RoutingEntry | None, agent_id: int, at: datetime
) -> RoutingEntry:
    if entry is None:
        return _new_assigned_entry(session, conversation, agent_id, at)
    if entry.state == EntryState.ASSIGNED and entry.agent_id == agent_id:
        return entry
    previous = entry.agent_id if entry.state == EntryState.ASSIGNED else None
    if entry.state == EntryState.OFFERED:
        accepted = entry.agent_id == agent_id
        _close_offer(session, entry, OfferOutcome.ACCEPTED if accepted else OfferOutcome.WITHDRAWN, at)
        if not accepted:
            entry.offer_id = None
    entry.state = EntryState.ASSIGNED
    entry.agent_id = agent_id
    entry.offered_at = None
    entry.offer_expires_at = None
    entry.assigned_at = at
    entry.updated_at = at
    if previous is not None and previous != agent_id:
        _touch_idle(session, previous, at)
    session.flush()
    queue_event(session, _routing_event("assigned", entry, from_agent_id=previous, reason="manual"))
    return entry


def _new_assigned_entry(session: Session, conversation: Conversation, agent_id: int, at: datetime) -> RoutingEntry:
    """A conversation never routed (or released and reopened with its agent) now counts against them."""
    queue = queue_for(session, conversation)
    entry = RoutingEntry(
        conversation_id=conversation.id,
        queue_id=queue.id,
        channel=conversation.channel,
        priority=routing_priority(conversation),
        enqueued_at=at,
        state=EntryState.ASSIGNED,
        agent_id=agent_id,
        assigned_at=at,
        skipped={},
        created_at=at,
        updated_at=at,
    )
    try:
        with session.begin_nested():  # another worker may route the same conversation at once
            session.add(entry)
            session.flush()
    except IntegrityError:
        raced = _lock_entry(session, conversation.id)
        if raced is None:
            raise
        return _claim(session, conversation, raced, agent_id, at)
    queue_event(session, _routing_event("assigned", entry, queue=queue.code, reason="manual"))
    return entry
