"""Callback requests (콜백 예약) and the schedule tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.conversations.taxonomy import seed_taxonomy
from sangdam.core import migrate
from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.db import Database
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.events import Event, EventBus
from sangdam.models import Conversation, Topic
from sangdam.models.schedule import BusinessHoursRule, CallbackRequest, CallbackStatus
from sangdam.models.schedule import Closure as ClosureRow
from sangdam.routing.callbacks import (
    cancel_callback,
    normalize_korean_phone,
    release_due_callbacks,
    request_callback,
)
from sangdam.routing.hours import Calendar, Closure, load_calendar


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
def sdb(database_url: str, bus: RecordingBus) -> Iterator[Database]:
    """A database at this feature's revision (its branch of the migrations), with the taxonomy."""
    database = Database(database_url, bus)
    migrate.upgrade(database.engine)
    with database.transaction() as session:
        seed_taxonomy(session)
    yield database
    database.dispose()


def seoul(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


def make_customer(session: Session, phone: str | None = None) -> int:
    from sangdam.customers.actions import find_or_create_customer

    return find_or_create_customer(session, name="김고객", phone=phone).id


def topic_id(session: Session, code: str) -> int:
    return session.execute(select(Topic.id).where(Topic.code == code)).scalar_one()


FRIDAY_EVENING = seoul(2026, 8, 14, 19)  # Monday 17 August 2026 is 광복절 대체 휴일
TUESDAY_OPENING = seoul(2026, 8, 18, 9)


def test_korean_phone_numbers() -> None:
    assert normalize_korean_phone("010-1234-5678") == "+821012345678"
    assert normalize_korean_phone("+82 10 1234 5678") == "+821012345678"
    assert normalize_korean_phone("02-123-4567") == "+8221234567"
    assert normalize_korean_phone("070-1234-5678") == "+827012345678"
    for bad in ("", "010-123", "+1 650 253 0000", "080-123-4567", "060-700-1234", "1588-1234", "전화번호"):
        with pytest.raises(InputError) as info:
            normalize_korean_phone(bad)
        assert info.value.field == "phone"


def test_out_of_hours_callback_is_booked_for_the_next_opening(sdb: Database, bus: RecordingBus) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        booked = request_callback(
            session,
            customer_id=customer,
            phone="010-2222-3333",
            topic_id=topic_id(session, "payment_billing"),
            at=FRIDAY_EVENING,
        )
        callback_id = booked.id
        assert bus.published == []  # nothing leaves before the commit
    with sdb.session() as session:
        callback = session.get(CallbackRequest, callback_id)
        assert callback is not None
        assert callback.status == CallbackStatus.PENDING
        assert callback.phone == "+821022223333"
        assert callback.queue == "payment_billing"
        assert callback.scheduled_for == as_utc(TUESDAY_OPENING)
        assert callback.requested_at == as_utc(FRIDAY_EVENING)
    assert [e.kind for e in bus.published] == ["callback.requested"]
    assert bus.published[0].data["scheduled_for"] == "2026-08-18T00:00:00+00:00"


def test_a_second_request_for_the_same_number_books_one_call(sdb: Database) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        first = request_callback(session, customer_id=customer, phone="01022223333", at=FRIDAY_EVENING)
        again = request_callback(
            session,
            customer_id=customer,
            phone="010-2222-3333",
            topic_id=topic_id(session, "limit_approval"),
            at=FRIDAY_EVENING,
        )
        assert again.id == first.id
        assert again.topic_id == topic_id(session, "limit_approval")
        assert session.scalars(select(CallbackRequest)).all() == [first]


def test_open_line_and_the_24_7_lost_card_line_are_due_at_once(sdb: Database) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        open_now = seoul(2026, 11, 23, 10, 30)
        during = request_callback(session, customer_id=customer, phone="010-1111-2222", at=open_now)
        assert during.scheduled_for == as_utc(open_now)
        lost = request_callback(
            session,
            customer_id=customer,
            phone="010-9999-8888",
            topic_id=topic_id(session, "lost_card"),
            at=seoul(2026, 9, 25, 3),  # 추석, 03:00
        )
        assert lost.queue == "lost_card"
        assert lost.scheduled_for == as_utc(seoul(2026, 9, 25, 3))


def test_invalid_requests_are_refused(sdb: Database) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        with pytest.raises(InputError):
            request_callback(session, customer_id=customer, phone="+1 650 253 0000", at=FRIDAY_EVENING)
        with pytest.raises(InputError):
            request_callback(session, customer_id=customer, phone="010-1111-2222", topic_id=99999)


def test_release_turns_due_requests_into_queued_conversations(sdb: Database, bus: RecordingBus) -> None:
    opened: list[int] = []

    def open_conversation(session: Session, callback: CallbackRequest) -> int:
        conversation = Conversation(
            receipt_number=f"CB-{callback.id}",
            customer_id=callback.customer_id,
            channel="voice",
            topic_id=callback.topic_id,
            contact_phone=callback.phone,
        )
        session.add(conversation)
        session.flush()
        opened.append(callback.id)
        return conversation.id

    with sdb.transaction() as session:
        customer = make_customer(session)
        callback_id = request_callback(
            session,
            customer_id=customer,
            phone="010-2222-3333",
            topic_id=topic_id(session, "payment_billing"),
            at=FRIDAY_EVENING,
        ).id
    bus.published.clear()
    with sdb.transaction() as session:
        # Monday (a substitute holiday) at 10:00: not due yet.
        assert release_due_callbacks(session, seoul(2026, 8, 17, 10), open_conversation) == []
        released = release_due_callbacks(session, TUESDAY_OPENING, open_conversation)
        assert [c.id for c in released] == [callback_id]
        assert release_due_callbacks(session, seoul(2026, 8, 18, 9, 5), open_conversation) == []
    assert opened == [callback_id]
    with sdb.session() as session:
        callback = session.get(CallbackRequest, callback_id)
        assert callback is not None
        assert callback.status == CallbackStatus.QUEUED
        assert callback.released_at == as_utc(TUESDAY_OPENING)
        conversation = session.get(Conversation, callback.conversation_id)
        assert conversation is not None
        assert conversation.status == "queued"
        assert conversation.channel == "voice"
    assert [e.kind for e in bus.published] == ["callback.released"]


def test_a_closure_added_after_booking_moves_the_callback(sdb: Database) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        callback_id = request_callback(session, customer_id=customer, phone="010-2222-3333", at=FRIDAY_EVENING).id
    closed_tuesday = Calendar(closures=[Closure(date(2026, 8, 18), date(2026, 8, 18), "전산 점검")])
    with sdb.transaction() as session:
        released = release_due_callbacks(
            session, TUESDAY_OPENING, lambda s, c: pytest.fail("must not open"), closed_tuesday
        )
        assert released == []
        callback = session.get(CallbackRequest, callback_id)
        assert callback is not None
        assert callback.status == CallbackStatus.PENDING
        assert callback.scheduled_for == as_utc(seoul(2026, 8, 19, 9))


def test_a_refused_opening_leaves_the_request_pending(sdb: Database) -> None:
    def no_queue(session: Session, callback: CallbackRequest) -> int:
        raise NotFound("대기열이 없습니다.", "No queue.")

    with sdb.transaction() as session:
        customer = make_customer(session)
        callback_id = request_callback(session, customer_id=customer, phone="010-2222-3333", at=FRIDAY_EVENING).id
    with sdb.transaction() as session:
        assert release_due_callbacks(session, TUESDAY_OPENING, no_queue) == []
        callback = session.get(CallbackRequest, callback_id)
        assert callback is not None and callback.status == CallbackStatus.PENDING


def test_cancel(sdb: Database) -> None:
    with sdb.transaction() as session:
        customer = make_customer(session)
        callback = request_callback(session, customer_id=customer, phone="010-2222-3333", at=FRIDAY_EVENING)
        cancel_callback(session, callback.id)
        assert callback.status == CallbackStatus.CANCELLED
        with pytest.raises(Conflict):
            cancel_callback(session, callback.id)
        with pytest.raises(NotFound):
            cancel_callback(session, 424242)
        assert release_due_callbacks(session, TUESDAY_OPENING, lambda s, c: pytest.fail("cancelled")) == []


def test_default_release_opens_a_voice_conversation_through_the_conversations_feature(sdb: Database) -> None:
    pytest.importorskip("sangdam.routing.actions")
    from sangdam.routing.actions import seed_queues

    # The routing tables come with the routing feature's migration (its own branch for now).
    migrate.upgrade(sdb.engine)
    with sdb.transaction() as session:
        seed_queues(session)
        customer = make_customer(session, phone="+821055556666")
        callback_id = request_callback(
            session,
            customer_id=customer,
            phone="010-5555-6666",
            topic_id=topic_id(session, "cancel_reissue"),
            at=FRIDAY_EVENING,
        ).id
    with sdb.transaction() as session:
        released = release_due_callbacks(session, TUESDAY_OPENING)
        assert [c.id for c in released] == [callback_id]
        conversation = session.get(Conversation, released[0].conversation_id)
        assert conversation is not None
        assert conversation.customer_id == customer
        assert conversation.channel == "voice"
        assert conversation.status == "queued"
        assert conversation.topic is not None and conversation.topic.code == "cancel_reissue"
        assert "[콜백 예약] 010-****-6666" in conversation.messages[0].body


def test_calendar_from_database(sdb: Database) -> None:
    with sdb.transaction() as session:
        for weekday in range(5):
            session.add(BusinessHoursRule(queue="card_issue", weekday=weekday, opens=time(10), closes=time(16)))
        session.add(BusinessHoursRule(queue=None, channel="webchat", weekday=5, opens=time(9), closes=time(13)))
        for weekday in range(5):
            session.add(
                BusinessHoursRule(queue=None, channel="webchat", weekday=weekday, opens=time(9), closes=time(18))
            )
        session.add(ClosureRow(first_day=date(2026, 12, 31), last_day=date(2026, 12, 31), reason="종무식"))
        session.add(ClosureRow(first_day=date(2026, 1, 2), last_day=date(2026, 1, 2), reason="지난 휴무"))
    with sdb.session() as session:
        calendar = load_calendar(session, today=date(2026, 11, 23))
    assert len(calendar.closures) == 1
    assert not calendar.is_open(seoul(2026, 11, 23, 9, 30), "card_issue")
    assert calendar.is_open(seoul(2026, 11, 23, 10, 30), "card_issue")
    assert calendar.is_open(seoul(2026, 11, 28, 10), "payment_billing", "webchat")  # Saturday chat
    assert not calendar.is_open(seoul(2026, 11, 28, 10), "payment_billing", "voice")
    assert calendar.is_open(datetime(2026, 12, 31, 3, tzinfo=UTC), "lost_card")
    assert calendar.closed_message(seoul(2026, 12, 31, 10)) == (
        "오늘은 휴무일입니다(종무식). 1월 4일(월) 오전 9시에 상담을 시작합니다."
    )
