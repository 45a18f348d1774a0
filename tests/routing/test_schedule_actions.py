"""routing.schedule_actions: business hours, closures and portal callback bookings, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from sangdam.core import clock
from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.db import Database
from sangdam.core.errors import InputError, NotFound
from sangdam.core.events import Event, EventBus
from sangdam.models import AuditEvent, ContactPoint
from sangdam.models.schedule import BusinessHoursRule, CallbackRequest
from sangdam.models.schedule import Closure as ClosureRow
from sangdam.privacy.audit import Actor
from sangdam.routing.hours import LOST_CARD_QUEUE, load_calendar
from sangdam.routing.schedule_actions import (
    BusinessHoursSet,
    CallbackBooking,
    ClosureCreate,
    PeriodIn,
    add_closure,
    book_callback,
    parse_clock,
    parse_day,
    remove_closure,
    reset_business_hours,
    set_business_hours,
)

ADMIN = Actor("agent", None, "127.0.0.1", "admin")
TUESDAY = date(2026, 12, 8)


class RecordingBus(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    def publish(self, item: Event) -> None:
        self.published.append(item)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``clock.now()`` is Tuesday 8 December 2026, 10:00 in Seoul."""
    monkeypatch.setattr(clock, "now", lambda: seoul(2026, 12, 8, 10).astimezone(UTC))
    yield


