"""Two server workers on one PostgreSQL database and one Redis: the agent side of chat scales out.

Each worker is a real uvicorn server (its own engine, connection pool, Redis event bus, routing
dispatcher and presence loop), as ``sangdam serve --workers 2`` behind a load balancer would run.
The agent's browser may talk to either: the console session, the routing state and the presence
rows are in PostgreSQL, the events go through Redis.

- Capacity: both dispatchers offer at once, and no agent ever holds more chats than their chat
  capacity; a transfer to a colleague with one free slot, asked on both workers at once, succeeds once.
- Events: the customer's typing published on worker A reaches the agent's chat socket on worker B;
  the agent's reply posted on A reaches the socket on B.
- Disconnect: the agent's socket on B closes; coming back on A within the grace period cancels it;
  closing again, after the grace the chats go back to the front of their queue, exactly once.

Skipped unless ``SANGDAM_TEST_POSTGRES_URL`` and ``SANGDAM_TEST_REDIS_URL`` are set.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from sqlalchemy import func, select
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from sangdam.channels.webchat import service
from sangdam.cli import prepare_database
from sangdam.core.db import Database
from sangdam.core.events import EventBus, RedisEventBus
from sangdam.core.settings import Settings
from sangdam.models import Agent, AuditEvent, Conversation, Message
from sangdam.models.routing import EntryState, RoutingEntry
from sangdam.routing import queries as routing_queries
from tests.channels.webchat.agent_helpers import PASSWORD, make_agent, make_chat
from tests.conftest import REDIS_URL, drop_postgres_database, make_postgres_database, needs_postgres, needs_redis

pytestmark = [needs_postgres, needs_redis, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

GRACE_S = 1.5


@dataclass
class Worker:
    name: str
    url: str
    db: Database
    bus: RedisEventBus
    server: uvicorn.Server
    thread: threading.Thread


@dataclass
class Cluster:
    url: str  # the database
    workers: list[Worker]
    setup: Database

    @property
    def a(self) -> Worker:
        return self.workers[0]

    @property
    def b(self) -> Worker:
        return self.workers[1]


def _start(name: str, url: str, channel: str, data_dir: Path) -> Worker:
    from sangdam.web.app import create_app
    from tests.web.test_browser import _free_socket

    assert REDIS_URL
    settings = Settings(
        data_dir=data_dir,
        secret_key="two-workers-secret",  # the same on every worker
        database_url=url,
        redis_url=REDIS_URL,
        dispatch_interval_seconds=0.3,
        agent_grace_seconds=GRACE_S,
    )
    bus = RedisEventBus(REDIS_URL, channel)
    db = Database(url, bus)
    app = create_app(settings, database=db, bus=bus, run_migrations=False)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} did not start")
        time.sleep(0.05)
    return Worker(name, f"127.0.0.1:{port}", db, bus, server, thread)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    url = make_postgres_database()
    setup = Database(url, EventBus())
    prepare_database(setup)  # schema, topics, a queue per topic
    channel = f"sangdam:test:{uuid.uuid4().hex}"  # this test's own event stream on the shared Redis
    workers: list[Worker] = []
    try:
        workers = [_start(n, url, channel, tmp_path / n) for n in ("a", "b")]
        yield Cluster(url, workers, setup)
    finally:
        for worker in workers:
            worker.server.should_exit = True
        for worker in workers:
            worker.thread.join(timeout=15)
            worker.db.dispose()
        setup.dispose()
        drop_postgres_database(url)


def wait_for(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def queued_chats(db: Database, count: int, topic: str = "payment_billing") -> list[int]:
    from sangdam.routing import actions as routing

    made = []
    with db.transaction() as session:
        for _ in range(count):
            cid = make_chat(session, topic=topic)
            routing.enqueue(session, session.get(Conversation, cid))  # type: ignore[arg-type]
            made.append(cid)
    return made


def load(db: Database) -> dict[int, int]:
    with db.session() as session:
        return {
            agent_id: count
            for agent_id, count in session.execute(
                select(RoutingEntry.agent_id, func.count())
                .where(
                    RoutingEntry.state.in_([EntryState.OFFERED, EntryState.ASSIGNED]),
                    RoutingEntry.channel == "webchat",
                )
                .group_by(RoutingEntry.agent_id)
            )
        }


def sign_in(http: httpx.Client, worker: Worker, login: str) -> str:
    """Sign in through worker's login form; returns the session's CSRF token."""
    page = http.get(f"http://{worker.url}/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = http.post(
        f"http://{worker.url}/console/login",
        data={"csrf_token": token.group(1), "login": login, "password": PASSWORD, "next": "/console/chats"},
    )
    assert r.status_code == 303, r.text
    return http.cookies["sangdam_csrf"]


@contextmanager
def chat_socket(http: httpx.Client, worker: Worker) -> Iterator[ClientConnection]:
    """The agent's workspace socket on ``worker``, greeted; closed at the end of the block."""
    cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    with ws_connect(f"ws://{worker.url}/console/chat-ws", additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
        hello = orjson.loads(ws.recv(timeout=10))
        assert hello["kind"] == "hello"
        yield ws


def receive_until(ws: ClientConnection, match: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the frame never came"
        frame = orjson.loads(ws.recv(timeout=left))
        if match(frame):
            return frame


def test_two_dispatchers_never_exceed_an_agents_chat_capacity(cluster: Cluster) -> None:
    with cluster.setup.transaction() as session:
        two = make_agent(session, "two", chat_capacity=2)
        one = make_agent(session, "one", chat_capacity=1)
    chats = queued_chats(cluster.setup, 8)
    seen_max: dict[int, int] = {}

    def settled() -> bool:
        now_load = load(cluster.setup)
        for agent_id, count in now_load.items():
            seen_max[agent_id] = max(seen_max.get(agent_id, 0), count)
        return now_load.get(two) == 2 and now_load.get(one) == 1

    wait_for(settled)
    time.sleep(1.0)  # several more cycles of both dispatchers
    settled()
    assert seen_max == {two: 2, one: 1}
    with cluster.setup.session() as session:
        waiting = session.execute(
            select(func.count()).select_from(RoutingEntry).where(RoutingEntry.state == EntryState.WAITING)
        ).scalar_one()
    assert waiting == len(chats) - 3

    # The agent accepts on worker B what worker A (or B) offered: a session works on both workers.
    http = httpx.Client()
    csrf = sign_in(http, cluster.a, "two")
    with cluster.setup.session() as session:
        offered = [e.conversation_id for e in routing_queries.pending_offers(session, two)]
    for cid in offered:
        r = http.post(
            f"http://{cluster.b.url}/console/chats/{cid}/accept",
            data={"csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
    time.sleep(0.8)
    assert load(cluster.setup)[two] == 2  # still two: accepting frees no slot

    # Two agents hand a chat each to a colleague with one free slot, on both workers at once: one wins.
    with cluster.setup.transaction() as session:
        spare = make_agent(session, "spare", chat_capacity=1, status="break")
    other = httpx.Client()
    other_csrf = sign_in(other, cluster.b, "one")
    with cluster.setup.session() as session:
        ones = [e.conversation_id for e in routing_queries.pending_offers(session, one)]
    r = other.post(
        f"http://{cluster.b.url}/console/chats/{ones[0]}/accept",
        data={"csrf_token": other_csrf},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    results: list[int] = []
    start = threading.Barrier(2)

    def transfer(client: httpx.Client, worker: Worker, token: str, cid: int) -> None:
        start.wait()
        response = client.post(
            f"http://{worker.url}/console/chats/{cid}/transfer",
            data={"csrf_token": token, "target": f"agent:{spare}"},
            headers={"Accept": "application/json"},
        )
        results.append(response.status_code)

    threads = [
        threading.Thread(target=transfer, args=(http, cluster.a, csrf, offered[0])),
        threading.Thread(target=transfer, args=(other, cluster.b, other_csrf, ones[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 409]
    assert load(cluster.setup)[spare] == 1


def test_events_cross_workers_and_a_disconnected_agent_is_requeued_once(cluster: Cluster) -> None:
    with cluster.setup.transaction() as session:
        me = make_agent(session, "me", chat_capacity=2)
    mine = queued_chats(cluster.setup, 2)
    wait_for(lambda: load(cluster.setup).get(me) == 2)
    http = httpx.Client()
    csrf = sign_in(http, cluster.a, "me")
    for cid in mine:
        r = http.post(
            f"http://{cluster.a.url}/console/chats/{cid}/accept",
            data={"csrf_token": csrf},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
    others = queued_chats(cluster.setup, 2)  # nobody free: they wait

    # The agent's workspace socket is on worker B.
    with chat_socket(http, cluster.b) as ws:
        # The customer types on worker A (the customer's socket lives there): B's agent socket hears it.
        with cluster.a.db.session() as session:
            conversation = session.get(Conversation, mine[0])
            assert conversation is not None
            service.publish_typing(cluster.a.bus, service.ConversationRef.of(conversation), "customer", True)
        frame = receive_until(ws, lambda f: f["kind"] == "chat.typing")
        assert frame["data"]["conversation_id"] == mine[0] and frame["data"]["side"] == "customer"
        # The agent replies through worker A: the message event reaches the socket on B.
        r = http.post(
            f"http://{cluster.a.url}/console/chats/{mine[0]}/messages",
            data={"csrf_token": csrf, "body": "안녕하세요, 확인해 드리겠습니다."},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200, r.text
        frame = receive_until(ws, lambda f: f["kind"] == "message.created" and f["data"].get("sender_kind") == "agent")
        assert frame["data"]["message_id"] == r.json()["message_id"]

    # The socket on B dropped; the agent is back on A within the grace period: nothing happens.
    with chat_socket(http, cluster.a):
        time.sleep(GRACE_S * 2.5)
        with cluster.setup.session() as session:
            assert session.get(Agent, me).status == "available"  # type: ignore[union-attr]
        assert load(cluster.setup).get(me) == 2

    # Gone for good: after the grace, both workers' loops look; one requeues, at the front.
    wait_for(lambda: load(cluster.setup).get(me) is None, timeout=GRACE_S + 15)
    time.sleep(1.0)  # both loops have run again
    with cluster.setup.session() as session:
        assert session.get(Agent, me).status == "offline"  # type: ignore[union-attr]
        places = {cid: routing_queries.position(session, cid) for cid in mine + others}
        audits = session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "agent.disconnected")
        ).scalar_one()
        notices = {
            cid: session.execute(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == cid, Message.body.contains("상담원 연결이 끊어져"))
            ).scalar_one()
            for cid in mine
        }
    assert sorted(places[cid] for cid in mine) == [1, 2]
    assert sorted(places[cid] for cid in others) == [3, 4]
    assert audits == 1
    assert notices == {cid: 1 for cid in mine}
