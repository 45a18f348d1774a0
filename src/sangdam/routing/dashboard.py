"""Reads behind the supervisor page and the queue-status API: queues now, agents now, today's service,
the staffing outlook and the best time to contact.

Contact history comes from the routing tables. A *contact* is one stay of a conversation in a queue:
its offers share the original ``enqueued_at`` (``offered_at − waited_s``), which is also the arrival
time. It was answered when one of its offers was accepted, after ``waited_s`` plus the time the
agent took to accept; its handle time runs from acceptance to the conversation's resolution (when
that took at most :data:`HANDLE_CAP_S`: longer ones are written cases, not live contacts). Contacts
still waiting come from ``routing_entries``. A conversation that left its queue before any offer
(hung up at once) leaves no trace here and is not counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.errors import InputError, NotFound
from sangdam.models import Agent, Conversation
from sangdam.models.base import AgentStatus, Channel
from sangdam.models.routing import EntryState, OfferOutcome, RoutingEntry, RoutingOffer, RoutingQueue
from sangdam.routing.engine import RANK_ORDER
from sangdam.routing.estimates import (
    ContactRecord,
    ContactWindow,
    HandleTimeModel,
    IntervalForecast,
    WaitEstimate,
    WaitMonitor,
    best_time_to_contact,
    forecast_volumes,
    staffing_outlook,
)
from sangdam.routing.hours import WEEKDAYS_KO, Calendar, OpenStatus, load_calendar
from sangdam.routing.staffing import ServiceTarget, StaffingPlan

SERVICE_TARGET = ServiceTarget(0.8, 20.0)  # 80 % answered within 20 s
HISTORY_DAYS = 28  # the forecast and the best time to contact look back four weeks
OUTLOOK_HOURS = 8
OUTLOOK_INTERVAL_S = 1800
DEFAULT_AHT_S = 300.0
HANDLE_CAP_S = 7200.0
STAFFED = (AgentStatus.AVAILABLE.value, AgentStatus.AFTER_CALL.value)
STATUS_ORDER = tuple(s.value for s in AgentStatus)  # 상담가능, 후처리, 휴식, 오프라인


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """A past or current contact of a queue; ``live`` while it is still waiting."""

    queue: str
    record: ContactRecord
    live: bool = False


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """How a day went: answered within the target, average wait of the answered."""

    contacts: int
    answered: int
    answered_in_target: int
    missed: int  # not answered and already past the target (still waiting, or gone)
    service_level: float | None  # answered in target / (answered + missed); None without contacts
    average_wait_s: float | None
    longest_wait_s: float | None


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    code: str
    name: str
    status: OpenStatus
    waiting: int
    offered: int
    assigned: int
    oldest_wait_s: float | None
    staffed_slots: int
    estimate: WaitEstimate | None  # for a newcomer; None while the line is closed
    today: ServiceStats

    @property
    def is_open(self) -> bool:
        return self.status.is_open


@dataclass(frozen=True, slots=True)
class ChannelLoad:
    channel: str
    used: int
    capacity: int


@dataclass(frozen=True, slots=True)
class AgentBoardRow:
    id: int
    name: str
    rank: str
    role: str
    team: str | None
    status: str
    status_since: datetime
    assigned: int
    offered: int
    load: tuple[ChannelLoad, ...]


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Average wait by weekday (rows, Monday first) and hour (columns), Seoul time."""

    hours: tuple[int, ...]
    rows: tuple[tuple[str, tuple[ContactWindow | None, ...]], ...]
    max_wait_s: float


@dataclass(frozen=True, slots=True)
class SupervisorOverview:
    at: datetime
    target: ServiceTarget
    queues: list[QueueSnapshot]
    agents: list[AgentBoardRow]
    status_counts: dict[str, int]
    today: ServiceStats
    outlook: list[tuple[IntervalForecast, StaffingPlan]]
    outlook_queue: str | None
    best: list[ContactWindow]
    heatmap: Heatmap
    history_days: int


