"""web.console: sign-in, sessions, CSRF, the inbox, a conversation's work, and live events."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.models import AgentSession, AuditEvent, Conversation
from tests.conftest import PASSWORD
from tests.web.helpers import csrf_of, file_inquiry, login


def conversation_id(db: Database, receipt: str) -> int:
    with db.transaction() as s:
        return s.execute(select(Conversation.id).where(Conversation.receipt_number == receipt)).scalar_one()


def test_console_requires_sign_in(client: TestClient) -> None:
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_wrong_password_is_refused_and_attempts_are_limited(
    client: TestClient, agents: dict[str, int], settings
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(settings.login_attempts_per_window):
        page = client.get("/console/login")
        r = client.post("/console/login", data={"csrf_token": csrf_of(page.text), "login": "pay", "password": "nope"})
        assert r.status_code == 401 and "아이디 또는 비밀번호가 올바르지 않습니다" in r.text
    page = client.get("/console/login")
    r = client.post("/console/login", data={"csrf_token": csrf_of(page.text), "login": "pay", "password": PASSWORD})
    assert r.status_code == 429 and "로그인 시도가 너무 많습니다" in r.text


def test_login_cookie_is_httponly_and_session_stored_hashed(
    client: TestClient, db: Database, agents: dict[str, int]
) -> None:
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf_token": csrf_of(page.text), "login": "pay", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie_header = ";".join(v for k, v in r.headers.multi_items() if k == "set-cookie")
    assert "sangdam_session=" in cookie_header and "HttpOnly" in cookie_header and "SameSite=lax" in cookie_header
    token = client.cookies["sangdam_session"]
    with db.transaction() as s:
        rows = s.execute(select(AgentSession.token_hash)).scalars().all()
    assert rows and token not in rows


def test_login_form_needs_its_csrf_token(client: TestClient, agents: dict[str, int]) -> None:
    client.get("/console/login")
    r = client.post("/console/login", data={"csrf_token": "forged", "login": "pay", "password": PASSWORD})
    assert r.status_code == 403 and "보안 토큰" in r.text


def test_expired_session_goes_back_to_login_with_a_message(
    client: TestClient, db: Database, agents: dict[str, int]
) -> None:
    login(client, "pay", PASSWORD)
    assert client.get("/console").status_code == 200
    with db.transaction() as s:
        s.execute(update(AgentSession).values(expires_at=now() - timedelta(minutes=1)))
    r = client.get("/console")
    assert r.url.path == "/console/login" and "세션이 만료되었습니다. 다시 로그인해 주세요." in r.text
    api = client.get("/api/v1/conversations")
    assert api.status_code == 401 and api.json()["error"]["code"] in ("session_expired", "unauthorized")


def test_agent_works_a_conversation_end_to_end(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    customer = TestClient(client.app)
    _, receipt = file_inquiry(customer)
    cid = conversation_id(db, receipt)
    login(client, "pay", PASSWORD)
    inbox = client.get("/console")
    assert receipt in inbox.text and "홍길동" in inbox.text
    page = client.get(f"/console/conversations/{cid}")
    assert page.status_code == 200 and "receipt.png" in page.text and "010-****-6789" in page.text
    token = csrf_of(page.text)
    r = client.post(f"/console/conversations/{cid}/note", data={"csrf_token": token, "body": "환불 요청 확인 필요"})
    assert r.status_code == 200 and "메모를 남겼습니다" in r.text and "환불 요청 확인 필요" in r.text
    r = client.post(
        f"/console/conversations/{cid}/reply",
        data={"csrf_token": token, "body": "중복 청구 건은 취소 처리했습니다.", "then": "resolve"},
    )
    assert r.status_code == 200 and "답변 완료" in r.text
    thread = customer.get("/lookup/view").text
    assert "중복 청구 건은 취소 처리했습니다." in thread and "환불 요청 확인 필요" not in thread
    r = client.post(f"/console/conversations/{cid}/status", data={"csrf_token": token, "status": "queued"})
    assert r.status_code == 200 and "상태를 변경했습니다" in r.text
    with db.transaction() as s:
        views = s.execute(select(AuditEvent).where(AuditEvent.action == "conversation.view")).scalars().all()
    assert views and all(v.actor_id == agents["pay"] for v in views)


def test_forged_csrf_on_a_console_form_is_refused(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    _, receipt = file_inquiry(TestClient(client.app))
    cid = conversation_id(db, receipt)
    login(client, "pay", PASSWORD)
    r = client.post(f"/console/conversations/{cid}/reply", data={"csrf_token": "forged", "body": "x"})
    assert r.status_code == 403 and "보안 토큰이 올바르지 않습니다" in r.text
    with db.transaction() as s:
        assert len(s.get(Conversation, cid).messages) == 1  # type: ignore[union-attr]


def test_an_agent_cannot_open_what_their_role_may_not_see(
    client: TestClient, db: Database, agents: dict[str, int]
) -> None:
    _, receipt = file_inquiry(TestClient(client.app), topic="lost_card")
    cid = conversation_id(db, receipt)
    login(client, "pay", PASSWORD)
    assert receipt not in client.get("/console").text
    r = client.get(f"/console/conversations/{cid}")
    assert r.status_code == 403 and "이 상담건을 볼 권한이 없습니다" in r.text
    with db.transaction() as s:
        denied = s.execute(select(AuditEvent).where(AuditEvent.action == "conversation.view_denied")).scalar_one()
    assert denied.actor_id == agents["pay"]
    supervisor = TestClient(client.app)
    login(supervisor, "super", PASSWORD)
    assert supervisor.get(f"/console/conversations/{cid}").status_code == 200


def test_transfer_to_another_agent(client: TestClient, db: Database, agents: dict[str, int]) -> None:
    _, receipt = file_inquiry(TestClient(client.app), topic="other")
    cid = conversation_id(db, receipt)
    login(client, "pay", PASSWORD)
    token = csrf_of(client.get(f"/console/conversations/{cid}").text)
    r = client.post(
        f"/console/conversations/{cid}/assign", data={"csrf_token": token, "assignee_id": str(agents["lost"])}
    )
    assert r.status_code == 200 and "상담건을 이관했습니다" in r.text
    with db.transaction() as s:
        assert s.get(Conversation, cid).assignee_id == agents["lost"]  # type: ignore[union-attr]
    assert client.get(f"/console/conversations/{cid}").status_code == 403


def test_inbox_filters(client: TestClient, agents: dict[str, int]) -> None:
    customer = TestClient(client.app)
    _, pay_receipt = file_inquiry(customer)
    _, lost_receipt = file_inquiry(customer, topic="lost_card")
    login(client, "super", PASSWORD)
    assert pay_receipt in client.get("/console").text and lost_receipt in client.get("/console").text
    only_lost = client.get("/console?topic=lost_card").text
    assert lost_receipt in only_lost and pay_receipt not in only_lost
    assert pay_receipt not in client.get("/console?status=resolved").text
    assert pay_receipt in client.get(f"/console?q={pay_receipt}").text
    assert "조건에 맞는 상담이 없습니다" in client.get("/console?assignee=me").text


def test_live_events_reach_open_consoles_filtered_by_role(client: TestClient, agents: dict[str, int]) -> None:
    login(client, "pay", PASSWORD)
    with client.websocket_connect("/console/ws") as ws:
        assert ws.receive_json()["kind"] == "hello"
        customer = TestClient(client.app)
        file_inquiry(customer, topic="lost_card")  # not this agent's skill: not sent
        _, receipt = file_inquiry(customer)
        event = ws.receive_json()
        assert event["kind"] == "conversation.created" and event["data"]["receipt_number"] == receipt


def test_live_socket_refuses_without_session(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    try:
        with client.websocket_connect("/console/ws") as ws:
            ws.receive_json()
        raise AssertionError("connected without a session")
    except WebSocketDisconnect as exc:
        assert exc.code == 4401


def test_logout_ends_the_session(client: TestClient, agents: dict[str, int]) -> None:
    login(client, "pay", PASSWORD)
    token = csrf_of(client.get("/console").text)
    client.post("/console/logout", data={"csrf_token": token})
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_live_socket_stops_when_the_session_ends(
    client: TestClient, db: Database, agents: dict[str, int], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from starlette.websockets import WebSocketDisconnect

    from sangdam.web import console

    monkeypatch.setattr(console, "SESSION_RECHECK_SECONDS", 0.0)
    login(client, "pay", PASSWORD)
    with client.websocket_connect("/console/ws") as ws:
        assert ws.receive_json()["kind"] == "hello"
        with db.transaction() as s:
            s.execute(update(AgentSession).values(expires_at=now() - timedelta(minutes=1)))
        file_inquiry(TestClient(client.app))  # an event this agent could otherwise see
        try:
            while True:
                frame = ws.receive_json()
                assert frame["kind"] not in ("conversation.created", "message.created"), frame
        except WebSocketDisconnect as exc:
            assert exc.code == 4401
