"""routing.views: the portal's hours notice and callback page, the supervisor page, the hours admin page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core import clock
from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.db import Database
from sangdam.models import AuditEvent, Conversation, Customer, Topic
from sangdam.models.routing import RoutingOffer, RoutingQueue
from sangdam.models.schedule import BusinessHoursRule, CallbackRequest
from sangdam.models.schedule import Closure as ClosureRow
from sangdam.routing import actions, erlang
from tests.conftest import PASSWORD
from tests.web.helpers import csrf_of, login

Freeze = Callable[[datetime], None]


def seoul(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


FRIDAY_19 = seoul(2026, 12, 4, 19)
SATURDAY_11 = seoul(2026, 12, 12, 11)
TUESDAY_10 = seoul(2026, 12, 8, 10)


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Freeze:
    def set_now(at: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: at.astimezone(UTC))

    return set_now


def form_error(html: str) -> str:
    match = re.search(r'id="form-error">\s*([^<]+)', html)
    assert match, "no form error on the page"
    return match.group(1).strip()


# ---------------------------------------------------------------------------- portal: hours notice


def test_out_of_hours_notice_on_home_and_inquiry(client: TestClient, freeze: Freeze) -> None:
    freeze(SATURDAY_11)
    for path in ("/", "/inquiry"):
        page = client.get(path)
        assert page.status_code == 200
        assert 'id="hours-notice"' in page.text
        assert "지금은 상담 시간이 아닙니다. 12월 14일(월) 오전 9시에 상담을 시작합니다." in page.text
        assert "상담 시간: 월–금 09:00–18:00, 공휴일 휴무" in page.text
        assert "카드 분실·도난 신고는 24시간 접수합니다." in page.text and "1588-0001" in page.text
        assert 'href="/callback"' in page.text
    english = client.get("/?lang=en")
    assert "We are closed now. We open on Monday, December 14 at 9:00 AM." in english.text
    assert "Lost or stolen cards can be reported 24 hours a day." in english.text


def test_no_notice_while_open_and_a_holiday_is_named(client: TestClient, freeze: Freeze) -> None:
    freeze(TUESDAY_10)
    assert 'id="hours-notice"' not in client.get("/").text
    assert 'id="hours-notice"' not in client.get("/inquiry").text
    freeze(seoul(2026, 12, 25, 10))  # 기독탄신일, a Friday
    assert "오늘은 휴무일입니다(기독탄신일). 12월 28일(월) 오전 9시에 상담을 시작합니다." in client.get("/").text


# ---------------------------------------------------------------------------- portal: 콜백 예약


def book(client: TestClient, **overrides: object) -> tuple[int, str]:
    page = client.get("/callback")
    data: dict[str, object] = {
        "csrf_token": csrf_of(page.text),
        "name": "홍길동",
        "phone": "010-2345-6789",
        "topic": "payment_billing",
        "consent": "on",
    }
    data.update(overrides)
    response = client.post("/callback", data={k: v for k, v in data.items() if v is not None}, follow_redirects=True)
    return response.status_code, response.text


def test_callback_page_says_lost_cards_are_24_7(client: TestClient, freeze: Freeze) -> None:
    freeze(FRIDAY_19)
    page = client.get("/callback")
    assert page.status_code == 200
    assert "<h1>콜백 예약</h1>" in page.text
    assert "카드 분실·도난 신고는 24시간 접수합니다." in page.text and 'href="tel:1588-0001"' in page.text
    assert "연중무휴 24시간" in page.text
    assert "지금은 상담 시간이 아닙니다. 12월 7일(월) 오전 9시에 상담을 시작합니다." in page.text
    assert "전화 상담 시간: 월–금 09:00–18:00, 공휴일 휴무" in page.text
    assert "Book a callback" in client.get("/callback?lang=en").text


def test_friday_evening_callback_is_scheduled_for_monday_opening(
    client: TestClient, db: Database, freeze: Freeze
) -> None:
    freeze(FRIDAY_19)
    status, html = book(client)
    assert status == 200, html
    assert "콜백 예약이 접수되었습니다" in html
    assert re.search(r'id="scheduled-at"[^>]*>12월 7일\(월\) 오전 9시<', html)
    assert "12월 7일(월) 오전 9시부터 순서대로 전화드리겠습니다." in html
    assert "010-****-6789" in html and "6789" in html and "2345" not in html
    with db.transaction() as session:
        callback = session.execute(select(CallbackRequest)).scalar_one()
        assert as_utc(callback.scheduled_for) == as_utc(seoul(2026, 12, 7, 9))
        assert callback.phone == "+821023456789" and callback.status == "pending"
        customer = session.get(Customer, callback.customer_id)
        assert customer is not None and customer.name == "홍길동"
        audit = session.execute(select(AuditEvent).where(AuditEvent.action == "callback.request")).scalar_one()
        assert audit.customer_id == customer.id

    status, html = book(client)  # a double submission books one call
    assert status == 200
    with db.transaction() as session:
        assert len(session.execute(select(CallbackRequest)).scalars().all()) == 1


def test_lost_card_callback_is_right_away_with_the_24_hour_line(client: TestClient, freeze: Freeze) -> None:
    freeze(FRIDAY_19)
    status, html = book(client, topic="lost_card")
    assert status == 200
    assert "지금 상담 시간이므로 곧 전화드리겠습니다." in html
    assert "카드 분실·도난 신고는 기다리지 마시고 지금 바로 전화해 주세요." in html and "1588-0001" in html


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"phone": "010-123"}, 400, "휴대폰 번호 형식이 올바르지 않습니다. 예: 010-1234-5678"),
        ({"phone": "+1 650 253 0000"}, 400, "콜백은 국내 휴대폰 또는 일반 전화번호로만 예약할 수 있습니다."),
        ({"consent": None}, 400, "개인정보 수집·이용에 동의해 주셔야 콜백을 예약할 수 있습니다."),
        ({"topic": ""}, 400, "문의 유형을 선택해 주세요."),
        ({"csrf_token": "forged"}, 403, "보안 토큰이 올바르지 않습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요."),
    ],
)
def test_refused_callbacks_keep_the_form_and_book_nothing(
    client: TestClient, db: Database, freeze: Freeze, overrides: dict[str, object], status: int, message: str
) -> None:
    freeze(FRIDAY_19)
    got, html = book(client, **overrides)
    assert got == status
    assert form_error(html) == message
    assert 'value="홍길동"' in html  # what was typed stays
    with db.transaction() as session:
        assert session.execute(select(CallbackRequest)).first() is None


def test_callback_confirmation_needs_its_signed_token(client: TestClient) -> None:
    for query in ("", "?t=forged", "?t=1.1.1"):
        response = client.get(f"/callback/done{query}", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/callback"


def test_callback_bookings_are_rate_limited(client: TestClient, freeze: Freeze) -> None:
    freeze(FRIDAY_19)
    for i in range(5):
        assert book(client, phone=f"010-2345-67{i:02d}")[0] == 200
    status, html = book(client, phone="010-2345-6799")
    assert status == 429 and form_error(html) == "콜백 예약 요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."


# ---------------------------------------------------------------------------- supervisor page


def test_supervisor_page_is_for_supervisors_and_admins(client: TestClient, agents: dict[str, int]) -> None:
    anonymous = client.get("/console/supervisor", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")
    login(client, "pay", PASSWORD)
    refused = client.get("/console/supervisor")
    assert refused.status_code == 403
    assert "상담 현황은 관리자(슈퍼바이저)만 볼 수 있습니다." in refused.text
    for who in ("super", "admin"):
        login(client, who, PASSWORD)
        page = client.get("/console/supervisor")
        assert page.status_code == 200 and "<h1>상담 현황" in page.text


def make_conversation(session: Session, topic: str = "payment_billing", **fields: object) -> Conversation:
    topic_id = session.execute(select(Topic.id).where(Topic.code == topic)).scalar_one()
    conversation = Conversation(
        receipt_number=f"T-{uuid.uuid4().hex[:12]}",
        customer=Customer(name="고객"),
        channel="voice",
        topic_id=topic_id,
        **fields,
    )
    session.add(conversation)
    session.flush()
    return conversation


def answered_call(
    session: Session, agent_id: int, arrived: datetime, wait_s: float, handle_s: float, queue: str = "payment_billing"
) -> None:
    """A past call of ``queue``: waited ``wait_s``, accepted at once, resolved ``handle_s`` later."""
    offered = arrived + timedelta(seconds=wait_s)
    conversation = make_conversation(
        session, queue, status="resolved", resolved_at=offered + timedelta(seconds=handle_s)
    )
    queue_id = session.execute(select(RoutingQueue.id).where(RoutingQueue.code == queue)).scalar_one()
    session.add(
        RoutingOffer(
            conversation_id=conversation.id,
            queue_id=queue_id,
            agent_id=agent_id,
            offered_at=offered,
            expires_at=offered + timedelta(seconds=20),
            responded_at=offered,
            outcome="accepted",
            waited_s=wait_s,
        )
    )


STAFFING_ROW = re.compile(
    r'<tr data-start="([^"]+)" data-calls="([^"]+)" data-aht="([^"]+)" data-interval="([^"]+)" data-agents="(\d+)">'
)


def test_supervisor_page_numbers(client: TestClient, db: Database, agents: dict[str, int], freeze: Freeze) -> None:
    """Staffing equals Erlang C for the forecast inputs; today's service level and waits; agents by status."""
    freeze(TUESDAY_10)
    with db.transaction() as session:
        for weeks in range(1, 5):  # the four Tuesdays before: 6 calls 10:00–10:30, 3 calls 10:30–11:00
            day = TUESDAY_10 - timedelta(weeks=weeks)
            for i in range(6):
                answered_call(session, agents["pay"], day + timedelta(minutes=5 * i), 10, 240)
            for i in range(3):
                answered_call(session, agents["pay"], day + timedelta(minutes=30 + 10 * i), 10, 240)
        # today so far: one call answered within 20 s, one after 35 s
        answered_call(session, agents["pay"], TUESDAY_10 - timedelta(minutes=60), 5, 300)
        answered_call(session, agents["pay"], TUESDAY_10 - timedelta(minutes=50), 35, 300)
        actions.set_agent_status(session, agents["pay"], "available", now=TUESDAY_10 - timedelta(minutes=90))
        actions.set_agent_status(session, agents["lost"], "break", now=TUESDAY_10 - timedelta(minutes=5))

    login(client, "super", PASSWORD)
    page = client.get("/console/supervisor")
    assert page.status_code == 200, page.text
    rows = STAFFING_ROW.findall(page.text)
    assert len(rows) == 16  # eight hours of half-hours
    for _, calls, aht, interval, needed in rows:
        assert int(needed) == erlang.agents_needed(float(calls), float(interval), float(aht), 0.8, 20)
    starts = [datetime.fromisoformat(r[0]) for r in rows]
    assert starts[0] == TUESDAY_10 and starts[-1] == seoul(2026, 12, 8, 17, 30)
    assert [(float(c), float(a)) for _, c, a, _, _ in rows[:2]] == [(6.0, 240.0), (3.0, 240.0)]
    assert int(rows[0][4]) == erlang.agents_needed(6, 1800, 240, 0.8, 20) > 0
    assert all(float(r[1]) == 0 for r in rows[2:])

    one_queue = client.get("/console/supervisor?queue=payment_billing")
    assert STAFFING_ROW.findall(one_queue.text)[:2] == rows[:2]
    lost_only = STAFFING_ROW.findall(client.get("/console/supervisor?queue=lost_card").text)
    assert all(float(r[1]) == 0 and r[4] == "0" for r in lost_only)

    assert re.search(r'id="today-service-level">50%<', page.text)
    assert re.search(r'id="today-average-wait">20초<', page.text)
    assert "응대 2건 / 인입 2건" in page.text
    assert f'data-agent="{agents["pay"]}" data-status="available"' in page.text
    assert f'data-agent="{agents["lost"]}" data-status="break"' in page.text
    assert "화요일 오전 10시~11시 — 평균 대기 10초" in page.text  # the best time to call
    assert 'id="heatmap"' in page.text