def seoul_day_start(at: datetime) -> datetime:
    """The UTC instant at which ``at``'s Seoul calendar day began."""
    local = at.astimezone(SEOUL)
    return as_utc(datetime.combine(local.date(), time(0), tzinfo=SEOUL))


# ---------------------------------------------------------------------------- history


def contact_history(session: Session, since: datetime, until: datetime, at: datetime) -> list[QueuedRecord]:
    """Contacts that arrived in ``[since, until)``, by queue, oldest first (see the module's notes)."""
    since, until, at = as_utc(since), as_utc(until), as_utc(at)
    codes: dict[int, str] = {qid: code for qid, code in session.execute(select(RoutingQueue.id, RoutingQueue.code))}
    live: dict[tuple[int, int], QueuedRecord] = {}
    for conversation_id, queue_id, enqueued_at, _state in session.execute(
        select(RoutingEntry.conversation_id, RoutingEntry.queue_id, RoutingEntry.enqueued_at, RoutingEntry.state).where(
            RoutingEntry.state.in_((EntryState.WAITING, EntryState.OFFERED))
        )
    ):
        arrived = as_utc(enqueued_at)
        wait = max(0.0, (at - arrived).total_seconds())
        record = ContactRecord(arrived, wait, answered=False)
        live[(conversation_id, _key(arrived))] = QueuedRecord(codes.get(queue_id, ""), record, live=True)

    groups: dict[tuple[int, int], list[_Offer]] = defaultdict(list)
    rows = session.execute(
        select(
            RoutingOffer.conversation_id,
            RoutingOffer.queue_id,
            RoutingOffer.offered_at,
            RoutingOffer.expires_at,
            RoutingOffer.responded_at,
            RoutingOffer.outcome,
            RoutingOffer.waited_s,
            Conversation.resolved_at,
        )
        .join(Conversation, Conversation.id == RoutingOffer.conversation_id)
        .where(RoutingOffer.offered_at >= since, RoutingOffer.offered_at < until + timedelta(hours=1))
        .order_by(RoutingOffer.offered_at, RoutingOffer.id)
    )
    for conversation_id, queue_id, offered_at, expires_at, responded_at, outcome, waited_s, resolved_at in rows:
        offer = _Offer(
            queue=codes.get(queue_id, ""),
            arrived=as_utc(offered_at) - timedelta(seconds=waited_s or 0.0),
            offered=as_utc(offered_at),
            expires=as_utc(expires_at),
            responded=as_utc(responded_at) if responded_at else None,
            outcome=outcome,
            waited_s=waited_s or 0.0,
            resolved=as_utc(resolved_at) if resolved_at else None,
        )
        groups[(conversation_id, _key(offer.arrived))].append(offer)

    out: list[QueuedRecord] = []
    for key, offers in groups.items():
        first = offers[0]
        if not since <= first.arrived < until:
            continue
        accepted = next((o for o in offers if o.outcome == OfferOutcome.ACCEPTED.value), None)
        if accepted is not None:
            answered_at = accepted.responded or accepted.offered
            wait = accepted.waited_s + max(0.0, (answered_at - accepted.offered).total_seconds())
            handle = (accepted.resolved - answered_at).total_seconds() if accepted.resolved is not None else None
            if handle is not None and not 0 < handle <= HANDLE_CAP_S:
                handle = None
            out.append(QueuedRecord(first.queue, ContactRecord(first.arrived, wait, True, handle)))
        elif key in live:
            continue  # still waiting: the live entry speaks for it
        else:
            last = offers[-1]
            gone = min(last.responded or last.expires, at)
            wait = max(0.0, (gone - first.arrived).total_seconds())
            out.append(QueuedRecord(first.queue, ContactRecord(first.arrived, wait, answered=False)))
    out.extend(r for r in live.values() if since <= r.record.arrived_at < until)
    out.sort(key=lambda r: r.record.arrived_at)
    return out


@dataclass(frozen=True, slots=True)
class _Offer:
    queue: str
    arrived: datetime  # the contact's enqueue time: offered − waited
    offered: datetime
    expires: datetime
    responded: datetime | None
    outcome: str
    waited_s: float
    resolved: datetime | None  # the conversation's resolution


