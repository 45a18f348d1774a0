"""channels.webchat.presence: an agent who disconnects gets a grace period, then their chats go
back to the front of their queues — state in the database, so any worker can act, exactly once."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sangdam.channels.webchat import presence
from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.models import Agent, Message
from sangdam.models.presence import AgentConnection
from sangdam.models.routing import EntryState
from sangdam.routing import queries as routing_queries
from tests.channels.webchat.agent_helpers import PASSWORD, held_chat, make_agent, queued_chat
from tests.web.helpers import login

GRACE = 60.0


@pytest.fixture
def events(bus: EventBus, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    published: list[Event] = []
    monkeypatch.setattr(bus, "publish", published.append)
    return published


def connect(db: Database, agent_id: int, at: datetime, kind: str = "chat") -> str:
    with db.transaction() as s:
        return presence.connect(s, agent_id, kind, worker="test:1", now=at)


def disconnect(db: Database, connection_id: str, at: datetime) -> None:
    with db.transaction() as s:
        presence.disconnect(s, connection_id, at)


def status_of(db: Database, agent_id: int) -> str:
    with db.session() as s:
        agent = s.get(Agent, agent_id)
        assert agent is not None
        return agent.status


def notices(db: Database, cid: int) -> list[str]:
    with db.session() as s:
        return list(
            s.execute(
                select(Message.body).where(Message.conversation_id == cid, Message.sender_kind == "system")
            ).scalars()
        )


def test_after_the_grace_the_chats_go_to_the_front_of_their_queue(db: Database, events: list[Event]) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me", chat_capacity=2)
    mine = [held_chat(db, me), held_chat(db, me)]
    # Others already waiting in the same queue, one of them a VIP (higher priority) and all older.
    waiting = [queued_chat(db, tier="vip"), queued_chat(db), queued_chat(db, tier="gold")]
    t0 = now()
    connection = connect(db, me, t0)
    disconnect(db, connection, t0 + timedelta(seconds=5))

    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=5 + GRACE - 1)) == {}
    assert status_of(db, me) == "available"

    done = presence.sweep(db, GRACE, t0 + timedelta(seconds=5 + GRACE + 1))
    assert done == {me: sorted(mine)}
    assert status_of(db, me) == "offline"
    with db.session() as s:
        places = {cid: routing_queries.position(s, cid) for cid in mine + waiting}
        entries = {cid: routing_queries.entry_for(s, cid) for cid in mine}
        rows = s.execute(select(func.count()).select_from(AgentConnection)).scalar_one()
    assert sorted(places[cid] for cid in mine) == [1, 2]  # at the front, ahead of the VIP
    assert sorted(places[cid] for cid in waiting) == [3, 4, 5]
    assert all(e is not None and e.state == EntryState.WAITING and e.agent_id is None for e in entries.values())
    assert rows == 0
    for cid in mine:
        assert any("상담원 연결이 끊어져" in body for body in notices(db, cid))
    requeued = [e for e in events if e.kind == "routing.requeued"]
    assert {e.data["conversation_id"] for e in requeued} == set(mine)
    assert any(e.kind == "agent.status" and e.data["status"] == "offline" for e in events)
    # Nothing left to do: a second sweep (another worker, say) changes nothing.
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=5 + GRACE + 30)) == {}


def test_coming_back_within_the_grace_cancels_it(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    t0 = now()
    disconnect(db, connect(db, me, t0), t0 + timedelta(seconds=1))
    back = connect(db, me, t0 + timedelta(seconds=20))  # the page reloaded
    with db.transaction() as s:
        presence.heartbeat(s, [back], t0 + timedelta(seconds=60))  # its worker keeps it fresh
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=GRACE + 30)) == {}
    assert status_of(db, me) == "available"
    with db.session() as s:
        entry = routing_queries.entry_for(s, cid)
        assert entry is not None and entry.state == EntryState.ASSIGNED and entry.agent_id == me
        assert presence.presence_of(s, me, t0 + timedelta(seconds=GRACE + 30)).online


def test_the_grace_starts_when_the_last_socket_closes(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    held_chat(db, me)
    t0 = now()
    console = connect(db, me, t0, "console")
    chat_socket = connect(db, me, t0, "chat")
    disconnect(db, chat_socket, t0 + timedelta(seconds=1))
    with db.session() as s:
        assert presence.presence_of(s, me, t0 + timedelta(seconds=2)).online
    # Refreshed by its worker, the console's socket stays live however long it is open.
    with db.transaction() as s:
        assert presence.heartbeat(s, [console, chat_socket], t0 + timedelta(seconds=100)) == 1
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=120)) == {}
    disconnect(db, console, t0 + timedelta(seconds=130))
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=130 + GRACE - 1)) == {}
    assert me in presence.sweep(db, GRACE, t0 + timedelta(seconds=130 + GRACE))


def test_a_socket_of_a_worker_that_died_counts_as_closed_when_last_seen(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    held_chat(db, me)
    t0 = now()
    connect(db, me, t0)  # never closed, never refreshed: its worker is gone
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=presence.STALE_S - 1)) == {}
    assert presence.sweep(db, GRACE, t0 + timedelta(seconds=GRACE - 1)) == {}
    assert me in presence.sweep(db, GRACE, t0 + timedelta(seconds=max(GRACE, presence.STALE_S) + 1))


def test_an_agent_never_seen_is_left_alone(db: Database) -> None:
    """Agents working through the API (no socket ever) are not set offline by presence."""
    with db.transaction() as s:
        me = make_agent(s, "me")
    held_chat(db, me)
    assert presence.sweep(db, 0, now() + timedelta(hours=1)) == {}
    assert status_of(db, me) == "available"


def test_two_workers_sweeping_at_once_requeue_once(db: Database, bus: EventBus) -> None:
    """Each worker runs its own loop over the same database: one of them acts, the other finds nothing."""
    with db.transaction() as s:
        me = make_agent(s, "me", chat_capacity=3)
    mine = [held_chat(db, me) for _ in range(3)]
    t0 = now()
    disconnect(db, connect(db, me, t0), t0)
    workers = [db, Database(db.url, bus)]  # the second has its own engine, as another process would
    results: list[dict[int, list[int]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def run(worker: Database) -> None:
        try:
            start.wait()
            results.append(presence.sweep(worker, GRACE, t0 + timedelta(seconds=GRACE + 1)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    workers[1].dispose()
    assert not errors, errors
    acted = [r for r in results if r]
    assert acted == [{me: sorted(mine)}]
    for cid in mine:
        assert sum("상담원 연결이 끊어져" in body for body in notices(db, cid)) == 1


# ---------------------------------------------------------------------------- through the web


@pytest.fixture
def web_settings(data_dir) -> Settings:  # type: ignore[no-untyped-def]
    # No dispatcher: the test decides when offers are made. A long grace: the test sweeps itself.
    return Settings(data_dir=data_dir, secret_key="test-secret", dispatch_interval_seconds=0, agent_grace_seconds=3600)


@pytest.fixture
def web(web_settings: Settings, db: Database) -> TestClient:
    from sangdam.web.app import create_app

    return TestClient(create_app(web_settings, database=db, run_migrations=False))


def rows(db: Database, agent_id: int) -> list[AgentConnection]:
    with db.session() as s:
        return list(s.execute(select(AgentConnection).where(AgentConnection.agent_id == agent_id)).scalars())


def wait_for(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_console_and_chat_sockets_are_the_agents_presence(web: TestClient, db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    with web:
        login(web, "me", PASSWORD)
        with web.websocket_connect("/console/ws") as console:
            assert console.receive_json()["kind"] == "hello"
            with web.websocket_connect("/console/chat-ws") as chat_ws:
                assert chat_ws.receive_json()["kind"] == "hello"
                wait_for(lambda: len([r for r in rows(db, me) if r.closed_at is None]) == 2)
                assert sorted(r.kind for r in rows(db, me)) == ["chat", "console"]
            wait_for(lambda: len([r for r in rows(db, me) if r.closed_at is None]) == 1)
            assert presence.sweep(db, 0, now() + timedelta(seconds=1)) == {}  # the console is still open
        wait_for(lambda: all(r.closed_at is not None for r in rows(db, me)))
        assert presence.sweep(db, 0, now() + timedelta(seconds=1)) == {me: [cid]}
        assert status_of(db, me) == "offline"


def test_a_socket_without_a_session_leaves_no_trace(web: TestClient, db: Database) -> None:
    with web:
        with pytest.raises(Exception), web.websocket_connect("/console/chat-ws") as ws:  # noqa: B017
            ws.receive_json()
        with db.session() as s:
            assert s.execute(select(func.count()).select_from(AgentConnection)).scalar_one() == 0


def test_the_loop_requeues_on_its_own(data_dir, db: Database) -> None:  # type: ignore[no-untyped-def]
    """With a short grace the app's own loop does the work: no test calls sweep here."""
    from sangdam.web.app import create_app

    settings = Settings(data_dir=data_dir, secret_key="s", dispatch_interval_seconds=0, agent_grace_seconds=0.5)
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    with TestClient(create_app(settings, database=db, run_migrations=False)) as web:
        login(web, "me", PASSWORD)
        with web.websocket_connect("/console/chat-ws") as ws:
            assert ws.receive_json()["kind"] == "hello"
        wait_for(lambda: status_of(db, me) == "offline", timeout=10)
    with db.session() as s:
        assert routing_queries.position(s, cid) == 1