def test_supervisor_page_shows_waiting_and_closed_queues(
    client: TestClient, db: Database, agents: dict[str, int], freeze: Freeze
) -> None:
    freeze(SATURDAY_11)
    with db.transaction() as session:
        for minutes in (7, 3):
            conversation = make_conversation(session, "lost_card", status="bot")
            actions.enqueue(session, conversation, now=SATURDAY_11 - timedelta(minutes=minutes))
    login(client, "admin", PASSWORD)
    page = client.get("/console/supervisor").text
    assert re.search(r'<tr data-queue="lost_card" data-waiting="2" data-open="true">', page)
    assert re.search(r'<tr data-queue="payment_billing" data-waiting="0" data-open="false">', page)
    assert "7분" in page  # the oldest wait
    assert "12월 14일(월) 오전 9시에 상담을 시작합니다." in page


# ---------------------------------------------------------------------------- admin: hours and closures


def test_hours_admin_page_is_for_admins(client: TestClient, agents: dict[str, int]) -> None:
    for who in ("pay", "super"):
        login(client, who, PASSWORD)
        refused = client.get("/console/admin/hours")
        assert refused.status_code == 403 and "상담 시간 관리는 시스템 관리자만 할 수 있습니다." in refused.text
    csrf = login(client, "super", PASSWORD)
    post = client.post("/console/admin/closures", data={"csrf_token": csrf, "first_day": "2030-01-02", "reason": "x"})
    assert post.status_code == 403
    login(client, "admin", PASSWORD)
    page = client.get("/console/admin/hours")
    assert page.status_code == 200
    assert "월–금 09:00–18:00, 공휴일 휴무" in page.text and "연중무휴 24시간" in page.text


