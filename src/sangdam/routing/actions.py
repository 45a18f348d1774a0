"""Routing actions: the persisted routing service. The database is the truth.

Every function takes a SQLAlchemy session and does one transaction's worth of work; events are
queued with :func:`queue_event` and published once the caller commits. Routing state lives in
``routing_entries`` (one row per conversation that needs a person: waiting, offered or assigned),
so a restart or another worker picks up exactly where things were.

Public API (``now`` defaults to the clock; pass it for tests and replays)::

    routing_priority(conversation) -> int
    enqueue(session, conversation, now=None, queue_code=None) -> RoutingEntry
    dispatch(session, now=None, per_queue=200) -> list[RoutingOffer]
    accept_offer(session, conversation_id, agent_id, now=None) -> RoutingEntry
    reject_offer(session, conversation_id, agent_id, now=None) -> RoutingEntry
    expire_offers(session, now=None) -> list[int]          # conversations back in queue
    set_agent_status(session, agent_id, status, now=None) -> list[int]   # conversations requeued
    agent_went_offline(session, agent_id, now=None) -> list[int]
    release(session, conversation_id, now=None) -> bool    # resolved/closed: the slot is freed
    escalate_to_supervisor(session, conversation, by, now=None, reason="") -> RoutingEntry
    create_queue(session, code, name, required=(), secondary=(), topics=(), ...) -> RoutingQueue
    seed_queues(session) -> int                            # a queue per topic + the supervisor queue

Concurrency: :func:`dispatch` locks the available agents and the waiting entries it considers with
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers dispatching at once work on
disjoint agents and conversations and never offer one conversation twice. On SQLite the write
lock is taken at ``BEGIN IMMEDIATE`` (see :mod:`sangdam.core.db`), which serializes writers.
The decision itself is made by the in-memory :class:`~sangdam.routing.engine.RoutingEngine`,
built from the locked rows for each dispatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sangdam.conversations.activity import log_activity
from sangdam.core import cache
from sangdam.core.clock import as_utc
from sangdam.core.clock import now as clock_now
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.events import Event
from sangdam.core.sql import PreparedInsert
from sangdam.models import (
    Agent,
    AgentChannelCapacity,
    AgentSkill,
    Conversation,
    Skill,
    Topic,
)
from sangdam.models.base import AgentStatus, ConversationStatus, Rank
from sangdam.models.routing import (
    EntryState,
    OfferOutcome,
    RoutingAgentState,
    RoutingEntry,
    RoutingOffer,
    RoutingQueue,
    RoutingQueueSkill,
    RoutingQueueTopic,
)
from sangdam.privacy.audit import Actor, record
from sangdam.routing.engine import AgentSpec, Offer, QueueSpec, RoutingEngine

URGENT_TOPICS = frozenset({"lost_card", "fraud_security"})  # above everything else
URGENT_BOOST = 1000
TIER_BONUS = {"general": 0, "gold": 3, "vip": 5}  # customer tier → priority bonus
SKIP_FOR_S = 120.0  # an agent who rejected or missed an offer is not offered it again for this long
SUPERVISOR_QUEUE = "supervisor"
LOOKAHEAD = 20  # waiting conversations read per lane beyond the free slots of its channel

# Default queues: one per topic (code = topic code); after overflow they widen to related skills.
SEED_SECONDARY: dict[str, tuple[str, ...]] = {
    "lost_card": ("fraud_security",),
    "fraud_security": ("lost_card",),
    "payment_billing": ("limit_approval", "overdue_payment"),
    "limit_approval": ("payment_billing",),
    "overdue_payment": ("payment_billing",),
    "transfer_pay": ("payment_billing", "account_auth"),
    "points_benefits": ("cancel_reissue", "service_usage"),
    "cancel_reissue": ("points_benefits", "lost_card"),
    "account_auth": ("transfer_pay", "service_usage"),
    "service_usage": ("other",),
    "other": ("service_usage",),
}
SEED_OVERFLOW_S = {"lost_card": 30, "fraud_security": 30}
DEFAULT_OVERFLOW_S = 60


def _now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else clock_now()


def _ts(value: datetime) -> float:
    return as_utc(value).timestamp()


def _conversation_event(conversation: Conversation, **data: object) -> Event:
    payload: dict[str, object] = {
        "conversation_id": conversation.id,
        "receipt_number": conversation.receipt_number,
        "status": conversation.status,
        "topic_id": conversation.topic_id,
        "assignee_id": conversation.assignee_id,
        "channel": conversation.channel,
        "priority": conversation.priority,
    }
    payload.update(data)
    return Event("conversation.updated", payload, conversation_id=conversation.id)


def _routing_event(kind: str, entry: RoutingEntry, **data: object) -> Event:
    return _entry_event(
        kind, entry.conversation_id, entry.queue_id, entry.state, entry.agent_id, entry.priority, **data
    )


def _entry_event(
    kind: str, conversation_id: int, queue_id: int, state: str, agent_id: int | None, priority: int, **data: object
) -> Event:
    payload: dict[str, object] = {
        "conversation_id": conversation_id,
        "queue_id": queue_id,
        "state": state,
        "agent_id": agent_id,
        "priority": priority,
    }
    payload.update(data)
    return Event(f"routing.{kind}", payload, conversation_id=conversation_id)


def _log(session: Session, conversation_id: int, kind: str, actor_id: int | None, /, **data: Any) -> None:
    log_activity(session, conversation_id, kind, actor_id, **data)


def _lock_entry(session: Session, conversation_id: int) -> RoutingEntry | None:
    return session.execute(
        select(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id).with_for_update()
    ).scalar_one_or_none()


def _touch_idle(session: Session, agent_id: int, at: datetime) -> None:
    state = session.get(RoutingAgentState, agent_id)
    if state is None:
        session.add(RoutingAgentState(agent_id=agent_id, idle_since=at))
    else:
        state.idle_since = at


def _close_offer(session: Session, entry: RoutingEntry, outcome: str, at: datetime) -> None:
    if entry.offer_id is None:
        return
    offer = session.get(RoutingOffer, entry.offer_id)
    if offer is not None and offer.outcome == OfferOutcome.PENDING:
        offer.outcome = outcome
        offer.responded_at = at


def _back_to_waiting(entry: RoutingEntry, at: datetime, skip_agent: int | None = None) -> None:
    """The entry goes back to its original place: ``enqueued_at`` and ``priority`` stay."""
    if skip_agent is not None:
        skipped = dict(entry.skipped or {})
        skipped[str(skip_agent)] = _ts(at) + SKIP_FOR_S
        entry.skipped = skipped
    entry.state = EntryState.WAITING
    entry.agent_id = None
    entry.offer_id = None
    entry.offered_at = None
    entry.offer_expires_at = None
    entry.assigned_at = None
    entry.updated_at = at


# ---------------------------------------------------------------------------- queues


def create_queue(
    session: Session,
    code: str,
    name: str,
    *,
    required: Iterable[str] = (),
    secondary: Iterable[str] = (),
    topics: Iterable[str] = (),
    overflow_after_s: int | None = None,
    offer_timeout_s: int = 20,
    min_rank: str = Rank.AGENT,
    is_supervisor_queue: bool = False,
    is_default: bool = False,
    channels: Sequence[str] = (),
) -> RoutingQueue:
    """A queue; ``required``/``secondary`` are skill codes, ``topics`` topic codes routed to it."""
    if session.execute(select(RoutingQueue.id).where(RoutingQueue.code == code)).first():
        raise Conflict("이미 있는 대기열 코드입니다.", f"The queue {code!r} exists.", field="code")
    if min_rank not in {r.value for r in Rank}:
        raise InputError("min_rank", "알 수 없는 직급입니다.", f"Unknown rank {min_rank!r}.")
    if offer_timeout_s <= 0 or (overflow_after_s is not None and overflow_after_s < 0):
        raise InputError("offer_timeout_s", "시간은 0보다 커야 합니다.", "Times must be positive.")
    queue = RoutingQueue(
        code=code,
        name=name,
        overflow_after_s=overflow_after_s,
        offer_timeout_s=offer_timeout_s,
        min_rank=str(min_rank),
        is_supervisor_queue=is_supervisor_queue,
        is_default=is_default,
        channels=list(channels),
    )
    skills = {s.code: s.id for s in session.execute(select(Skill)).scalars()}
    for is_secondary, codes in ((False, required), (True, secondary)):
        for skill_code in codes:
            if skill_code not in skills:
                raise InputError("skills", f"알 수 없는 스킬입니다: {skill_code}", f"Unknown skill {skill_code!r}.")
            if any(s.skill_id == skills[skill_code] for s in queue.skills):
                continue
            queue.skills.append(RoutingQueueSkill(skill_id=skills[skill_code], secondary=is_secondary))
    for topic_code in topics:
        topic = session.execute(select(Topic).where(Topic.code == topic_code)).scalar_one_or_none()
        if topic is None:
            raise InputError("topics", f"알 수 없는 문의 유형입니다: {topic_code}", f"Unknown topic {topic_code!r}.")
        previous = session.get(RoutingQueueTopic, topic.id)
        if previous is not None:  # a topic belongs to one queue: the new one takes it
            session.delete(previous)
            session.flush()
        queue.topics.append(RoutingQueueTopic(topic_id=topic.id))
    session.add(queue)
    session.flush()
    forget_queues(session)
    return queue


def seed_queues(session: Session) -> int:
    """A queue per active topic that has a skill (code = topic code), plus the supervisor queue.

    Queues that exist are left alone; the ``other`` queue is the default one. Returns how many
    were added.
    """
    existing = set(session.execute(select(RoutingQueue.code)).scalars())
    skill_codes = set(session.execute(select(Skill.code)).scalars())
    added = 0
    topics = session.execute(select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order)).scalars()
    for topic in topics:
        if topic.code in existing or topic.skill is None:
            continue
        secondary = [c for c in SEED_SECONDARY.get(topic.code, ()) if c in skill_codes]
        create_queue(
            session,
            topic.code,
            topic.name,
            required=[topic.skill.code],
            secondary=secondary,
            topics=[topic.code],
            overflow_after_s=SEED_OVERFLOW_S.get(topic.code, DEFAULT_OVERFLOW_S) if secondary else None,
            is_default=topic.code == "other",
        )
        added += 1
    if SUPERVISOR_QUEUE not in existing:
        create_queue(session, SUPERVISOR_QUEUE, "상급자 연결", min_rank=Rank.SENIOR, is_supervisor_queue=True)
        added += 1
    return added


@dataclass(frozen=True, slots=True)
class QueueRef:
    """What enqueueing needs of a queue (kept 10 s in memory: admins' queue changes apply within that)."""

    id: int
    code: str


def forget_queues(session: Session | None = None) -> None:
    cache.forget(session, "queue")


def queue_for(session: Session, conversation: Conversation) -> QueueRef:
    """The queue of the conversation's topic if it serves its channel, else the default queue."""
    return queue_for_topic(session, conversation.topic_id, conversation.channel)


def queue_for_topic(session: Session, topic_id: int | None, channel: str) -> QueueRef:
    """The queue of this topic if it serves the channel, else the default queue."""
    ref = cache.cached(session, ("queue", topic_id, channel), lambda: _find_queue(session, topic_id, channel))
    if ref is None:
        raise NotFound("상담을 배정할 대기열이 없습니다.", "No queue takes this conversation.", code="no_queue")
    return ref


def _find_queue(session: Session, topic_id: int | None, channel: str) -> QueueRef | None:
    def serves(channels: list[str] | None) -> bool:
        return not channels or channel in channels

    if topic_id is not None:
        row = session.execute(
            select(RoutingQueue.id, RoutingQueue.code, RoutingQueue.channels)
            .join(RoutingQueueTopic, RoutingQueueTopic.queue_id == RoutingQueue.id)
            .where(RoutingQueueTopic.topic_id == topic_id, RoutingQueue.active.is_(True))
        ).first()
        if row is not None and serves(row.channels):
            return QueueRef(row.id, row.code)
    for row in session.execute(
        select(RoutingQueue.id, RoutingQueue.code, RoutingQueue.channels)
        .where(RoutingQueue.is_default.is_(True), RoutingQueue.active.is_(True))
        .order_by(RoutingQueue.id)
    ):
        if serves(row.channels):
            return QueueRef(row.id, row.code)
    return None


def _queue_by_code(session: Session, code: str) -> RoutingQueue:
    queue = session.execute(select(RoutingQueue).where(RoutingQueue.code == code)).scalar_one_or_none()
    if queue is None:
        raise NotFound("대기열을 찾을 수 없습니다.", f"Queue {code!r} not found.", code="no_queue")
    return queue


# ---------------------------------------------------------------------------- conversations


def routing_priority(conversation: Conversation) -> int:
    """Topic priority plus the customer's tier bonus; lost/stolen cards and fraud above everything."""
    topic = conversation.topic
    return priority_of(
        topic.code if topic is not None else None,
        topic.priority if topic is not None else conversation.priority,
        conversation.customer.tier if conversation.customer is not None else None,
    )


def priority_of(topic_code: str | None, base: int, tier: str | None) -> int:
    """:func:`routing_priority` from its parts: the topic (or the conversation's own priority), the tier."""
    urgent = URGENT_BOOST if topic_code in URGENT_TOPICS else 0
    return urgent + base + TIER_BONUS.get(tier or "", 0)


_NEW_ENTRY = PreparedInsert(
    RoutingEntry.__table__,
    [
        "conversation_id",
        "queue_id",
        "channel",
        "priority",
        "enqueued_at",
        "state",
        "skipped",
        "escalated",
        "created_at",
        "updated_at",
    ],
)


def enqueue_new(
    session: Session, conversation_id: int, channel: str, topic_id: int | None, priority: int, at: datetime
) -> QueueRef:
    """:func:`enqueue` for a conversation created in this very transaction, already ``queued`` with its
    routing priority: no entry can exist yet and nobody else can see the conversation, so there is
    nothing to lock and the entry is one plain insert. Raises ``NotFound`` (``no_queue``) when no
    queue takes it."""
    queue = queue_for_topic(session, topic_id, channel)
    _NEW_ENTRY.execute(
        session.connection(),
        {
            "conversation_id": conversation_id,
            "queue_id": queue.id,
            "channel": channel,
            "priority": priority,
            "enqueued_at": at,
            "state": EntryState.WAITING.value,
            "skipped": {},
            "escalated": False,
            "created_at": at,
            "updated_at": at,
        },
    )
    _log(session, conversation_id, "queued", None, queue=queue.code, priority=priority)
    queue_event(
        session, _entry_event("queued", conversation_id, queue.id, EntryState.WAITING, None, priority, queue=queue.code)
    )
    return queue


def enqueue(
    session: Session, conversation: Conversation, now: datetime | None = None, queue_code: str | None = None
) -> RoutingEntry:
    """Put a conversation that needs a person in its queue; a conversation already routed stays put."""
    at = _now(now)
    existing = _lock_entry(session, conversation.id)
    if existing is not None:
        return existing
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
        raise Conflict("종료된 상담건은 대기열에 넣을 수 없습니다.", "The conversation is not open.")
    queue = _queue_by_code(session, queue_code) if queue_code else queue_for(session, conversation)
    priority = routing_priority(conversation)
    entry = RoutingEntry(
        conversation_id=conversation.id,
        queue_id=queue.id,
        channel=conversation.channel,
        priority=priority,
        enqueued_at=at,
        state=EntryState.WAITING,
        skipped={},
        created_at=at,
        updated_at=at,
    )
    if session.get_bind().dialect.name == "sqlite":
        session.add(entry)  # SQLite's write lock (BEGIN IMMEDIATE) already keeps other writers out
        session.flush()
    else:
        try:
            with session.begin_nested():  # another worker may enqueue the same conversation at once
                session.add(entry)
                session.flush()
        except IntegrityError:
            raced = _lock_entry(session, conversation.id)
            if raced is None:
                raise
            return raced
    conversation.priority = priority
    conversation.status = ConversationStatus.QUEUED
    conversation.assignee_id = None
    conversation.updated_at = at
    _log(session, conversation.id, "queued", None, queue=queue.code, priority=priority)
    queue_event(session, _routing_event("queued", entry, queue=queue.code))
    queue_event(session, _conversation_event(conversation))
    return entry


def dispatch(session: Session, now: datetime | None = None, per_queue: int = 200) -> list[RoutingOffer]:
    """Offer waiting conversations to eligible agents; returns the offers made.

    Considers, per queue and channel, the most urgent waiting conversations: as many as there are
    free agent slots in that channel plus :data:`LOOKAHEAD`, at most ``per_queue``. Expired
    offers are not handled here: call :func:`expire_offers` first.
    """
    at = _now(now)
    engine = RoutingEngine(skip_for_s=SKIP_FOR_S)
    free = _load_available_agents(session, engine)
    if not free:
        return []
    entries = _load_waiting(session, engine, free, per_queue)
    if not entries:
        return []
    made = [_record_offer(session, entries[d.conversation_id], d, at) for d in engine.dispatch(_ts(at))]
    session.flush()
    return made


def _load_available_agents(session: Session, engine: RoutingEngine) -> dict[str, int]:
    """Lock the available agents (skipping those another worker holds) and add them to ``engine``.

    Returns the free slots per channel. Their load can only grow under their lock (offers are made
    by whoever holds it), so counting it after locking never overfills an agent.
    """
    agent_rows = session.execute(
        select(Agent.id, Agent.rank, Agent.status_changed_at)
        .where(Agent.status == AgentStatus.AVAILABLE, Agent.active.is_(True))
        .order_by(Agent.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not agent_rows:
        return {}
    locked = {row.id for row in agent_rows}
    skills: dict[int, dict[int, int]] = {}
    for agent_id, skill_id, level in session.execute(
        select(AgentSkill.agent_id, AgentSkill.skill_id, AgentSkill.level)
        .join(Agent, Agent.id == AgentSkill.agent_id)
        .where(Agent.status == AgentStatus.AVAILABLE)
    ):
        if agent_id in locked:
            skills.setdefault(agent_id, {})[skill_id] = level
    capacity: dict[int, dict[str, int]] = {}
    for agent_id, channel, cap in session.execute(
        select(AgentChannelCapacity.agent_id, AgentChannelCapacity.channel, AgentChannelCapacity.capacity)
        .join(Agent, Agent.id == AgentChannelCapacity.agent_id)
        .where(Agent.status == AgentStatus.AVAILABLE)
    ):
        if agent_id in locked:
            capacity.setdefault(agent_id, {})[channel] = cap
    load: dict[int, dict[str, int]] = {}
    for agent_id, channel, count in session.execute(
        select(RoutingEntry.agent_id, RoutingEntry.channel, func.count())
        .where(
            RoutingEntry.state.in_([EntryState.OFFERED, EntryState.ASSIGNED]),
            RoutingEntry.agent_id.isnot(None),
        )
        .group_by(RoutingEntry.agent_id, RoutingEntry.channel)
    ):
        if agent_id in locked:
            load.setdefault(agent_id, {})[channel] = count
    free: dict[str, int] = {}
    for agent_id, caps in capacity.items():
        for channel, cap in caps.items():
            spare = cap - load.get(agent_id, {}).get(channel, 0)
            if spare > 0:
                free[channel] = free.get(channel, 0) + spare
    if not free:
        return {}
    idle: dict[int, datetime] = {
        row.agent_id: row.idle_since
        for row in session.execute(select(RoutingAgentState.agent_id, RoutingAgentState.idle_since))
    }
    ranks = {r.value for r in Rank}
    for row in agent_rows:
        engine.upsert_agent(
            AgentSpec(
                id=row.id,
                skills=skills.get(row.id, {}),
                capacity=capacity.get(row.id, {}),
                status=AgentStatus.AVAILABLE.value,
                idle_since=_ts(max(idle.get(row.id, row.status_changed_at), row.status_changed_at)),
                rank=row.rank if row.rank in ranks else Rank.AGENT.value,
                load=load.get(row.id, {}),
            )
        )
    return free


def _load_waiting(
    session: Session, engine: RoutingEngine, free: dict[str, int], per_queue: int
) -> dict[int, RoutingEntry]:
    """Add the active queues to ``engine`` and lock and enqueue the most urgent waiting entries."""
    queues = {q.id: q for q in session.execute(select(RoutingQueue).where(RoutingQueue.active.is_(True))).scalars()}
    for queue in queues.values():
        engine.add_queue(
            QueueSpec(
                code=queue.code,
                required_skills=queue.required_skill_ids,
                secondary_skills=queue.secondary_skill_ids,
                overflow_after_s=queue.overflow_after_s,
                offer_timeout_s=float(queue.offer_timeout_s),
                min_rank=queue.min_rank,
            )
        )
    lanes = session.execute(
        select(RoutingEntry.queue_id, RoutingEntry.channel)
        .where(RoutingEntry.state == EntryState.WAITING)
        .group_by(RoutingEntry.queue_id, RoutingEntry.channel)
    ).all()
    entries: dict[int, RoutingEntry] = {}
    for queue_id, channel in lanes:
        if queue_id not in queues or channel not in free:
            continue
        # The most urgent of the lane: a few more than the free slots, for those that skip an agent.
        limit = max(1, min(per_queue, free[channel] + LOOKAHEAD))
        for entry in session.execute(
            select(RoutingEntry)
            .where(
                RoutingEntry.queue_id == queue_id,
                RoutingEntry.channel == channel,
                RoutingEntry.state == EntryState.WAITING,
            )
            .order_by(RoutingEntry.priority.desc(), RoutingEntry.enqueued_at, RoutingEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars():
            entries[entry.conversation_id] = entry
    for entry in sorted(entries.values(), key=lambda e: (-e.priority, as_utc(e.enqueued_at), e.id)):
        skipped = {
            int(agent_id): (float("inf") if until is None else float(until))
            for agent_id, until in (entry.skipped or {}).items()
        }
        engine.enqueue(
            entry.conversation_id,
            queues[entry.queue_id].code,
            entry.channel,
            entry.priority,
            _ts(entry.enqueued_at),
            skipped,
        )
    return entries


def _record_offer(session: Session, entry: RoutingEntry, decision: Offer, at: datetime) -> RoutingOffer:
    expires = at + timedelta(seconds=decision.expires_at - decision.offered_at)
    offer = RoutingOffer(
        conversation_id=entry.conversation_id,
        queue_id=entry.queue_id,
        agent_id=decision.agent_id,
        offered_at=at,
        expires_at=expires,
        outcome=OfferOutcome.PENDING,
        level=decision.level,
        via_overflow=decision.via_overflow,
        waited_s=max(0.0, (at - as_utc(entry.enqueued_at)).total_seconds()),
    )
    session.add(offer)
    session.flush()
    entry.state = EntryState.OFFERED
    entry.agent_id = decision.agent_id
    entry.offer_id = offer.id
    entry.offered_at = at
    entry.offer_expires_at = expires
    entry.updated_at = at
    _touch_idle(session, decision.agent_id, at)
    queue_event(
        session,
        _routing_event(
            "offered",
            entry,
            offer_id=offer.id,
            queue=decision.queue,
            expires_at=expires.isoformat(),
            level=decision.level,
            via_overflow=decision.via_overflow,
        ),
    )
    return offer


def _offered_entry(session: Session, conversation_id: int, agent_id: int) -> RoutingEntry:
    entry = _lock_entry(session, conversation_id)
    if entry is None or entry.state != EntryState.OFFERED or entry.agent_id != agent_id:
        raise Conflict(
            "이 상담 연결 요청은 더 이상 유효하지 않습니다.",
            "This offer is no longer open.",
            code="offer_gone",
        )
    return entry


def accept_offer(session: Session, conversation_id: int, agent_id: int, now: datetime | None = None) -> RoutingEntry:
    """The agent takes the offered conversation: it is assigned to them."""
    at = _now(now)
    entry = _offered_entry(session, conversation_id, agent_id)
    if entry.offer_expires_at is not None and at > as_utc(entry.offer_expires_at):
        raise Conflict("연결 요청 시간이 지났습니다.", "The offer has expired.", code="offer_expired")
    _close_offer(session, entry, OfferOutcome.ACCEPTED, at)
    entry.state = EntryState.ASSIGNED
    entry.assigned_at = at
    entry.offer_expires_at = None
    entry.updated_at = at
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    previous = conversation.assignee_id
    conversation.assignee_id = agent_id
    if conversation.status in (ConversationStatus.QUEUED, ConversationStatus.BOT):
        conversation.status = ConversationStatus.ASSIGNED
    conversation.updated_at = at
    _log(session, conversation_id, "assigned", agent_id, agent_id=agent_id, reason="routing")
    record(
        session,
        Actor("agent", agent_id),
        "conversation.assigned",
        "conversation",
        conversation_id,
        customer_id=conversation.customer_id,
        from_agent_id=previous,
        to_agent_id=agent_id,
    )
    queue_event(session, _routing_event("assigned", entry))
    queue_event(session, _conversation_event(conversation, previous_assignee_id=previous))
    return entry


def reject_offer(session: Session, conversation_id: int, agent_id: int, now: datetime | None = None) -> RoutingEntry:
    """The agent declines: the conversation goes back to its place; they are skipped for it a while."""
    at = _now(now)
    entry = _offered_entry(session, conversation_id, agent_id)
    _close_offer(session, entry, OfferOutcome.REJECTED, at)
    _back_to_waiting(entry, at, skip_agent=agent_id)
    queue_event(session, _routing_event("offer_rejected", entry, by_agent_id=agent_id))
    return entry


def expire_offers(session: Session, now: datetime | None = None) -> list[int]:
    """Offers not answered in time go to the next agent: their conversations return to their place."""
    at = _now(now)
    entries = session.execute(
        select(RoutingEntry)
        .where(RoutingEntry.state == EntryState.OFFERED, RoutingEntry.offer_expires_at <= at)
        .order_by(RoutingEntry.id)
        .with_for_update(skip_locked=True)
    ).scalars()
    returned: list[int] = []
    for entry in entries:
        agent_id = entry.agent_id
        _close_offer(session, entry, OfferOutcome.EXPIRED, at)
        _back_to_waiting(entry, at, skip_agent=agent_id)
        returned.append(entry.conversation_id)
        queue_event(session, _routing_event("offer_expired", entry, by_agent_id=agent_id))
    return returned


def set_agent_status(
    session: Session, agent_id: int, status: str, now: datetime | None = None, actor: Actor | None = None
) -> list[int]:
    """상담가능 / 후처리 / 휴식 / 오프라인. Returns the conversations put back in their queue.

    Leaving ``available`` withdraws the agent's pending offers; going ``offline`` also returns the
    conversations assigned to them, each to its original place.
    """
    try:
        target = AgentStatus(status)
    except ValueError as exc:
        raise InputError("status", "알 수 없는 상태입니다.", f"Unknown status {status!r}.") from exc
    at = _now(now)
    agent = session.execute(select(Agent).where(Agent.id == agent_id).with_for_update(of=Agent)).scalar_one_or_none()
    if agent is None:
        raise NotFound("상담원을 찾을 수 없습니다.", "Agent not found.")
    if target == AgentStatus.AVAILABLE and not agent.active:
        raise Conflict("비활성화된 상담원입니다.", "The agent is inactive.")
    previous = agent.status
    if previous == target:
        return []
    agent.status = target.value
    agent.status_changed_at = at
    if target == AgentStatus.AVAILABLE:
        _touch_idle(session, agent_id, at)
    returned: list[int] = []
    if target != AgentStatus.AVAILABLE:
        states = [EntryState.OFFERED] + ([EntryState.ASSIGNED] if target == AgentStatus.OFFLINE else [])
        entries = session.execute(
            select(RoutingEntry)
            .where(RoutingEntry.agent_id == agent_id, RoutingEntry.state.in_(states))
            .order_by(RoutingEntry.id)
            .with_for_update()
        ).scalars()
        for entry in entries:
            was = entry.state
            _close_offer(session, entry, OfferOutcome.WITHDRAWN, at)
            _back_to_waiting(entry, at)
            returned.append(entry.conversation_id)
            queue_event(session, _routing_event("requeued", entry, from_agent_id=agent_id, reason=target.value))
            if was == EntryState.ASSIGNED:
                conversation = session.get(Conversation, entry.conversation_id)
                if conversation is not None and conversation.assignee_id == agent_id:
                    conversation.assignee_id = None
                    if conversation.status == ConversationStatus.ASSIGNED:
                        conversation.status = ConversationStatus.QUEUED
                    conversation.updated_at = at
                    _log(session, conversation.id, "unassigned", agent_id, reason="agent_offline")
                    queue_event(session, _conversation_event(conversation, previous_assignee_id=agent_id))
    record(session, actor or Actor("agent", agent_id), "agent.status", "agent", agent_id, status=target.value)
    queue_event(
        session,
        Event(
            "agent.status",
            {"agent_id": agent_id, "status": target.value, "previous": previous, "requeued": returned},
        ),
    )
    return returned


def agent_went_offline(session: Session, agent_id: int, now: datetime | None = None) -> list[int]:
    """The agent's console disconnected for good (or they logged out): status offline, work requeued."""
    return set_agent_status(session, agent_id, AgentStatus.OFFLINE, now, actor=Actor.system())


def release(session: Session, conversation_id: int, now: datetime | None = None) -> bool:
    """The conversation no longer needs routing (resolved, closed, abandoned): free its agent's slot."""
    at = _now(now)
    # Lock order everywhere: the agent, then their entries (as set_agent_status and dispatch do).
    holder = session.execute(
        select(RoutingEntry.agent_id).where(RoutingEntry.conversation_id == conversation_id)
    ).scalar_one_or_none()
    if holder is not None:
        session.execute(select(Agent.id).where(Agent.id == holder).with_for_update())
    entry = _lock_entry(session, conversation_id)
    if entry is None:
        return False
    agent_id = entry.agent_id
    if entry.state == EntryState.OFFERED:
        _close_offer(session, entry, OfferOutcome.WITHDRAWN, at)
    elif entry.state == EntryState.ASSIGNED and agent_id is not None and agent_id == holder:
        _touch_idle(session, agent_id, at)
    queue_event(session, _routing_event("released", entry, previous_state=entry.state, from_agent_id=agent_id))
    session.delete(entry)
    session.flush()
    return True


def escalate_to_supervisor(
    session: Session,
    conversation: Conversation,
    by: Agent | None,
    now: datetime | None = None,
    reason: str = "",
) -> RoutingEntry:
    """상급자 연결: the conversation moves to the supervisor queue with its whole history.

    ``by`` is the agent asking, or ``None`` when the customer asks. The asking agent's slot is
    freed and they are never offered it back from the supervisor queue.
    """
    at = _now(now)
    supervisor = session.execute(
        select(RoutingQueue)
        .where(RoutingQueue.is_supervisor_queue.is_(True), RoutingQueue.active.is_(True))
        .order_by(RoutingQueue.id)
    ).scalars()
    queue = next((q for q in supervisor if q.serves(conversation.channel)), None)
    if queue is None:
        raise NotFound("상급자 연결 대기열이 없습니다.", "No supervisor queue.", code="no_queue")
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("종료된 상담건입니다.", "The conversation is closed.")
    entry = _lock_entry(session, conversation.id)
    from_queue_id = entry.queue_id if entry is not None else None
    if entry is not None and entry.queue_id == queue.id and entry.escalated:
        return entry
    if entry is None:
        entry = RoutingEntry(
            conversation_id=conversation.id,
            channel=conversation.channel,
            priority=routing_priority(conversation),
            created_at=at,
        )
        session.add(entry)
    else:
        _close_offer(session, entry, OfferOutcome.WITHDRAWN, at)
    previous_agent = entry.agent_id or conversation.assignee_id
    by_id = by.id if by is not None else None
    _back_to_waiting(entry, at)
    entry.queue_id = queue.id
    entry.enqueued_at = at
    entry.escalated = True
    entry.escalated_by_agent_id = by_id
    entry.skipped = {str(by_id): None} if by_id is not None else {}
    conversation.assignee_id = None
    conversation.status = ConversationStatus.QUEUED
    conversation.updated_at = at
    session.flush()
    _log(
        session,
        conversation.id,
        "escalated",
        by_id,
        by="agent" if by is not None else "customer",
        from_queue_id=from_queue_id,
        from_agent_id=previous_agent,
        reason=reason,
    )
    record(
        session,
        Actor("agent", by_id) if by_id is not None else Actor.customer(conversation.customer_id),
        "conversation.escalated",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        from_agent_id=previous_agent,
    )
    queue_event(
        session,
        _routing_event("escalated", entry, queue=queue.code, from_agent_id=previous_agent, by_agent_id=by_id),
    )
    queue_event(session, _conversation_event(conversation, previous_assignee_id=previous_agent))
    return entry
