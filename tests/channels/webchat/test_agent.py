"""channels.webchat.agent: the chat workspace pages, its forms and the agent's chat WebSocket."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sangdam.channels.webchat import service
from sangdam.channels.webchat.agent_actions import post_system_notice
from sangdam.core.db import Database
from sangdam.core.settings import Settings
from sangdam.models import Attachment, AuditEvent, Conversation, Message, Note
from sangdam.models.chat import CannedResponse, ChatConversation
from sangdam.routing import queries as routing_queries
from tests.channels.webchat.agent_helpers import PASSWORD, dispatch, held_chat, make_agent, queued_chat, tiny_png
from tests.web.helpers import csrf_of, login

JSON = {"Accept": "application/json"}


@pytest.fixture
def web_settings(data_dir) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=data_dir, secret_key="test-secret", dispatch_interval_seconds=0, agent_grace_seconds=3600)


@pytest.fixture
def web(web_settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from sangdam.web.app import create_app

    with TestClient(create_app(web_settings, database=db, run_migrations=False)) as client:
        yield client


@pytest.fixture
def me(db: Database) -> int:
    with db.transaction() as s:
        return make_agent(s, "me", name="정하은", chat_capacity=2)


def form(web: TestClient, page: str = "/console/chats") -> dict[str, str]:
    return {"csrf_token": csrf_of(web.get(page).text)}


def messages(db: Database, cid: int) -> list[Message]:
    with db.session() as s:
        return list(s.execute(select(Message).where(Message.conversation_id == cid).order_by(Message.id)).scalars())


def test_workspace_needs_sign_in(web: TestClient) -> None:
    r = web.get("/console/chats", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_offer_shows_the_bot_transcript_and_topic_then_accept(web: TestClient, db: Database, me: int) -> None:
    cid = queued_chat(db, customer="박채팅")
    assert dispatch(db) == [(cid, me)]
    login(web, "me", PASSWORD)
    page = web.get("/console/chats")
    assert page.status_code == 200
    offer = page.text[page.text.index('class="chat-offer"') :]
    assert "결제가 두 번 청구됐어요" in offer and "챗봇" in offer  # the bot transcript
    assert 'class="chat-offer-topic">결제' in offer  # the detected topic
    assert "고객이 상담원 연결 요청" in offer  # why the bot handed it over
    assert web.get("/console/chats/offers").text.count('class="chat-offer"') == 1
    single = web.get(f"/console/chats/{cid}")
    assert single.status_code == 200 and "수락" in single.text
    r = web.post(f"/console/chats/{cid}/accept", data=form(web), headers=JSON)
    assert r.status_code == 200 and r.json()["ok"] is True
    page = web.get("/console/chats")
    assert f'id="chat-{cid}"' in page.text and 'class="chat-offer"' not in page.text
    assert '진행 중 <span id="chat-load-count">1</span> / 최대 2건' in page.text
    r = web.post(f"/console/chats/{cid}/accept", data=form(web), headers=JSON)
    assert r.status_code == 409 and r.json()["error"]["code"] == "offer_gone"


def test_send_messages_with_files_and_canned_text(web: TestClient, db: Database, me: int) -> None:
    cid = held_chat(db, me, customer="박채팅")
    login(web, "me", PASSWORD)
    created = web.post(
        "/console/chats/canned",
        data={**form(web, "/console/chats/canned"), "title": "확인", "body": "{고객명}님, {접수번호} 확인했습니다."},
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = web.get("/console/chats")
    receipt = re.search(r'class="chat-receipt">([^<]+)<', page.text)
    assert receipt is not None
    assert f'value="박채팅님, {receipt.group(1)} 확인했습니다."' in page.text  # rendered in the panel's select
    r = web.post(
        f"/console/chats/{cid}/messages",
        data={**form(web), "body": f"박채팅님, {receipt.group(1)} 확인했습니다."},
        files=[("attachments", ("명세서.png", tiny_png(), "image/png"))],
        headers=JSON,
    )
    assert r.status_code == 200, r.text
    sent = messages(db, cid)[-1]
    assert sent.sender_kind == "agent" and sent.body.startswith("박채팅님")
    with db.session() as s:
        files = s.execute(select(Attachment).where(Attachment.message_id == sent.id)).scalars().all()
        assert [f.filename for f in files] == ["명세서.png"]
    fragment = web.get(f"/console/chats/{cid}/messages?after={sent.id - 1}")
    assert "명세서.png" in fragment.text and 'class="read-mark" hidden' in fragment.text
    bad = web.post(
        f"/console/chats/{cid}/messages",
        data={**form(web), "body": ""},
        files=[("attachments", ("a.png", b"not an image at all", "image/png"))],
        headers=JSON,
    )
    assert bad.status_code == 422 and "올릴 수 없는 형식" in bad.json()["error"]["message"]
    forged = web.post(f"/console/chats/{cid}/messages", data={"csrf_token": "forged", "body": "x"}, headers=JSON)
    assert forged.status_code == 403


def test_read_receipt_shows_on_the_agents_messages(web: TestClient, db: Database, me: int) -> None:
    cid = held_chat(db, me)
    login(web, "me", PASSWORD)
    web.post(f"/console/chats/{cid}/messages", data={**form(web), "body": "안녕하세요"}, headers=JSON)
    sent = messages(db, cid)[-1]
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        service.mark_read(s, conversation, "customer", sent.id)
    fragment = web.get(f"/console/chats/{cid}/messages?after={sent.id - 1}")
    assert re.search(r'class="read-mark">읽음<', fragment.text)


def test_transfer_escalate_and_close_forms(web: TestClient, db: Database, me: int) -> None:
    with db.transaction() as s:
        other = make_agent(s, "other", name="최동료", status="break")
        make_agent(s, "lead", role="supervisor", rank="lead", status="offline")
    first, second = held_chat(db, me), held_chat(db, me)
    login(web, "me", PASSWORD)
    page = web.get("/console/chats")
    assert "최동료 (휴식 · 채팅 0/2)" in page.text
    r = web.post(f"/console/chats/{first}/transfer", data={**form(web), "target": f"agent:{other}"}, headers=JSON)
    assert r.status_code == 200 and "최동료" in r.json()["message"]
    with db.session() as s:
        assert routing_queries.entry_for(s, first).agent_id == other  # type: ignore[union-attr]
    r = web.post(f"/console/chats/{first}/close", data={**form(web), "summary": "x x"}, headers=JSON)
    assert r.status_code == 403  # no longer mine
    r = web.post(f"/console/chats/{second}/transfer", data={**form(web), "target": "nowhere"}, headers=JSON)
    assert r.status_code == 422
    r = web.post(f"/console/chats/{second}/close", data={**form(web), "summary": ""}, headers=JSON)
    assert r.status_code == 422 and "상담 요약" in r.json()["error"]["message"]
    r = web.post(f"/console/chats/{second}/close", data={**form(web), "summary": "안내 완료"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/chats?done=")
    with db.session() as s:
        assert [n.body for n in s.execute(select(Note).where(Note.conversation_id == second)).scalars()] == [
            "[상담 요약] 안내 완료"
        ]
    third = held_chat(db, me)
    r = web.post(f"/console/chats/{third}/escalate", data={**form(web), "reason": "책임자 요청"}, headers=JSON)
    assert r.status_code == 200
    with db.session() as s:
        entry = routing_queries.entry_for(s, third)
        assert entry is not None and entry.escalated


def test_an_agent_cannot_open_someone_elses_chat(web: TestClient, db: Database, me: int) -> None:
    with db.transaction() as s:
        make_agent(s, "stranger", skills={"lost_card": 3}, status="offline")
    cid = held_chat(db, me)
    login(web, "stranger", PASSWORD)
    r = web.get(f"/console/chats/{cid}")
    assert r.status_code == 403
    assert web.get(f"/console/chats/{cid}/messages").status_code == 403
    with db.session() as s:
        denied = s.execute(select(AuditEvent).where(AuditEvent.action == "conversation.view_denied")).scalars().all()
        assert [d.object_id for d in denied] == [str(cid), str(cid)]


def test_canned_page_add_edit_delete(web: TestClient, db: Database, me: int) -> None:
    login(web, "me", PASSWORD)
    r = web.post(
        "/console/chats/canned",
        data={**form(web, "/console/chats/canned"), "title": "인사", "body": "안녕하세요 {이름}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]
    page = web.get(r.headers["location"])
    assert "알 수 없는 변수입니다: {이름}" in page.text
    web.post(
        "/console/chats/canned",
        data={**form(web, "/console/chats/canned"), "title": "인사", "body": "안녕하세요 {고객명}님"},
    )
    with db.session() as s:
        row = s.execute(select(CannedResponse)).scalar_one()
    web.post(
        f"/console/chats/canned/{row.id}",
        data={**form(web, "/console/chats/canned"), "title": "첫 인사", "body": "{상담원명}입니다", "topic_code": ""},
    )
    assert "첫 인사" in web.get("/console/chats/canned").text
    web.post(f"/console/chats/canned/{row.id}/delete", data=form(web, "/console/chats/canned"))
    assert "아직 상용구가 없습니다" in web.get("/console/chats/canned").text


# ---------------------------------------------------------------------------- the chat WebSocket


def receive_until(ws, kind: str, limit: int = 20) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        frame = ws.receive_json()
        if frame["kind"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def test_chat_socket_typing_reads_and_new_chats(web: TestClient, db: Database, me: int) -> None:
    cid = held_chat(db, me)
    login(web, "me", PASSWORD)
    bus = web.app.state.bus
    with web.websocket_connect("/console/chat-ws") as ws:
        hello = ws.receive_json()
        assert hello["kind"] == "hello" and hello["data"]["chats"] == [cid] and hello["data"]["offers"] == []

        # The customer types: the agent sees it. The agent's own typing is not echoed back.
        with db.session() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            service.publish_typing(bus, service.ConversationRef.of(conversation), "customer", True)
        frame = receive_until(ws, "chat.typing")
        assert frame["data"]["side"] == "customer" and frame["data"]["typing"] is True

        # The agent types and reads: typing reaches the bus for the customer, the read marker is stored.
        seen: list = []
        original = bus.publish

        def spy(event):  # type: ignore[no-untyped-def]
            seen.append(event)
            original(event)

        bus.publish = spy
        try:
            ws.send_json({"type": "typing", "conversation_id": cid, "typing": True})
            last = messages(db, cid)[-1].id
            ws.send_json({"type": "read", "conversation_id": cid, "message_id": last})
            ws.send_json({"type": "ping"})
            receive_until(ws, "pong")
            deadline = time.monotonic() + 5
            while not any(e.kind == "chat.read" for e in seen):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            bus.publish = original
        typing = [e for e in seen if e.kind == "chat.typing"]
        assert typing and typing[0].data["side"] == "agent" and typing[0].data["agent_id"] == me
        with db.session() as s:
            marker = s.get(ChatConversation, cid)
            assert marker is not None and marker.agent_last_read_message_id == last

        # A new chat is offered: the page is told its set changed.
        other = queued_chat(db)
        assert dispatch(db) == [(other, me)]
        frame = receive_until(ws, "chats")
        assert frame["data"] == {"chats": [cid], "offers": [other], "ended": []}

        # The customer writes: the agent's page gets the message event.
        with db.transaction() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            post_system_notice(s, conversation, "테스트 안내")
        frame = receive_until(ws, "message.created")
        assert frame["data"]["conversation_id"] == cid


def test_chat_socket_refuses_without_session_or_from_another_site(web: TestClient, db: Database, me: int) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as caught, web.websocket_connect("/console/chat-ws") as ws:
        ws.receive_json()
    assert caught.value.code == 4401
    login(web, "me", PASSWORD)
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        web.websocket_connect("/console/chat-ws", headers={"origin": "http://evil.example"}) as ws,
    ):
        ws.receive_json()
    assert caught.value.code == 4403


def test_watch_a_chat_not_held(web: TestClient, db: Database, me: int) -> None:
    with db.transaction() as s:
        make_agent(s, "lead", role="supervisor", rank="lead", status="offline")
    cid = held_chat(db, me)
    login(web, "lead", PASSWORD)
    with web.websocket_connect("/console/chat-ws") as ws:
        assert ws.receive_json()["data"]["chats"] == []
        ws.send_json({"type": "watch", "conversation_id": cid})
        assert receive_until(ws, "watching")["data"] == {"conversation_id": cid, "ok": True}
        ws.send_json({"type": "typing", "conversation_id": cid, "typing": True})  # ignored: not held
        with db.session() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            service.publish_typing(web.app.state.bus, service.ConversationRef.of(conversation), "customer", True)
        assert receive_until(ws, "chat.typing")["data"]["side"] == "customer"


def test_a_chat_the_customer_ends_is_shown_as_ended(web: TestClient, db: Database, me: int) -> None:
    """The page learns the chat ended (it keeps the panel, marked) rather than that it was handed on."""
    cid = held_chat(db, me)
    login(web, "me", PASSWORD)
    with web.websocket_connect("/console/chat-ws") as ws:
        assert ws.receive_json()["data"]["chats"] == [cid]
        with db.transaction() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            handle = service.ChatHandle("t", "v", conversation_id=cid)
            service.close_by_customer(s, handle)
        frames = []
        while not frames or frames[-1]["kind"] != "chats":
            frames.append(ws.receive_json())
        assert frames[-1]["data"] == {"chats": [], "offers": [], "ended": [cid]}  # ended, not handed on
        closed = receive_until(ws, "conversation.updated")  # its last events still come
        assert closed["data"]["status"] == "closed" and closed["data"]["closed_by"] == "customer"
