"""routing.schedule_api: business hours, closures and a queue's status over the REST API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sangdam.core import clock
from sangdam.core.clock import SEOUL
from sangdam.core.db import Database
from sangdam.models import Agent, AuditEvent, Conversation, Customer, Topic
from sangdam.routing import actions
from tests.conftest import PASSWORD, auth
from tests.web.helpers import login

API = "/api/v1"
Freeze = Callable[[datetime], None]


def seoul(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


TUESDAY_10 = seoul(2026, 12, 8, 10)
SATURDAY_11 = seoul(2026, 12, 12, 11)


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Freeze:
    def set_now(at: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: at.astimezone(UTC))

    return set_now


def error_of(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def waiting_call(db: Database, topic: str, enqueued_at: datetime) -> int:
    """A phone conversation waiting in its topic's queue since ``enqueued_at``."""
    with db.transaction() as session:
        topic_id = session.execute(select(Topic.id).where(Topic.code == topic)).scalar_one()
        conversation = Conversation(
            receipt_number=f"T-{uuid.uuid4().hex[:12]}",
            customer=Customer(name="고객"),
            channel="voice",
            topic_id=topic_id,
            status="bot",
        )
        session.add(conversation)
        session.flush()
        actions.enqueue(session, conversation, now=enqueued_at)
        return conversation.id


def set_status(db: Database, agent_id: int, status: str, at: datetime) -> None:
    with db.transaction() as session:
        actions.set_agent_status(session, agent_id, status, now=at)


# ---------------------------------------------------------------------------- business hours


