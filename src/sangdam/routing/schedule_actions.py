"""Every change to business hours, closures (임시 휴무) and the portal's callback bookings (콜백 예약).

Validated input in, one transaction (the caller's ``Database.transaction()`` block), an audit row in
the same transaction, events queued to go out after commit. The pages (``routing/views.py``) and
the JSON routes (``routing/schedule_api.py``) both call these.

With no ``business_hours`` rows the built-in hours apply (:func:`sangdam.routing.hours.default_hours`:
weekdays 09:00–18:00 Asia/Seoul, the lost-card line 24/7), so the demo needs no seeding.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from sangdam.core import clock
from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.db import queue_event
from sangdam.core.errors import InputError, NotFound
from sangdam.core.events import Event
from sangdam.customers.actions import find_or_create_customer
from sangdam.models import Topic
from sangdam.models.base import Channel
from sangdam.models.routing import RoutingQueue
from sangdam.models.schedule import BusinessHoursRule, CallbackRequest
from sangdam.models.schedule import Closure as ClosureRow
from sangdam.privacy.audit import Actor, record
from sangdam.routing.callbacks import normalize_korean_phone, request_callback

MAX_CLOSURE_DAYS = 366
MAX_PERIODS_PER_DAY = 4
WHOLE_DAY = time(0)
_CLOCK = re.compile(r"^\s*(\d{1,2})\s*:?\s*(\d{2})\s*$")
_RANGE_SPLIT = re.compile(r"\s*[-~–—]\s*")


# ---------------------------------------------------------------------------- inputs


class PeriodIn(BaseModel):
    """One opening period, Seoul time: ``"09:00"`` to ``"18:00"``; ``"24:00"`` closes at midnight.

    A ``closes`` not after ``opens`` runs past midnight (``"22:00"``–``"02:00"``); ``"00:00"``–``"24:00"``
    is the whole day.
    """

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    opens: str = Field(max_length=5, examples=["09:00"])
    closes: str = Field(max_length=5, examples=["18:00"])


class BusinessHoursSet(BaseModel):
    """The weekly hours of one scope: a queue and/or a channel, or (neither) the whole center."""

    model_config = ConfigDict(extra="forbid")

    queue: str | None = Field(default=None, max_length=64, description="queue code; none: every queue")
    channel: str | None = Field(default=None, max_length=16, description="channel; none: every channel")
    periods: list[PeriodIn] = Field(default_factory=list, max_length=7 * MAX_PERIODS_PER_DAY)
    observe_holidays: bool = Field(default=True, description="closed on Korean public holidays")
    always_open: bool = Field(default=False, description="24/7, every day of the year (periods ignored)")


class ClosureCreate(BaseModel):
    """A closure (임시 휴무) from ``first_day`` to ``last_day`` inclusive (Seoul dates)."""

    model_config = ConfigDict(extra="forbid")

    first_day: date
    last_day: date
    reason: str = Field(max_length=200, description="shown to customers, e.g. 창립기념일")
    queue: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)


class CallbackBooking(BaseModel):
    """The portal's callback form (콜백 예약)."""

    name: str = Field(max_length=200)
    phone: str = Field(max_length=64)
    topic: str = Field(max_length=64, description="topic code")
    consent: bool
    language: str = Field(default="ko", pattern="^(ko|en)$")


# ---------------------------------------------------------------------------- parsing


def parse_clock(text: str, field: str = "hours", *, closing: bool = False) -> time:
    """``"9:00"``, ``"09:00"`` or ``"0900"`` → ``time(9)``; ``"24:00"`` (closing only) → midnight."""
    match = _CLOCK.match(text or "")
    if match is None:
        raise InputError(field, f"시각은 09:00처럼 입력해 주세요: {text!r}", f"Times look like 09:00, not {text!r}.")
    hour, minute = int(match.group(1)), int(match.group(2))
    if closing and hour == 24 and minute == 0:
        return WHOLE_DAY
    if hour > 23 or minute > 59:
        raise InputError(field, f"올바르지 않은 시각입니다: {text}", f"{text!r} is not a time of day.")
    return time(hour, minute)


def format_clock(value: time, *, closing: bool = False) -> str:
    return "24:00" if closing and value == WHOLE_DAY else f"{value:%H:%M}"


def parse_day(weekday: int, text: str) -> list[PeriodIn]:
    """A form's line for one weekday: ``"09:00-12:00, 13:00-18:00"``; empty (or 휴무) is closed."""
    text = (text or "").strip()
    if not text or text in ("휴무", "-", "closed"):
        return []
    periods = []
    for part in re.split(r"\s*[,;]\s*", text):
        if not part:
            continue
        bounds = _RANGE_SPLIT.split(part.strip())
        if len(bounds) != 2:
            raise InputError(
                "periods",
                f"상담 시간은 09:00-18:00처럼 입력해 주세요: {part!r}",
                f"Periods look like 09:00-18:00, not {part!r}.",
            )
        opens = parse_clock(bounds[0], "periods")
        closes = parse_clock(bounds[1], "periods", closing=True)
        periods.append(PeriodIn(weekday=weekday, opens=format_clock(opens), closes=format_clock(closes, closing=True)))
    return periods