def test_a_closure_added_on_the_admin_page_closes_the_center(
    client: TestClient, db: Database, agents: dict[str, int], freeze: Freeze
) -> None:
    freeze(TUESDAY_10)
    csrf = login(client, "admin", PASSWORD)
    assert 'id="hours-notice"' not in client.get("/").text

    added = client.post(
        "/console/admin/closures",
        data={"csrf_token": csrf, "first_day": "2026-12-08", "last_day": "2026-12-08", "reason": "창립기념일"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get(added.headers["location"])
    assert "휴무 일정을 등록했습니다." in page.text and "창립기념일" in page.text
    assert "오늘은 휴무일입니다(창립기념일). 12월 9일(수) 오전 9시에 상담을 시작합니다." in client.get("/").text
    supervisor = client.get("/console/supervisor").text
    assert re.search(r'<tr data-queue="payment_billing" data-waiting="0" data-open="false">', supervisor)
    assert re.search(r'<tr data-queue="lost_card" data-waiting="0" data-open="true">', supervisor)

    with db.transaction() as session:
        closure_id = session.execute(select(ClosureRow.id)).scalar_one()
    forged = client.post(f"/console/admin/closures/{closure_id}/delete", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    removed = client.post(f"/console/admin/closures/{closure_id}/delete", data={"csrf_token": csrf})
    assert removed.status_code == 200 and "휴무 일정을 삭제했습니다." in removed.text
    assert 'id="hours-notice"' not in client.get("/").text

    past = client.post(
        "/console/admin/closures",
        data={"csrf_token": csrf, "first_day": "2026-12-01", "last_day": "2026-12-02", "reason": "점검"},
    )
    assert past.status_code == 400 and form_error(past.text) == "이미 지난 기간은 휴무로 등록할 수 없습니다."
    assert 'value="점검"' in past.text
    bad_date = client.post("/console/admin/closures", data={"csrf_token": csrf, "first_day": "내일", "reason": "점검"})
    assert bad_date.status_code == 400 and "2026-01-31처럼" in form_error(bad_date.text)


def test_weekly_hours_edited_on_the_admin_page(
    client: TestClient, db: Database, agents: dict[str, int], freeze: Freeze
) -> None:
    freeze(seoul(2026, 12, 8, 20))  # Tuesday 20:00: closed by the built-in hours
    csrf = login(client, "admin", PASSWORD)
    editor = client.get("/console/admin/hours?channel=webchat")
    assert 'name="day_0" value="09:00-18:00"' in editor.text and 'name="day_5" value=""' in editor.text

    days = {f"day_{d}": "09:00-21:00" for d in range(5)} | {"day_5": "10:00-12:00, 13:00-17:00"}
    saved = client.post(
        "/console/admin/hours",
        data={"csrf_token": csrf, "channel": "webchat", "observe_holidays": "on", **days},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "channel=webchat" in saved.headers["location"]
    page = client.get(saved.headers["location"])
    assert "상담 시간을 저장했습니다." in page.text
    assert "월–금 09:00–21:00, 토 10:00–12:00, 토 13:00–17:00, 공휴일 휴무" in page.text
    assert 'name="day_5" value="10:00-12:00, 13:00-17:00"' in page.text
    with db.transaction() as session:
        rows = session.execute(select(BusinessHoursRule)).scalars().all()
        assert {(r.channel, r.weekday) for r in rows} == {("webchat", d) for d in range(6)} | {("webchat", 5)}
        assert all(r.queue is None and r.observe_holidays for r in rows)
    assert 'id="hours-notice"' in client.get("/").text  # the center as a whole is still closed at 20:00

    bad = client.post(
        "/console/admin/hours", data={"csrf_token": csrf, "channel": "webchat", "day_0": "9시-18시", "day_1": "x"}
    )
    assert bad.status_code == 400 and form_error(bad.text).startswith("시각은 09:00처럼 입력해 주세요")
    assert 'name="day_0" value="9시-18시"' in bad.text

    reset = client.post(
        "/console/admin/hours/reset", data={"csrf_token": csrf, "channel": "webchat"}, follow_redirects=True
    )
    assert "기본 상담 시간으로 되돌렸습니다." in reset.text
    with db.transaction() as session:
        assert session.execute(select(BusinessHoursRule)).first() is None