def seoul(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


def audits(db: Database, action: str) -> list[AuditEvent]:
    with db.transaction() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def hours(queue: str | None = None, channel: str | None = None, **days: str) -> BusinessHoursSet:
    """``hours(channel="webchat", mon="09:00-21:00", sat="10:00-14:00")``."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    periods = [p for name, text in days.items() for p in parse_day(names.index(name), text)]
    return BusinessHoursSet(queue=queue, channel=channel, periods=periods)


# ---------------------------------------------------------------------------- parsing


def test_parse_day_and_clock() -> None:
    assert parse_day(0, "09:00-12:00, 13:00-18:00") == [
        PeriodIn(weekday=0, opens="09:00", closes="12:00"),
        PeriodIn(weekday=0, opens="13:00", closes="18:00"),
    ]
    assert parse_day(4, " 9:30 ~ 24:00 ") == [PeriodIn(weekday=4, opens="09:30", closes="24:00")]
    assert parse_day(2, "") == [] and parse_day(2, "휴무") == []
    assert parse_clock("0900") == time(9) and parse_clock("24:00", closing=True) == time(0)
    for bad in ("9시-18시", "09:00", "09:00-25:00"):
        with pytest.raises(InputError) as info:
            parse_day(1, bad)
        assert info.value.field == "periods" and ("시각" in info.value.message or "09:00-18:00" in info.value.message)
    with pytest.raises(InputError):
        parse_clock("24:00")  # only a closing time may be midnight's 24:00


# ---------------------------------------------------------------------------- business hours


def test_set_hours_replaces_a_scope_and_the_calendar_follows(db: Database, bus: RecordingBus) -> None:
    with db.transaction() as session:
        rows = set_business_hours(
            session, hours(channel="webchat", mon="09:00-21:00", tue="09:00-21:00", sat="10:00-14:00"), ADMIN
        )
        assert [(r.weekday, r.opens, r.closes) for r in rows] == [
            (0, time(9), time(21)),
            (1, time(9), time(21)),
            (5, time(10), time(14)),
        ]
        assert bus.published == []  # events go out after commit
    assert [e.kind for e in bus.published] == ["schedule.updated"]
    with db.transaction() as session:
        calendar = load_calendar(session)
    tuesday_evening = seoul(2026, 12, 8, 20)
    assert calendar.is_open(tuesday_evening, None, "webchat")
    assert not calendar.is_open(tuesday_evening, None, "voice")  # other channels keep 09:00–18:00
    assert calendar.is_open(seoul(2026, 12, 12, 11), "payment_billing", "webchat")  # Saturday chat
    assert not calendar.is_open(seoul(2026, 12, 9, 10), None, "webchat")  # Wednesday: not in the new week

    with db.transaction() as session:  # saving again replaces the scope as a whole
        set_business_hours(session, hours(channel="webchat", wed="10:00-16:00"), ADMIN)
        rows = session.scalars(select(BusinessHoursRule)).all()
    assert [(r.channel, r.weekday) for r in rows] == [("webchat", 2)]
    assert [a.object_id for a in audits(db, "business_hours.set")] == ["*/webchat", "*/webchat"]


def test_always_open_and_overnight_hours(db: Database) -> None:
    with db.transaction() as session:
        set_business_hours(session, BusinessHoursSet(channel="kakao", always_open=True), ADMIN)
        set_business_hours(session, hours(queue="fraud_security", fri="22:00-02:00"), ADMIN)
        calendar = load_calendar(session)
    sunday_3am = seoul(2026, 12, 6, 3)
    christmas = seoul(2026, 12, 25, 11)
    assert calendar.is_open(sunday_3am, None, "kakao") and calendar.is_open(christmas, None, "kakao")
    assert calendar.hours_for(None, "kakao").always_open
    assert calendar.is_open(seoul(2026, 12, 12, 1, 30), "fraud_security")  # Saturday 01:30, from Friday night
    assert not calendar.is_open(seoul(2026, 12, 12, 2, 30), "fraud_security")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (BusinessHoursSet(channel="webchat"), "periods", "한 요일 이상"),
        (
            hours(channel="webchat", mon="09:00-13:00, 12:00-18:00"),
            "periods",
            "월요일 상담 시간이 다른 시간과 겹칩니다",
        ),
        (hours(channel="webchat", sun="22:00-03:00", mon="02:00-09:00"), "periods", "겹칩니다"),
        (hours(channel="webchat", mon="09:00-09:00"), "periods", "00:00-24:00"),
        (hours(queue="no_such_queue", mon="09:00-18:00"), "queue", "알 수 없는 대기열"),
        (hours(channel="fax", mon="09:00-18:00"), "channel", "알 수 없는 채널"),
    ],
)
def test_bad_hours_are_refused_in_korean(db: Database, data: BusinessHoursSet, field: str, message: str) -> None:
    with pytest.raises(InputError) as info, db.transaction() as session:
        set_business_hours(session, data, ADMIN)
    assert info.value.field == field and message in info.value.message
    with db.transaction() as session:
        assert session.scalars(select(BusinessHoursRule)).all() == []


def test_reset_goes_back_to_the_built_in_hours(db: Database) -> None:
    with db.transaction() as session:
        set_business_hours(session, hours(mon="10:00-16:00"), ADMIN)
        assert not load_calendar(session).is_open(seoul(2026, 12, 8, 10))  # Tuesday: not in the new week
        assert reset_business_hours(session, None, None, ADMIN) == 1
        assert reset_business_hours(session, None, None, ADMIN) == 0
        assert load_calendar(session).is_open(seoul(2026, 12, 8, 10))
    assert len(audits(db, "business_hours.reset")) == 1


# ---------------------------------------------------------------------------- closures


def test_a_closure_closes_and_its_removal_reopens(db: Database, bus: RecordingBus) -> None:
    at = seoul(2026, 12, 8, 10)
    with db.transaction() as session:
        assert load_calendar(session, TUESDAY).is_open(at)
        row = add_closure(
            session, ClosureCreate(first_day=TUESDAY, last_day=TUESDAY, reason="창립기념일"), ADMIN, today=TUESDAY
        )
        closure_id = row.id
    with db.transaction() as session:
        calendar = load_calendar(session, TUESDAY)
    status = calendar.status(at, "payment_billing")
    assert not status.is_open and status.message("ko") == (
        "오늘은 휴무일입니다(창립기념일). 12월 9일(수) 오전 9시에 상담을 시작합니다."
    )
    assert calendar.is_open(at, LOST_CARD_QUEUE)  # a center-wide closure leaves the 24/7 line open

    with db.transaction() as session:
        remove_closure(session, closure_id, ADMIN)
        assert load_calendar(session, TUESDAY).is_open(at)
    assert [a.object_id for a in audits(db, "closure.add")] == [str(closure_id)]
    assert audits(db, "closure.remove")[0].detail["reason"] == "창립기념일"
    assert [e.kind for e in bus.published] == ["schedule.updated", "schedule.updated"]


def test_a_closure_naming_the_lost_card_queue_closes_it(db: Database) -> None:
    with db.transaction() as session:
        add_closure(
            session,
            ClosureCreate(first_day=TUESDAY, last_day=TUESDAY, reason="시스템 점검", queue=LOST_CARD_QUEUE),
            ADMIN,
            today=TUESDAY,
        )
        calendar = load_calendar(session, TUESDAY)
    assert not calendar.is_open(seoul(2026, 12, 8, 3), LOST_CARD_QUEUE)
    assert calendar.is_open(seoul(2026, 12, 8, 10), "payment_billing")


@pytest.mark.parametrize(
    ("first", "last", "reason", "field", "message"),
    [
        (date(2026, 12, 10), date(2026, 12, 9), "점검", "last_day", "종료일이 시작일보다 빠릅니다"),
        (date(2026, 12, 1), date(2026, 12, 7), "점검", "last_day", "이미 지난 기간"),
        (date(2026, 12, 9), date(2026, 12, 9), "   ", "reason", "휴무 사유"),
        (date(2026, 12, 9), date(2028, 1, 9), "점검", "last_day", "366일"),
    ],
)
def test_bad_closures_are_refused(db: Database, first: date, last: date, reason: str, field: str, message: str) -> None:
    with pytest.raises(InputError) as info, db.transaction() as session:
        add_closure(session, ClosureCreate(first_day=first, last_day=last, reason=reason), ADMIN, today=TUESDAY)
    assert info.value.field == field and message in info.value.message
    with db.transaction() as session:
        assert session.scalars(select(ClosureRow)).all() == []


def test_removing_a_missing_closure(db: Database) -> None:
    with pytest.raises(NotFound) as info, db.transaction() as session:
        remove_closure(session, 424242, ADMIN)
    assert info.value.message == "휴무 일정을 찾을 수 없습니다."


# ---------------------------------------------------------------------------- callbacks from the portal


def booking(**overrides: object) -> CallbackBooking:
    data: dict[str, object] = {"name": "홍길동", "phone": "010-2345-6789", "topic": "payment_billing", "consent": True}
    data.update(overrides)
    return CallbackBooking(**data)  # type: ignore[arg-type]


def test_friday_evening_booking_waits_for_monday_morning(db: Database, frozen: None) -> None:
    friday_evening = seoul(2026, 12, 4, 19)
    with db.transaction() as session:
        callback = book_callback(session, booking(), Actor.customer(None, "10.0.0.1"), at=friday_evening)
        assert as_utc(callback.scheduled_for) == as_utc(seoul(2026, 12, 7, 9))
        assert callback.phone == "+821023456789" and callback.queue == "payment_billing"
        point = session.execute(select(ContactPoint).where(ContactPoint.value == "+821023456789")).scalar_one()
        assert point.customer_id == callback.customer_id
    [audit] = audits(db, "callback.request")
    assert audit.customer_id == callback.customer_id and audit.actor_kind == "customer"
    assert audit.detail["consent"] is True and audit.ip == "10.0.0.1"


def test_lost_card_booking_is_due_at_once(db: Database) -> None:
    sunday_night = seoul(2026, 12, 6, 23)
    with db.transaction() as session:
        callback = book_callback(session, booking(topic="lost_card"), Actor.customer(), at=sunday_night)
    assert as_utc(callback.scheduled_for) == as_utc(sunday_night)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"phone": "010-123"}, "phone", "휴대폰 번호 형식이 올바르지 않습니다"),
        ({"phone": "1588-1234"}, "phone", "국내 휴대폰 또는 일반 전화번호"),
        ({"consent": False}, "consent", "동의"),
        ({"name": "  "}, "name", "이름을 입력해 주세요"),
        ({"topic": "nope"}, "topic", "문의 유형을 선택해 주세요"),
    ],
)
def test_bad_bookings_are_refused_and_write_nothing(
    db: Database, overrides: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InputError) as info, db.transaction() as session:
        book_callback(session, booking(**overrides), Actor.customer(), at=seoul(2026, 12, 4, 19))
    assert info.value.field == field and message in info.value.message
    with db.transaction() as session:
        assert session.scalars(select(CallbackRequest)).all() == []