def _key(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def service_stats(records: Sequence[QueuedRecord], target: ServiceTarget = SERVICE_TARGET) -> ServiceStats:
    answered = [r.record.wait_s for r in records if r.record.answered]
    in_target = sum(1 for w in answered if w <= target.seconds)
    missed = sum(1 for r in records if not r.record.answered and r.record.wait_s > target.seconds)
    counted = len(answered) + missed
    waits = [r.record.wait_s for r in records]
    return ServiceStats(
        contacts=len(records),
        answered=len(answered),
        answered_in_target=in_target,
        missed=missed,
        service_level=in_target / counted if counted else None,
        average_wait_s=sum(answered) / len(answered) if answered else None,
        longest_wait_s=max(waits) if waits else None,
    )


# ---------------------------------------------------------------------------- queues now


def staffed_slots(queue: RoutingQueue, agents: Sequence[Agent], channel: str | None = None) -> int:
    """Handling slots of the agents on shift (상담가능 or 후처리) who may take the queue's contacts:
    their capacity in ``channel``, or one each when no channel is named."""
    if channel is not None and not queue.serves(channel):
        return 0
    need = queue.required_skill_ids
    min_rank = RANK_ORDER.get(queue.min_rank, 0)
    return sum(
        (agent.capacity_for(channel) if channel else 1)
        for agent in agents
        if agent.active
        and agent.status in STAFFED
        and need <= agent.skill_ids
        and RANK_ORDER.get(agent.rank, 0) >= min_rank
    )


def newcomer_wait(records: Sequence[QueuedRecord], at: datetime, slots: int, waiting: int) -> WaitEstimate:
    """What someone joining the queue now can expect.

    The queue's contacts (today's) are replayed into a :class:`WaitMonitor`; its Erlang C estimate
    (live arrival rate, learnt handle time, staffed slots, blended with recent waits) is used, or
    the wait for the place behind everyone already waiting when that is longer. Nobody on shift:
    the wait cannot be estimated (infinite).
    """
    if slots <= 0:
        return WaitEstimate(math.inf, None, "unstaffed")
    monitor = WaitMonitor(HandleTimeModel(mean_s=DEFAULT_AHT_S))
    events: list[tuple[float, int, QueuedRecord]] = []
    for item in records:
        start = item.record.arrived_at.timestamp()
        events.append((start, 0, item))
        if item.record.answered:
            events.append((start + item.record.wait_s, 1, item))
        elif not item.live:
            events.append((start + item.record.wait_s, 2, item))
    now_ts = as_utc(at).timestamp()
    for ts, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
        if ts > now_ts:
            continue
        if kind == 0:
            monitor.joined(ts)
        elif kind == 1:
            monitor.answered(ts, item.record.wait_s)
            if item.record.handle_s:
                monitor.handled(item.record.handle_s)
        else:
            monitor.abandoned(ts)
    estimate = monitor.newcomer_estimate(now_ts, slots)
    if waiting > 0:
        behind = monitor.estimate(waiting, now_ts, slots)
        if not math.isfinite(estimate.seconds) or behind.seconds > estimate.seconds:
            estimate = WaitEstimate(behind.seconds, None, behind.method)
    return estimate


def _entry_counts(session: Session, at: datetime) -> tuple[dict[tuple[int, str], int], dict[int, float]]:
    counts: dict[tuple[int, str], int] = defaultdict(int)
    oldest: dict[int, float] = {}
    for queue_id, state, enqueued_at in session.execute(
        select(RoutingEntry.queue_id, RoutingEntry.state, RoutingEntry.enqueued_at)
    ):
        counts[(queue_id, str(state))] += 1
        if state != EntryState.ASSIGNED.value:
            waited = max(0.0, (at - as_utc(enqueued_at)).total_seconds())
            oldest[queue_id] = max(oldest.get(queue_id, 0.0), waited)
    return counts, oldest


def _snapshots(
    session: Session,
    queues: Sequence[RoutingQueue],
    calendar: Calendar,
    at: datetime,
    today: Sequence[QueuedRecord],
    channel: str | None = None,
) -> list[QueueSnapshot]:
    counts, oldest = _entry_counts(session, at)
    agents = list(session.execute(select(Agent).where(Agent.active.is_(True))).scalars())
    by_queue: dict[str, list[QueuedRecord]] = defaultdict(list)
    for item in today:
        by_queue[item.queue].append(item)
    out = []
    for queue in queues:
        status = calendar.status(at, queue.code, channel)
        waiting = counts.get((queue.id, EntryState.WAITING.value), 0)
        slots = staffed_slots(queue, agents, channel)
        estimate = newcomer_wait(by_queue[queue.code], at, slots, waiting) if status.is_open else None
        out.append(
            QueueSnapshot(
                code=queue.code,
                name=queue.name,
                status=status,
                waiting=waiting,
                offered=counts.get((queue.id, EntryState.OFFERED.value), 0),
                assigned=counts.get((queue.id, EntryState.ASSIGNED.value), 0),
                oldest_wait_s=oldest.get(queue.id),
                staffed_slots=slots,
                estimate=estimate,
                today=service_stats(by_queue[queue.code]),
            )
        )
    return out


def queue_status(session: Session, code: str, at: datetime, channel: str | None = None) -> QueueSnapshot:
    """One queue now: open or not (next opening), waiting, estimated wait for a newcomer."""
    if channel is not None and channel not in {c.value for c in Channel}:
        raise InputError("channel", f"알 수 없는 채널입니다: {channel}", f"Unknown channel {channel!r}.")
    queue = session.execute(select(RoutingQueue).where(RoutingQueue.code == code)).scalar_one_or_none()
    if queue is None:
        raise NotFound("대기열을 찾을 수 없습니다.", f"Queue {code!r} not found.", code="no_queue")
    at = as_utc(at)
    calendar = load_calendar(session, at.astimezone(SEOUL).date())
    today = [r for r in contact_history(session, seoul_day_start(at), at + timedelta(seconds=1), at) if r.queue == code]
    return _snapshots(session, [queue], calendar, at, today, channel)[0]


# ---------------------------------------------------------------------------- agents now


def agent_board(session: Session) -> list[AgentBoardRow]:
    """Active agents by status (상담가능, 후처리, 휴식, 오프라인), then name, with their load."""
    load: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    offered: dict[int, int] = defaultdict(int)
    for agent_id, state, channel in session.execute(
        select(RoutingEntry.agent_id, RoutingEntry.state, RoutingEntry.channel).where(
            RoutingEntry.agent_id.is_not(None)
        )
    ):
        if agent_id is None:
            continue
        if state == EntryState.ASSIGNED:
            load[agent_id][channel] += 1
        elif state == EntryState.OFFERED:
            offered[agent_id] += 1
    rows = []
    for agent in session.execute(select(Agent).where(Agent.active.is_(True))).unique().scalars():
        used = load.get(agent.id, {})
        channels = sorted({c.channel for c in agent.capacities if c.capacity > 0} | set(used))
        rows.append(
            AgentBoardRow(
                id=agent.id,
                name=agent.name,
                rank=agent.rank,
                role=agent.role,
                team=agent.team.name if agent.team else None,
                status=agent.status,
                status_since=as_utc(agent.status_changed_at),
                assigned=sum(used.values()),
                offered=offered.get(agent.id, 0),
                load=tuple(ChannelLoad(c, used.get(c, 0), agent.capacity_for(c)) for c in channels),
            )
        )
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    rows.sort(key=lambda r: (order.get(r.status, len(order)), -r.assigned, r.name))
    return rows


# ---------------------------------------------------------------------------- outlook and best time


def outlook(
    history: Sequence[QueuedRecord],
    calendar: Calendar,
    at: datetime,
    queue: str | None = None,
    queue_codes: Sequence[str] = (),
    hours: int = OUTLOOK_HOURS,
    target: ServiceTarget = SERVICE_TARGET,
) -> list[tuple[IntervalForecast, StaffingPlan]]:
    """Forecast volumes for the next ``hours`` (half-hours, the same weekday and time over the
    history's weeks) and the agents each interval needs for ``target`` (Erlang C).

    One queue: its contacts, none while its line is closed. The whole center (pooled: agents take
    any queue): each interval counts the contacts of the queues in ``queue_codes`` open then — all
    of them by day; at night, on holidays and closures only the lines still open (the lost-card line).
    """
    if queue is not None:
        records = [r.record for r in history if r.queue == queue]
        forecast = forecast_volumes(
            records, at, hours, OUTLOOK_INTERVAL_S, DEFAULT_AHT_S, calendar=calendar, queue=queue
        )
        return staffing_outlook(forecast, target)
    seen = {r.queue for r in history} & set(queue_codes)
    every = forecast_volumes([r.record for r in history], at, hours, OUTLOOK_INTERVAL_S, DEFAULT_AHT_S)
    by_open_set: dict[frozenset[str], list[IntervalForecast]] = {frozenset(seen): every}
    forecast = []
    for i, interval in enumerate(every):
        open_now = frozenset(code for code in seen if calendar.is_open(interval.start, code))
        if not open_now:
            forecast.append(replace(interval, calls=0.0))
            continue
        if open_now not in by_open_set:
            subset = [r.record for r in history if r.queue in open_now]
            by_open_set[open_now] = forecast_volumes(subset, at, hours, OUTLOOK_INTERVAL_S, DEFAULT_AHT_S)
        forecast.append(by_open_set[open_now][i])
    return staffing_outlook(forecast, target)


def heatmap(history: Sequence[QueuedRecord]) -> Heatmap:
    """Every weekday-hour with contacts in the history, as a weekday × hour grid."""
    windows = best_time_to_contact((r.record for r in history), min_contacts=1, top=7 * 24)
    cells = {(w.weekday, w.hour): w for w in windows}
    seen = sorted({w.hour for w in windows})
    hours = tuple(range(min([*seen, 9]), max([*seen, 17]) + 1))
    rows = tuple(
        (WEEKDAYS_KO[day], tuple(cells.get((day, hour)) for hour in hours))
        for day in range(7)
        if any((day, hour) in cells for hour in hours) or day < 5
    )
    return Heatmap(hours, rows, max((w.avg_wait_s for w in windows), default=0.0))


def supervisor_overview(session: Session, at: datetime, queue: str | None = None) -> SupervisorOverview:
    """Everything the supervisor page shows, read in one transaction."""
    at = as_utc(at)
    queues = list(
        session.execute(select(RoutingQueue).where(RoutingQueue.active.is_(True)).order_by(RoutingQueue.id)).scalars()
    )
    codes = [q.code for q in queues]
    if queue is not None and queue not in codes:
        raise NotFound("대기열을 찾을 수 없습니다.", f"Queue {queue!r} not found.", code="no_queue")
    calendar = load_calendar(session, at.astimezone(SEOUL).date())
    day_start = seoul_day_start(at)
    records = contact_history(session, day_start - timedelta(days=HISTORY_DAYS), at + timedelta(seconds=1), at)
    past = [r for r in records if r.record.arrived_at < day_start]
    today = [r for r in records if r.record.arrived_at >= day_start]
    agents = agent_board(session)
    counts = {s: 0 for s in STATUS_ORDER}
    for row in agents:
        counts[row.status] = counts.get(row.status, 0) + 1
    return SupervisorOverview(
        at=at,
        target=SERVICE_TARGET,
        queues=_snapshots(session, queues, calendar, at, today),
        agents=agents,
        status_counts=counts,
        today=service_stats(today),
        outlook=outlook(past, calendar, at, queue, codes),
        outlook_queue=queue,
        best=best_time_to_contact(r.record for r in past),
        heatmap=heatmap(past),
        history_days=HISTORY_DAYS,
    )
