"""The customer chat socket: welcome, bot answers, live agent messages, typing and read receipts, queue
position, resume after a disconnect with every message exactly once, out of hours, CSAT, attachments;
and two server workers sharing PostgreSQL and Redis."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import WebSocketDisconnect
from fastapi.testclient import TestClient
from sqlalchemy import select

from sangdam.channels.webchat import service
from sangdam.conversations.actions import change_status, send_outbound
from sangdam.core.db import Database
from sangdam.core.settings import Settings
from sangdam.models import Agent, Conversation
from sangdam.privacy.audit import Actor
from tests.channels.webchat.conftest import (
    RecordingBus,
    free_port,
)
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    drop_postgres_database,
    make_postgres_database,
    needs_postgres,
    needs_redis,
)

pytestmark = pytest.mark.timeout(30)

Frame = dict[str, Any]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def read_until(ws: Any, done: Callable[[list[Frame]], bool], limit: int = 60) -> list[Frame]:
    frames: list[Frame] = []
    while not done(frames):
        frames.append(ws.receive_json())
        assert len(frames) <= limit, frames
    return frames


def has(kind: str, **match: object) -> Callable[[list[Frame]], bool]:
    return lambda frames: any(f["type"] == kind and all(f.get(k) == v for k, v in match.items()) for f in frames)


def messages(frames: list[Frame]) -> list[Frame]:
    """Every message the widget learns of: message frames and the message inside each ack."""
    out = []
    for f in frames:
        if f["type"] == "message":
            out.append(f)
        elif f["type"] == "ack":
            out.append(f["message"])
    return out


def hello(ws: Any, token: str | None = None, after: int = 0, language: str = "ko") -> Frame:
    ws.send_json({"type": "hello", "token": token, "after": after, "language": language})
    welcome = ws.receive_json()
    assert welcome["type"] == "welcome", welcome
    return welcome


def agent_reply(db: Database, settings: Settings, conversation_id: int, agent_id: int, body: str) -> int:
    with db.transaction() as session:
        conversation = session.get(Conversation, conversation_id)
        agent = session.get(Agent, agent_id)
        return send_outbound(session, settings, conversation, agent, body, Actor("agent", agent_id)).id


def conversation_id_of(db: Database, receipt: str) -> int:
    with db.transaction() as session:
        return session.execute(select(Conversation.id).where(Conversation.receipt_number == receipt)).scalar_one()


@pytest.fixture
def chat_client(app: Any, open_hours: Database) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_welcome_then_a_bot_answer_with_quick_replies(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        welcome = hello(ws)
        assert welcome["token"] and welcome["status"] == "new" and not welcome["resumed"]
        assert welcome["hours"]["open"] is True
        assert {"code": "lost_card", "name": "분실/도난"} in welcome["topics"]
        assert "채팅 상담" in welcome["greeting"]
        ws.send_json({"type": "message", "client_id": "c1", "body": "포인트를 현금으로 바꿀 수 있나요?"})
        frames = read_until(ws, lambda fs: any(m["sender"] == "bot" for m in messages(fs)))
        ack = next(f for f in frames if f["type"] == "ack")
        assert ack["client_id"] == "c1" and ack["duplicate"] is False
        assert ack["message"]["body"] == "포인트를 현금으로 바꿀 수 있나요?" and ack["message"]["client_id"] == "c1"
        bot = next(m for m in messages(frames) if m["sender"] == "bot")
        assert [q["value"] for q in bot["quick_replies"]] == ["helpful", "other", "agent"]
        assert [q["label"] for q in bot["quick_replies"]] == ["도움이 됐어요", "다른 질문", "상담원 연결"]
        assert [m["id"] for m in messages(frames)].count(ack["message_id"]) == 1
        ws.send_json({"type": "ping"})
        read_until(ws, has("pong"))


def test_resume_after_a_disconnect_sees_every_message_exactly_once(
    chat_client: TestClient, db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    seen: list[Frame] = []
    with chat_client.websocket_connect("/chat/ws") as ws:
        token = hello(ws)["token"]
        ws.send_json({"type": "quick_reply", "client_id": "q1", "value": "agent"})
        seen += read_until(ws, lambda fs: any(m["sender"] == "system" for m in messages(fs)))
        for i in range(1, 4):
            ws.send_json({"type": "message", "client_id": f"m{i}", "body": f"메시지 {i}"})
        seen += read_until(ws, lambda fs: sum(f["type"] == "ack" for f in fs) == 3)
    receipt = None
    with chat_client.websocket_connect("/chat/ws") as ws:  # a quick look, to learn the receipt number
        receipt = hello(ws, token, after=10**9)["receipt_number"]
    cid = conversation_id_of(db, receipt)
    # While the customer is away the agent answers twice.
    away = [agent_reply(db, settings, cid, agents["admin"], f"답변 {i}") for i in (1, 2)]
    last_seen = max(m["id"] for m in messages(seen))
    with chat_client.websocket_connect("/chat/ws") as ws:
        welcome = hello(ws, token, after=last_seen)
        assert welcome["resumed"] and welcome["status"] == "waiting_customer"
        # The outbox is resent as it was (the last message was never acknowledged, say): stored once.
        ws.send_json({"type": "message", "client_id": "m3", "body": "메시지 3"})
        ws.send_json({"type": "message", "client_id": "m4", "body": "메시지 4"})
        frames = read_until(ws, lambda fs: has("ack", client_id="m4")(fs) and has("ack", client_id="m3")(fs))
        got = messages(frames)
        assert [m["id"] for m in got if m["sender"] == "agent"] == away
        assert next(f for f in frames if f.get("client_id") == "m3" and f["type"] == "ack")["duplicate"] is True
        seen += frames
    # A reload with nothing in memory gets the whole conversation, each message once, in order.
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws, token, after=0)
        everything = read_until(ws, has("status"))
    history = [m for m in everything if m["type"] == "message"]
    ids = [m["id"] for m in history]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    bodies = [m["body"] for m in history if m["sender"] == "customer"]
    assert bodies == ["상담원 연결", "메시지 1", "메시지 2", "메시지 3", "메시지 4"]
    assert {m["id"] for m in messages(seen)} == set(ids)
    unique_seen = [m["id"] for m in messages(seen)]
    assert len(unique_seen) - len(set(unique_seen)) == 1  # only the resent m3's ack repeated a message


def test_live_agent_messages_typing_read_receipts_and_queue_position(
    chat_client: TestClient, db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    app = chat_client.app
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_json({"type": "message", "client_id": "c1", "body": "상담원 연결해 주세요"})
        frames = read_until(ws, lambda fs: has("queue")(fs) and has("status", status="queued")(fs))
        queue = next(f for f in frames if f["type"] == "queue")
        assert queue["position"] == 1 and "대기 순서 1번째" in queue["text"] and queue["wait_seconds"] > 0
        customer_id = next(f for f in frames if f["type"] == "ack")["message_id"]
        with db.transaction() as session:
            conversation = session.execute(select(Conversation).order_by(Conversation.id.desc())).scalars().first()
            assert conversation is not None
            cid = conversation.id
            service.mark_read(session, conversation, "agent", customer_id, agent_id=agents["admin"])
        read_until(ws, has("read", message_id=customer_id))
        with db.session() as session:
            conversation = session.get(Conversation, cid)
            service.publish_typing(app.state.bus, conversation, "agent", True, agents["admin"])  # type: ignore[arg-type]
        read_until(ws, has("typing", typing=True))
        reply = agent_reply(db, settings, cid, agents["admin"], "안녕하세요, 상담원 이상담입니다.")
        frames = read_until(ws, has("message", id=reply))
        message = next(f for f in frames if f["type"] == "message" and f["id"] == reply)
        assert message["sender"] == "agent" and message["agent_name"] == "관리자"
        ws.send_json({"type": "typing", "typing": True})
        ws.send_json({"type": "read", "message_id": reply})
        ws.send_json({"type": "ping"})
        read_until(ws, has("pong"))
    bus: RecordingBus = app.state.bus
    assert any(e.kind == "chat.typing" and e.data["side"] == "customer" for e in bus.events)
    deadline = time.time() + 5
    while not any(e.kind == "chat.read" and e.data["side"] == "customer" for e in bus.events):
        assert time.time() < deadline
        time.sleep(0.05)
    assert [e.data["online"] for e in bus.of("chat.presence")] == [True, False]


def test_the_chat_ends_the_customer_rates_it(
    chat_client: TestClient, db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_json({"type": "quick_reply", "client_id": "c1", "value": "agent"})
        read_until(ws, has("ack"))
        with db.transaction() as session:
            cid = session.execute(select(Conversation.id).order_by(Conversation.id.desc())).scalars().first()
            conversation = session.get(Conversation, cid)
            admin = session.get(Agent, agents["admin"])
            change_status(session, conversation, "closed", admin, Actor("agent", admin.id))  # type: ignore[arg-type]
        read_until(ws, has("status", status="closed", ended=True))
        ws.send_json({"type": "message", "client_id": "late", "body": "하나 더요"})
        error = read_until(ws, has("error"))[-1]
        assert error["code"] == "chat_ended" and error["client_id"] == "late"
        ws.send_json({"type": "rate", "score": 9})
        assert read_until(ws, has("error"))[-1]["field"] == "score"
        ws.send_json({"type": "rate", "score": 4, "comment": "빨랐어요"})
        read_until(ws, has("rated", score=4))


def test_the_customer_can_end_the_chat(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_json({"type": "quick_reply", "client_id": "c1", "value": "agent"})
        read_until(ws, has("status", status="queued"))
        ws.send_json({"type": "close"})
        frames = read_until(ws, has("status", status="closed"))
        assert any(m["body"] == "고객님이 채팅을 종료했습니다." for m in messages(frames))


def test_attachments_both_ways(chat_client: TestClient, db: Database, agents: dict[str, int]) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_json({"type": "quick_reply", "client_id": "c0", "value": "agent"})
        read_until(ws, has("ack"))
        data = base64.b64encode(PNG).decode()
        ws.send_json({"type": "attachment", "client_id": "a1", "filename": "영수증.png", "data": data})
        ack = read_until(ws, has("ack", client_id="a1"))[-1]
        attachment = ack["message"]["attachments"][0]
        assert attachment["filename"] == "영수증.png" and attachment["content_type"] == "image/png"
        ws.send_json({"type": "file", "id": attachment["id"]})
        file = read_until(ws, has("file"))[-1]
        assert base64.b64decode(file["data"]) == PNG
        ws.send_json(
            {
                "type": "attachment",
                "client_id": "a2",
                "filename": "x.exe",
                "data": base64.b64encode(b"MZ\x90\x00").decode(),
            }
        )
        error = read_until(ws, has("error"))[-1]
        assert error["field"] == "attachments" and error["client_id"] == "a2"
        ws.send_json({"type": "file", "id": attachment["id"] + 1000})
        assert read_until(ws, has("error"))[-1]["code"] == "not_found"


def test_bad_frames_get_errors_not_disconnects(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_text("not json")
        assert read_until(ws, has("error"))[-1]["code"] == "bad_frame"
        ws.send_json({"type": "shout"})
        assert read_until(ws, has("error"))[-1]["code"] == "bad_frame"
        ws.send_json({"type": "message", "body": "client id 없음"})
        assert read_until(ws, has("error"))[-1]["field"] == "client_id"
        ws.send_json({"type": "message", "client_id": "x" * 100, "body": "너무 긴 id"})
        assert read_until(ws, has("error"))[-1]["field"] == "client_id"
        ws.send_json({"type": "ping"})
        read_until(ws, has("pong"))


def test_a_flood_of_messages_is_slowed_down(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        hello(ws)
        ws.send_json({"type": "quick_reply", "client_id": "c0", "value": "agent"})
        for i in range(25):
            ws.send_json({"type": "message", "client_id": f"f{i}", "body": f"{i}"})
        frames = read_until(
            ws,
            lambda fs: sum(f["type"] in ("ack", "error") and f.get("client_id", "").startswith("f") for f in fs) == 25,
        )
        errors = [f for f in frames if f["type"] == "error"]
        assert errors and all(e["code"] == "too_many_requests" for e in errors)


def test_a_socket_that_never_says_hello_is_closed(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/chat/ws") as ws:
        ws.send_json({"type": "message", "client_id": "c1", "body": "안녕"})
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_out_of_hours_the_widget_offers_to_leave_a_message(
    app: Any, closed_hours: object, db: Database, settings: Settings
) -> None:
    with TestClient(app) as client, client.websocket_connect("/chat/ws") as ws:
        welcome = hello(ws)
        assert welcome["hours"]["open"] is False and "상담을 시작합니다" in welcome["hours"]["message"]
        ws.send_json({"type": "quick_reply", "client_id": "c1", "value": "agent"})
        offline = read_until(ws, has("offline"))[-1]
        assert offline["opens_at"] and "상담을 시작합니다" in offline["message"]
        frame = {
            "type": "leave_message",
            "client_id": "leave-1",
            "name": "홍길동",
            "phone": "010-2222-3333",
            "body": "연회비 환불이 가능한지 알려 주세요.",
            "consent": True,
        }
        ws.send_json(frame)
        left = read_until(ws, has("left_message"))[-1]
        ws.send_json(frame)  # the widget retried: the same inquiry
        again = read_until(ws, has("left_message"))[-1]
        assert again["receipt_number"] == left["receipt_number"]
    with db.transaction() as session:
        conversation = session.execute(
            select(Conversation).where(Conversation.receipt_number == left["receipt_number"])
        ).scalar_one()
        assert conversation.status == "queued" and conversation.contact_phone == "+821022223333"


def test_the_portal_chat_page_and_widget(client: TestClient) -> None:
    page = client.get("/chat")
    assert page.status_code == 200 and "data-sangdam-chat-inline" in page.text and "/static/widget.js" in page.text
    assert 'href="/chat"' in client.get("/").text
    widget = client.get("/static/widget.js")
    assert widget.status_code == 200 and "data-sangdam-chat" in widget.text


# --------------------------------------------------------------- two workers: PostgreSQL + Redis


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn\n"
        "from sangdam.web.app import create_app\n"
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, events: str = "redis") -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if json.loads(response.read())["events"] == events:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"worker on {port} did not start:\n{log.read_text()}")


@needs_postgres
@needs_redis
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_two_workers_share_a_chat_through_postgres_and_redis(tmp_path: Path) -> None:
    from websockets.sync.client import connect

    assert POSTGRES_URL and REDIS_URL
    url = make_postgres_database()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        setup = Database(url, RecordingBus())
        from sangdam.cli import prepare_database
        from sangdam.knowledge.demo import load_demo_articles
        from tests.channels.webchat.conftest import _set_chat_hours

        prepare_database(setup)
        with setup.transaction() as session:
            load_demo_articles(session)
        from datetime import time as clock

        _set_chat_hours(setup, [(d, clock(0), clock(0)) for d in range(7)])
        setup.dispose()
        env = {
            **os.environ,
            "SANGDAM_DATABASE_URL": url,
            "SANGDAM_REDIS_URL": REDIS_URL,
            "SANGDAM_SECRET_KEY": "two-workers",
            "SANGDAM_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parents[3] / "src"), os.environ.get("PYTHONPATH", "")]
            ),
        }
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            processes.append(_serve(port, env, tmp_path / f"worker{i}.log"))
        for i, port in enumerate(ports):
            _wait_ready(port, processes[i], tmp_path / f"worker{i}.log")

        def recv(ws: Any) -> Frame:
            return json.loads(ws.recv(timeout=20))

        def until(ws: Any, done: Callable[[list[Frame]], bool]) -> list[Frame]:
            frames: list[Frame] = []
            while not done(frames):
                frames.append(recv(ws))
            return frames

        with connect(f"ws://127.0.0.1:{ports[0]}/chat/ws") as a:
            a.send(json.dumps({"type": "hello", "token": None, "after": 0, "language": "ko"}))
            token = recv(a)["token"]
            a.send(json.dumps({"type": "message", "client_id": "c1", "body": "연회비가 얼마예요?"}))
            first = until(a, lambda fs: any(m["sender"] == "bot" for m in messages(fs)))
            with connect(f"ws://127.0.0.1:{ports[1]}/chat/ws") as b:  # the same chat, on the other worker
                b.send(json.dumps({"type": "hello", "token": token, "after": 0, "language": "ko"}))
                welcome = recv(b)
                assert welcome["resumed"] and welcome["status"] == "bot"
                history = until(b, has("status"))
                assert [m["id"] for m in messages(history)] == [m["id"] for m in messages(first)]
                a.send(json.dumps({"type": "quick_reply", "client_id": "c2", "value": "agent"}))
                live = until(b, lambda fs: has("status", status="queued")(fs) and has("queue")(fs))
                assert [m["body"] for m in messages(live) if m["sender"] == "customer"] == ["상담원 연결"]
                assert next(f for f in live if f["type"] == "queue")["position"] == 1
                a.send(json.dumps({"type": "typing", "typing": True}))
                b.send(json.dumps({"type": "message", "client_id": "c3", "body": "다른 창에서 보냅니다"}))
                seen_on_a = until(a, lambda fs: any(m.get("client_id") == "c3" for m in messages(fs)))
                assert sum(1 for m in messages(seen_on_a) if m.get("client_id") == "c3") == 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_postgres_database(url)


@pytest.mark.timeout(180)
def test_a_chat_survives_a_server_restart(tmp_path: Path) -> None:
    """Everything is in the database: after a restart the same token resumes the same chat."""
    from websockets.sync.client import connect

    from sangdam.cli import prepare_database
    from sangdam.core.events import EventBus
    from tests.channels.webchat.conftest import _set_chat_hours

    data = tmp_path / "data"
    url = f"sqlite:///{data / 'sangdam.db'}"
    setup = Database(url, EventBus())
    prepare_database(setup)
    from datetime import time as clock

    _set_chat_hours(setup, [(d, clock(0), clock(0)) for d in range(7)])
    setup.dispose()
    env = {
        **os.environ,
        "SANGDAM_DATA_DIR": str(data),
        "SANGDAM_SECRET_KEY": "restart",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[3] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    env.pop("SANGDAM_REDIS_URL", None)
    env.pop("SANGDAM_DATABASE_URL", None)
    port = free_port()

    def recv(ws: Any) -> Frame:
        return json.loads(ws.recv(timeout=20))

    def until(ws: Any, done: Callable[[list[Frame]], bool]) -> list[Frame]:
        frames: list[Frame] = []
        while not done(frames):
            frames.append(recv(ws))
        return frames

    first = _serve(port, env, tmp_path / "first.log")
    try:
        _wait_ready(port, first, tmp_path / "first.log", events="memory")
        with connect(f"ws://127.0.0.1:{port}/chat/ws") as ws:
            ws.send(json.dumps({"type": "hello", "token": None, "after": 0, "language": "ko"}))
            token = recv(ws)["token"]
            ws.send(json.dumps({"type": "quick_reply", "client_id": "c1", "value": "agent"}))
            ws.send(json.dumps({"type": "message", "client_id": "c2", "body": "재시작 전 메시지"}))
            before = until(ws, has("ack", client_id="c2"))
    finally:
        first.terminate()
        first.wait(timeout=15)
    second = _serve(port, env, tmp_path / "second.log")
    try:
        _wait_ready(port, second, tmp_path / "second.log", events="memory")
        with connect(f"ws://127.0.0.1:{port}/chat/ws") as ws:
            ws.send(json.dumps({"type": "hello", "token": token, "after": 0, "language": "ko"}))
            welcome = recv(ws)
            assert welcome["resumed"] and welcome["status"] == "queued"
            ws.send(json.dumps({"type": "message", "client_id": "c2", "body": "재시작 전 메시지"}))  # resent
            after = until(ws, lambda fs: has("ack", client_id="c2")(fs) and has("queue")(fs))
    finally:
        second.terminate()
        second.wait(timeout=15)
    ack = next(f for f in after if f["type"] == "ack")
    assert ack["duplicate"] is True
    ids_before = {m["id"] for m in messages(before)}
    history = [f for f in after if f["type"] == "message"]
    assert {m["id"] for m in history} >= ids_before
    assert [m["body"] for m in history if m["sender"] == "customer"] == ["상담원 연결", "재시작 전 메시지"]
    assert next(f for f in after if f["type"] == "queue")["position"] == 1