def _periods(data: BusinessHoursSet) -> list[tuple[int, time, time]]:
    """Checked ``(weekday, opens, closes)``: no empty period, no overlap (across midnight too)."""
    if data.always_open:
        return [(d, WHOLE_DAY, WHOLE_DAY) for d in range(7)]
    if not data.periods:
        raise InputError(
            "periods",
            "상담 시간을 한 요일 이상 입력해 주세요. 기본 상담 시간으로 되돌리려면 '기본값으로'를 사용하세요.",
            "Give at least one opening period; reset the scope to go back to the built-in hours.",
        )
    out = []
    per_day: dict[int, int] = {}
    for p in data.periods:
        opens = parse_clock(p.opens, "periods")
        closes = parse_clock(p.closes, "periods", closing=True)
        if opens == closes and opens != WHOLE_DAY:
            raise InputError(
                "periods",
                "시작과 종료 시각이 같습니다. 하루 종일은 00:00-24:00으로 입력해 주세요.",
                "A period opens and closes at the same time; use 00:00-24:00 for the whole day.",
            )
        per_day[p.weekday] = per_day.get(p.weekday, 0) + 1
        if per_day[p.weekday] > MAX_PERIODS_PER_DAY:
            raise InputError(
                "periods",
                f"한 요일에 상담 시간은 {MAX_PERIODS_PER_DAY}개까지 입력할 수 있습니다.",
                f"At most {MAX_PERIODS_PER_DAY} periods a day.",
            )
        out.append((p.weekday, opens, closes))
    week = 7 * 1440
    spans = []
    for weekday, opens, closes in out:
        start = weekday * 1440 + opens.hour * 60 + opens.minute
        end = weekday * 1440 + closes.hour * 60 + closes.minute
        if end <= start:
            end += 1440
        spans.append((start, end, weekday))
    spans.sort()
    wrapped = [(s + week, e + week, d) for s, e, d in spans[:1]]
    for (_, end, day), (start, _, _) in zip(spans, spans[1:] + wrapped, strict=False):
        if start < end:
            raise InputError(
                "periods",
                f"{'월화수목금토일'[day]}요일 상담 시간이 다른 시간과 겹칩니다.",
                "Two opening periods overlap.",
            )
    return sorted(out)


def _check_scope(session: Session, queue: str | None, channel: str | None) -> tuple[str | None, str | None]:
    queue = (queue or "").strip() or None
    channel = (channel or "").strip() or None
    if queue is not None and session.execute(select(RoutingQueue.id).where(RoutingQueue.code == queue)).first() is None:
        raise InputError("queue", f"알 수 없는 대기열입니다: {queue}", f"Unknown queue {queue!r}.")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise InputError("channel", f"알 수 없는 채널입니다: {channel}", f"Unknown channel {channel!r}.")
    return queue, channel


def _scope_filter(queue: str | None, channel: str | None) -> list[ColumnElement[bool]]:
    return [
        BusinessHoursRule.queue.is_(None) if queue is None else BusinessHoursRule.queue == queue,
        BusinessHoursRule.channel.is_(None) if channel is None else BusinessHoursRule.channel == channel,
    ]


def _schedule_event(what: str, **data: object) -> Event:
    return Event("schedule.updated", {"what": what, **data})


# ---------------------------------------------------------------------------- business hours


def set_business_hours(
    session: Session, data: BusinessHoursSet, actor: Actor, at: datetime | None = None
) -> list[BusinessHoursRule]:
    """Replace the weekly hours of a scope as a whole; returns its new rows, in weekday order."""
    at = as_utc(at or clock.now())
    queue, channel = _check_scope(session, data.queue, data.channel)
    periods = _periods(data)
    observe = False if data.always_open else data.observe_holidays
    session.execute(delete(BusinessHoursRule).where(*_scope_filter(queue, channel)))
    rows = [
        BusinessHoursRule(
            queue=queue,
            channel=channel,
            weekday=weekday,
            opens=opens,
            closes=closes,
            observe_holidays=observe,
            updated_at=at,
        )
        for weekday, opens, closes in periods
    ]
    session.add_all(rows)
    session.flush()
    record(
        session,
        actor,
        "business_hours.set",
        "business_hours",
        f"{queue or '*'}/{channel or '*'}",
        periods=[f"{d}:{format_clock(o)}-{format_clock(c, closing=True)}" for d, o, c in periods],
        observe_holidays=observe,
    )
    queue_event(session, _schedule_event("business_hours", queue=queue, channel=channel))
    return rows