def test_anyone_signed_in_reads_the_built_in_hours(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(f"{API}/business-hours", headers=auth(tokens["pay"]))
    assert response.status_code == 200, response.text
    scopes = {(s["queue"], s["channel"]): s for s in response.json()}
    center = scopes[(None, None)]
    assert center["source"] == "default" and center["observe_holidays"] is True
    assert center["summary"] == "월–금 09:00–18:00, 공휴일 휴무"
    assert center["periods"][0] == {"weekday": 0, "opens": "09:00", "closes": "18:00"}
    lost = scopes[("lost_card", None)]
    assert lost["always_open"] is True and lost["summary"] == "연중무휴 24시간" and lost["periods"] == []
    assert client.get(f"{API}/business-hours").status_code == 401


def test_admin_sets_and_resets_hours(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    body = {
        "channel": "webchat",
        "periods": [{"weekday": d, "opens": "09:00", "closes": "21:00"} for d in range(5)]
        + [{"weekday": 5, "opens": "10:00", "closes": "24:00"}],
    }
    refused = client.put(f"{API}/business-hours", json=body, headers=auth(tokens["super"]))
    assert error_of(refused, 403)["message"] == "이 기능을 사용할 권한이 없습니다."

    saved = client.put(f"{API}/business-hours", json=body, headers=auth(tokens["admin"]))
    assert saved.status_code == 200, saved.text
    scope = saved.json()
    assert scope["source"] == "custom" and scope["channel"] == "webchat" and scope["queue"] is None
    assert scope["summary"] == "월–금 09:00–21:00, 토 10:00–24:00, 공휴일 휴무"
    assert scope["periods"][-1] == {"weekday": 5, "opens": "10:00", "closes": "24:00"}
    listed = {
        (s["queue"], s["channel"]) for s in client.get(f"{API}/business-hours", headers=auth(tokens["pay"])).json()
    }
    assert (None, "webchat") in listed
    with db.transaction() as session:
        audit = session.execute(select(AuditEvent).where(AuditEvent.action == "business_hours.set")).scalar_one()
        assert audit.actor_kind == "api" and audit.object_id == "*/webchat"

    reset = client.delete(f"{API}/business-hours", params={"channel": "webchat"}, headers=auth(tokens["admin"]))
    assert reset.status_code == 204
    listed = {
        (s["queue"], s["channel"]) for s in client.get(f"{API}/business-hours", headers=auth(tokens["pay"])).json()
    }
    assert (None, "webchat") not in listed


def test_bad_hours_get_a_korean_422(client: TestClient, tokens: dict[str, str]) -> None:
    overlap = {
        "queue": "payment_billing",
        "periods": [
            {"weekday": 0, "opens": "09:00", "closes": "13:00"},
            {"weekday": 0, "opens": "12:00", "closes": "18:00"},
        ],
    }
    error = error_of(client.put(f"{API}/business-hours", json=overlap, headers=auth(tokens["admin"])), 422)
    assert error["field"] == "periods" and "겹칩니다" in error["message"]
    bad_time = {"periods": [{"weekday": 0, "opens": "9시", "closes": "18:00"}]}
    error = error_of(client.put(f"{API}/business-hours", json=bad_time, headers=auth(tokens["admin"])), 422)
    assert "09:00처럼" in error["message"]
    bad_day = {"periods": [{"weekday": 7, "opens": "09:00", "closes": "18:00"}]}
    assert client.put(f"{API}/business-hours", json=bad_day, headers=auth(tokens["admin"])).status_code == 422


def test_console_session_writes_need_the_csrf_header(client: TestClient, agents: dict[str, int]) -> None:
    csrf = login(client, "admin", PASSWORD)
    body = {"channel": "kakao", "always_open": True}
    assert error_of(client.put(f"{API}/business-hours", json=body), 403)["code"] == "csrf_failed"
    saved = client.put(f"{API}/business-hours", json=body, headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200 and saved.json()["always_open"] is True


# ---------------------------------------------------------------------------- closures


def test_closures_close_a_queue_until_removed(client: TestClient, tokens: dict[str, str], freeze: Freeze) -> None:
    freeze(TUESDAY_10)
    status = client.get(f"{API}/queues/payment_billing/status", headers=auth(tokens["pay"]))
    assert status.status_code == 200 and status.json()["open"] is True

    body = {"first_day": "2026-12-08", "last_day": "2026-12-09", "reason": "전산 점검"}
    refused = client.post(f"{API}/closures", json=body, headers=auth(tokens["super"]))
    assert refused.status_code == 403
    created = client.post(f"{API}/closures", json=body, headers=auth(tokens["admin"]))
    assert created.status_code == 201, created.text
    closure = created.json()
    assert closure["reason"] == "전산 점검" and closure["queue"] is None

    closed = client.get(f"{API}/queues/payment_billing/status", headers=auth(tokens["pay"])).json()
    assert closed["open"] is False and closed["estimated_wait_s"] is None
    assert closed["message"] == "오늘은 휴무일입니다(전산 점검). 12월 10일(목) 오전 9시에 상담을 시작합니다."
    assert closed["next_opening"].startswith("2026-12-10T09:00:00+09:00")
    assert client.get(f"{API}/queues/lost_card/status", headers=auth(tokens["pay"])).json()["open"] is True

    listed = client.get(f"{API}/closures", headers=auth(tokens["pay"])).json()
    assert [c["id"] for c in listed] == [closure["id"]]
    assert client.delete(f"{API}/closures/{closure['id']}", headers=auth(tokens["admin"])).status_code == 204
    missing = client.delete(f"{API}/closures/{closure['id']}", headers=auth(tokens["admin"]))
    assert error_of(missing, 404)["message"] == "휴무 일정을 찾을 수 없습니다."
    assert client.get(f"{API}/queues/payment_billing/status", headers=auth(tokens["pay"])).json()["open"] is True


def test_closure_refusals(client: TestClient, tokens: dict[str, str], freeze: Freeze) -> None:
    freeze(TUESDAY_10)
    past = {"first_day": "2026-12-01", "last_day": "2026-12-02", "reason": "점검"}
    assert (
        "이미 지난 기간"
        in error_of(client.post(f"{API}/closures", json=past, headers=auth(tokens["admin"])), 422)["message"]
    )
    unknown = {"first_day": "2026-12-09", "last_day": "2026-12-09", "reason": "점검", "queue": "nope"}
    error = error_of(client.post(f"{API}/closures", json=unknown, headers=auth(tokens["admin"])), 422)
    assert error["field"] == "queue" and "알 수 없는 대기열" in error["message"]


# ---------------------------------------------------------------------------- queue status


def test_queue_status_while_closed(client: TestClient, tokens: dict[str, str], freeze: Freeze) -> None:
    freeze(SATURDAY_11)
    body = client.get(f"{API}/queues/payment_billing/status", headers=auth(tokens["pay"])).json()
    assert body["open"] is False and body["closes_at"] is None
    assert body["message"] == "지금은 상담 시간이 아닙니다. 12월 14일(월) 오전 9시에 상담을 시작합니다."
    assert body["message_en"] == "We are closed now. We open on Monday, December 14 at 9:00 AM."
    assert datetime.fromisoformat(body["next_opening"]) == seoul(2026, 12, 14, 9)
    assert body["estimated_wait_s"] is None and body["estimated_wait"] is None


def test_queue_status_counts_the_waiting_and_estimates_a_newcomer(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int], freeze: Freeze
) -> None:
    freeze(TUESDAY_10)
    headers = auth(tokens["pay"])
    nobody = client.get(f"{API}/queues/payment_billing/status", headers=headers).json()
    assert nobody["open"] is True and nobody["staffed_slots"] == 0
    assert nobody["estimated_wait_s"] is None and nobody["estimated_wait"] == "대기 시간을 예측하기 어렵습니다"
    assert datetime.fromisoformat(nobody["closes_at"]) == seoul(2026, 12, 8, 18)

    set_status(db, agents["pay"], "available", TUESDAY_10 - timedelta(minutes=30))
    free = client.get(f"{API}/queues/payment_billing/status", headers=headers).json()
    assert free["staffed_slots"] == 1 and free["waiting"] == 0
    assert free["estimated_wait_s"] == 0 and free["estimated_wait"] == "곧 연결됩니다"
    by_voice = client.get(f"{API}/queues/payment_billing/status", params={"channel": "voice"}, headers=headers)
    assert by_voice.json()["staffed_slots"] == 1  # one call at a time
    by_chat = client.get(f"{API}/queues/payment_billing/status", params={"channel": "webchat"}, headers=headers)
    assert by_chat.json()["staffed_slots"] == 3  # three chats at a time

    for minutes in (12, 8, 5):
        waiting_call(db, "payment_billing", TUESDAY_10 - timedelta(minutes=minutes))
    busy = client.get(f"{API}/queues/payment_billing/status", headers=headers).json()
    # the app's dispatcher may already be ringing the agent with the first call
    assert busy["waiting"] + busy["offered"] == 3 and busy["waiting"] >= 2
    assert busy["oldest_wait_s"] == pytest.approx(12 * 60)
    assert busy["estimated_wait_s"] > 2 * 60  # behind two or three, one agent
    assert busy["estimated_wait"].startswith("약 ")

    assert client.get(f"{API}/queues/lost_card/status", headers=headers).json()["waiting"] == 0
    missing = client.get(f"{API}/queues/nope/status", headers=headers)
    assert error_of(missing, 404)["message"] == "대기열을 찾을 수 없습니다."
    bad_channel = client.get(f"{API}/queues/payment_billing/status", params={"channel": "fax"}, headers=headers)
    assert error_of(bad_channel, 422)["field"] == "channel"
    with db.transaction() as session:
        assert session.get(Agent, agents["pay"]).status == "available"  # type: ignore[union-attr]
