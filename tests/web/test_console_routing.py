"""web.console and routing: the agent's status, offers (수락 / 거절), offer events only to their agent,
and 상급자 연결. The background dispatcher is off here (``dispatch_interval_seconds=0``): the tests
dispatch themselves, so every offer is made exactly when the test says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.testclient import WebSocketTestSession

from sangdam.core.db import Database
from sangdam.core.settings import Settings
from sangdam.models import Agent, AuditEvent, Conversation
from sangdam.models.routing import RoutingOffer, RoutingQueue
from sangdam.routing import actions as routing
from sangdam.routing import queries as routing_queries
from tests.conftest import PASSWORD, auth
from tests.web.helpers import csrf_of, file_inquiry, login


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, secret_key="test-secret", database_url=None, redis_url=None, dispatch_interval_seconds=0
    )


def conversation_id(db: Database, receipt: str) -> int:
    with db.session() as s:
        return s.execute(select(Conversation.id).where(Conversation.receipt_number == receipt)).scalar_one()


def status_of(db: Database, agent_id: int) -> str:
    with db.session() as s:
        agent = s.get(Agent, agent_id)
        assert agent is not None
        return agent.status


def set_status(client: TestClient, status: str, next_page: str = "/console") -> None:
    token = csrf_of(client.get("/console").text)
    response = client.post(
        "/console/status", data={"csrf_token": token, "status": status, "next": next_page}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next_page


def dispatch(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as s:
        return [(o.conversation_id, o.agent_id) for o in routing.dispatch(s)]


def entry_state(db: Database, cid: int) -> tuple[str, int | None] | None:
    with db.session() as s:
        entry = routing_queries.entry_for(s, cid)
        return (entry.state, entry.agent_id) if entry is not None else None


def selected_status(html: str) -> str:
    match = re.search(r'<option value="(\w+)" selected>', html[html.index('id="agent-status"') :])
    assert match, "no status selected in the console bar"
    return match.group(1)


def receive_until(ws: WebSocketTestSession, kind: str, receipt: str | None = None) -> list[dict]:
    """Every event up to and including the first ``kind`` (for ``receipt``, if given)."""
    got = []
    while True:
        event = ws.receive_json()
        got.append(event)
        if event["kind"] == kind and (receipt is None or event["data"].get("receipt_number") == receipt):
            return got


@pytest.fixture
def offered(client: TestClient, db: Database, agents: dict[str, int]) -> tuple[int, str]:
    """A payments inquiry offered to ``pay`` (signed in on ``client``, 상담가능)."""
    _, receipt = file_inquiry(TestClient(client.app))
    login(client, "pay", PASSWORD)
    set_status(client, "available")
    cid = conversation_id(db, receipt)
    assert dispatch(db) == [(cid, agents["pay"])]
    return cid, receipt


# --- the agent's status ---------------------------------------------------------------------------


def test_agent_sets_status_from_the_console_bar(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    login(client, "pay", PASSWORD)
    page = client.get("/console").text
    assert selected_status(page) == "offline"
    for label in ("상담가능", "후처리", "휴식", "오프라인"):
        assert label in page
    set_status(client, "available", "/console?status=all")
    assert status_of(db, agents["pay"]) == "available"
    assert selected_status(client.get("/console").text) == "available"
    set_status(client, "after_call")
    assert status_of(db, agents["pay"]) == "after_call"
    with db.session() as s:
        audits = s.execute(select(AuditEvent).where(AuditEvent.action == "agent.status")).scalars().all()
    assert [a.actor_id for a in audits] == [agents["pay"], agents["pay"]]


def test_status_change_needs_csrf_and_a_known_status(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    login(client, "pay", PASSWORD)
    forged = client.post("/console/status", data={"csrf_token": "forged", "status": "available"})
    assert forged.status_code == 403 and "보안 토큰" in forged.text
    token = csrf_of(client.get("/console").text)
    unknown = client.post("/console/status", data={"csrf_token": token, "status": "napping"})
    assert unknown.status_code == 422 and "알 수 없는 상태입니다." in unknown.text
    assert status_of(db, agents["pay"]) == "offline"
    # An address outside the console is not followed.
    away = client.post(
        "/console/status",
        data={"csrf_token": token, "status": "break", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert away.status_code == 303 and away.headers["location"] == "/console"


def test_going_on_break_withdraws_the_ringing_offer(
    client: TestClient, db: Database, agents: dict[str, int], offered: tuple[int, str]
) -> None:
    cid, _ = offered
    set_status(client, "break")
    assert entry_state(db, cid) == ("waiting", None)
    assert 'class="offer-banner"' not in client.get("/console").text


def test_status_through_the_api_goes_through_routing(
    client: TestClient, db: Database, tokens: dict[str, str], agents: dict[str, int]
) -> None:
    _, receipt = file_inquiry(TestClient(client.app))
    cid = conversation_id(db, receipt)
    url = f"/api/v1/agents/{agents['pay']}"
    assert client.patch(url, json={"status": "available"}, headers=auth(tokens["pay"])).status_code == 200
    assert dispatch(db) == [(cid, agents["pay"])]
    response = client.patch(url, json={"status": "offline"}, headers=auth(tokens["pay"]))
    assert response.status_code == 200 and response.json()["status"] == "offline"
    assert entry_state(db, cid) == ("waiting", None)  # the offer was withdrawn, not left ringing
    with db.session() as s:
        assert s.execute(select(RoutingOffer.outcome)).scalar_one() == "withdrawn"

    # Deactivating an agent takes them offline too: their work goes back to the queue.
    assert client.patch(url, json={"status": "available"}, headers=auth(tokens["pay"])).status_code == 200
    assert dispatch(db) == [(cid, agents["pay"])]
    with db.transaction() as s:
        routing.accept_offer(s, cid, agents["pay"])
    off = client.patch(url, json={"active": False}, headers=auth(tokens["admin"]))
    assert off.status_code == 200 and off.json()["status"] == "offline"
    assert entry_state(db, cid) == ("waiting", None)


# --- offers ---------------------------------------------------------------------------------------


def test_an_offer_rings_with_topic_channel_customer_and_countdown(
    client: TestClient, db: Database, offered: tuple[int, str]
) -> None:
    cid, receipt = offered
    for html in (client.get("/console").text, client.get("/console/offers").text):
        banner = html[html.index('class="offer-banner"') :]
        assert f'data-conversation-id="{cid}"' in html
        assert "새 상담 연결 요청" in banner and receipt in banner
        assert "결제" in banner and "문의 접수" in banner and "홍길동" in banner
        seconds = int(re.search(r'class="offer-seconds">(\d+)<', banner).group(1))  # type: ignore[union-attr]
        assert 0 < seconds <= 20
        remaining = int(re.search(r'data-remaining-ms="(\d+)"', html).group(1))  # type: ignore[union-attr]
        assert 0 < remaining <= 20_000
        assert f'action="/console/offers/{cid}/accept"' in banner and "수락" in banner
        assert f'action="/console/offers/{cid}/reject"' in banner and "거절" in banner
    badge = re.search(r'id="offer-badge"\s*>(\d+)<', client.get("/console").text)
    assert badge and badge.group(1) == "1"


def test_accepting_an_offer_assigns_and_opens_the_conversation(
    client: TestClient, db: Database, agents: dict[str, int], offered: tuple[int, str]
) -> None:
    cid, _ = offered
    token = csrf_of(client.get("/console").text)
    forged = client.post(f"/console/offers/{cid}/accept", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and entry_state(db, cid) == ("offered", agents["pay"])

    accepted = client.post(f"/console/offers/{cid}/accept", data={"csrf_token": token}, follow_redirects=False)
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith(f"/console/conversations/{cid}?")
    assert entry_state(db, cid) == ("assigned", agents["pay"])
    with db.session() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.assignee_id == agents["pay"]
        assert conversation.status == "assigned"
    page = client.get(accepted.headers["location"])
    assert page.status_code == 200 and "상담이 연결되었습니다." in page.text and "이상담" in page.text
    assert 'class="offer-banner"' not in page.text

    # Accepting again (a double click) finds the offer gone and says so.
    again = client.post(f"/console/offers/{cid}/accept", data={"csrf_token": token})
    assert again.status_code == 200 and "이 상담 연결 요청은 더 이상 유효하지 않습니다." in again.text


def test_rejecting_an_offer_puts_it_back_for_the_next_agent(
    client: TestClient, db: Database, agents: dict[str, int], offered: tuple[int, str]
) -> None:
    cid, _ = offered
    token = csrf_of(client.get("/console").text)
    rejected = client.post(
        f"/console/offers/{cid}/reject", data={"csrf_token": token, "next": "/console"}, follow_redirects=False
    )
    assert rejected.status_code == 303 and rejected.headers["location"] == "/console"
    assert entry_state(db, cid) == ("waiting", None)
    with db.session() as s:
        assert s.execute(select(RoutingOffer.outcome)).scalar_one() == "rejected"
    assert dispatch(db) == []  # not offered straight back to who declined it
    assert 'class="offer-banner"' not in client.get("/console").text


def test_offer_events_reach_only_the_offered_agent(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    customer = TestClient(client.app)
    login(client, "pay", PASSWORD)
    set_status(client, "available")
    other, lead = TestClient(client.app), TestClient(client.app)
    login(other, "lost", PASSWORD)
    login(lead, "super", PASSWORD)
    with (
        client.websocket_connect("/console/ws") as pay_ws,
        other.websocket_connect("/console/ws") as lost_ws,
        lead.websocket_connect("/console/ws") as lead_ws,
    ):
        for ws in (pay_ws, lost_ws, lead_ws):
            assert ws.receive_json()["kind"] == "hello"
        _, receipt = file_inquiry(customer)
        cid = conversation_id(db, receipt)
        assert dispatch(db) == [(cid, agents["pay"])]

        ringing = receive_until(pay_ws, "routing.offered")
        offer = ringing[-1]
        assert offer["data"]["agent_id"] == agents["pay"] and offer["data"]["conversation_id"] == cid
        assert offer["data"]["expires_at"]

        # Then something the others may see: nothing about pay's offer came before it.
        _, sentinel = file_inquiry(customer, topic="lost_card", phone="010-9999-8888")
        for ws in (lost_ws, lead_ws):
            seen = receive_until(ws, "conversation.created", sentinel)
            assert "routing.offered" not in [e["kind"] for e in seen]
        # The supervisor follows the routing (queued …) but is never rung for another agent's offer.
        assert "routing.queued" in [e["kind"] for e in receive_until(lead_ws, "routing.queued")]


def test_an_agent_escalates_to_a_supervisor_who_gets_it(
    client: TestClient, db: Database, agents: dict[str, int]
) -> None:
    _, receipt = file_inquiry(TestClient(client.app))
    cid = conversation_id(db, receipt)
    login(client, "pay", PASSWORD)
    page = client.get(f"/console/conversations/{cid}").text
    token = csrf_of(page)
    assert 'id="escalate-form"' in page and "상급자 연결" in page
    client.post(f"/console/conversations/{cid}/assign", data={"csrf_token": token, "assignee_id": "me"})
    assert entry_state(db, cid) == ("assigned", agents["pay"])

    done = client.post(
        f"/console/conversations/{cid}/escalate",
        data={"csrf_token": token, "reason": "한도 예외 승인 필요"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with db.session() as s:
        entry = routing_queries.entry_for(s, cid)
        assert entry is not None and entry.escalated and entry.state == "waiting"
        queue = s.get(RoutingQueue, entry.queue_id)
        assert queue is not None and queue.is_supervisor_queue
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.assignee_id is None and conversation.status == "queued"
    escalated_page = client.get(done.headers["location"]).text
    assert "상급자에게 연결했습니다" in escalated_page and 'id="escalate-form"' not in escalated_page

    # The supervisor sees it waiting, goes 상담가능, is rung, accepts, and has the whole history.
    lead = TestClient(client.app)
    login(lead, "super", PASSWORD)
    assert receipt in lead.get("/console").text
    assert "상급자 연결" in lead.get(f"/console/conversations/{cid}").text
    set_status(lead, "available")
    with lead.websocket_connect("/console/ws") as ws:
        assert ws.receive_json()["kind"] == "hello"
        assert dispatch(db) == [(cid, agents["super"])]
        offer = receive_until(ws, "routing.offered")[-1]
        assert offer["data"]["agent_id"] == agents["super"]
    banner = lead.get("/console").text
    assert "상급자 연결 요청" in banner
    accepted = lead.post(f"/console/offers/{cid}/accept", data={"csrf_token": csrf_of(banner)}, follow_redirects=False)
    assert accepted.status_code == 303
    view = lead.get(accepted.headers["location"]).text
    assert "같은 결제가 두 번 청구됐어요." in view and re.search(r"\d\d:\d\d 상급자 연결", view)  # in the history
    assert entry_state(db, cid) == ("assigned", agents["super"])