def reset_business_hours(session: Session, queue: str | None, channel: str | None, actor: Actor) -> int:
    """Drop a scope's rows: the built-in (or a wider scope's) hours apply again. Returns rows removed."""
    queue = (queue or "").strip() or None
    channel = (channel or "").strip() or None
    rows = session.scalars(select(BusinessHoursRule).where(*_scope_filter(queue, channel))).all()
    for row in rows:
        session.delete(row)
    removed = len(rows)
    if removed:
        record(session, actor, "business_hours.reset", "business_hours", f"{queue or '*'}/{channel or '*'}")
        queue_event(session, _schedule_event("business_hours", queue=queue, channel=channel))
    return removed


# ---------------------------------------------------------------------------- closures


def add_closure(session: Session, data: ClosureCreate, actor: Actor, today: date | None = None) -> ClosureRow:
    """Close a line (or, naming neither queue nor channel, every line that observes holidays) for whole days."""
    today = today or clock.now().astimezone(SEOUL).date()
    reason = " ".join(data.reason.split())
    if not reason:
        raise InputError("reason", "휴무 사유를 입력해 주세요.", "Please give a reason.")
    if data.last_day < data.first_day:
        raise InputError("last_day", "종료일이 시작일보다 빠릅니다.", "The closure ends before it starts.")
    if data.last_day < today:
        raise InputError("last_day", "이미 지난 기간은 휴무로 등록할 수 없습니다.", "The closure is in the past.")
    if (data.last_day - data.first_day).days + 1 > MAX_CLOSURE_DAYS:
        raise InputError(
            "last_day",
            f"휴무 기간은 {MAX_CLOSURE_DAYS}일을 넘을 수 없습니다.",
            f"A closure lasts at most {MAX_CLOSURE_DAYS} days.",
        )
    queue, channel = _check_scope(session, data.queue, data.channel)
    row = ClosureRow(
        queue=queue,
        channel=channel,
        first_day=data.first_day,
        last_day=data.last_day,
        reason=reason,
        created_by_id=actor.id if actor.kind in ("agent", "api") else None,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "closure.add",
        "closure",
        row.id,
        first_day=row.first_day.isoformat(),
        last_day=row.last_day.isoformat(),
        reason=reason,
        queue=queue,
        channel=channel,
    )
    queue_event(session, _schedule_event("closure", closure_id=row.id, queue=queue, channel=channel))
    return row


def remove_closure(session: Session, closure_id: int, actor: Actor) -> None:
    row = session.get(ClosureRow, closure_id)
    if row is None:
        raise NotFound("휴무 일정을 찾을 수 없습니다.", f"No closure {closure_id}.")
    record(
        session,
        actor,
        "closure.remove",
        "closure",
        row.id,
        first_day=row.first_day.isoformat(),
        last_day=row.last_day.isoformat(),
        reason=row.reason,
    )
    session.delete(row)
    session.flush()
    queue_event(session, _schedule_event("closure", closure_id=closure_id, removed=True))


def upcoming_closures(session: Session, today: date, include_past: bool = False) -> list[ClosureRow]:
    stmt = select(ClosureRow).order_by(ClosureRow.first_day, ClosureRow.id)
    if not include_past:
        stmt = stmt.where(ClosureRow.last_day >= today)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------------------- callbacks from the portal


def book_callback(session: Session, data: CallbackBooking, actor: Actor, at: datetime | None = None) -> CallbackRequest:
    """콜백 예약 from the portal: checks the form, finds (or creates) the customer by phone and books
    the call for the next opening of the topic's phone line (now, when it is open)."""
    at = as_utc(at or clock.now())
    name = " ".join(data.name.split())
    if not name:
        raise InputError("name", "이름을 입력해 주세요.", "Please enter your name.")
    if len(name) > 50:
        raise InputError("name", "이름은 50자 이내로 입력해 주세요.", "Names are 50 characters at most.")
    phone = normalize_korean_phone(data.phone)
    topic = session.execute(select(Topic).where(Topic.code == data.topic, Topic.active.is_(True))).scalar_one_or_none()
    if topic is None:
        raise InputError("topic", "문의 유형을 선택해 주세요.", "Please choose a topic.")
    if not data.consent:
        raise InputError(
            "consent",
            "개인정보 수집·이용에 동의해 주셔야 콜백을 예약할 수 있습니다.",
            "Consent to the collection and use of personal data is required.",
        )
    customer = find_or_create_customer(session, name=name, phone=phone, language=data.language)
    callback = request_callback(session, customer_id=customer.id, phone=phone, topic_id=topic.id, at=at)
    record(
        session,
        Actor(actor.kind, customer.id if actor.kind == "customer" else actor.id, actor.ip, actor.role),
        "callback.request",
        "callback_request",
        callback.id,
        customer_id=customer.id,
        topic=topic.code,
        scheduled_for=as_utc(callback.scheduled_for).isoformat(),
        consent=True,
    )
    return callback
