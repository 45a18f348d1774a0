"""Chat benchmark: 1,000 customer WebSockets and 100 agent WebSockets on one server process.

Prepares a fresh SQLite data directory (``--postgres-url`` for PostgreSQL instead): 100 agents
(chat capacity 10 each) with console sessions, and 1,000 chats already handed from the bot to a
person and assigned (10 per agent), each with its customer's resumable token. Then starts the real
server (``python -m sangdam.cli serve``, one process) on a free port and connects:

* every customer to ``/chat/ws`` (``hello`` with its token: the chat is resumed);
* every agent to the agent workspace socket ``/console/chat-ws`` with its session cookie.

For ``--seconds`` (default 20) the customers send messages at ``--rate`` messages per second in total
(default 500, spread evenly over the customers, each at its own phase). The latency of a message is
from the customer's send to the agent's socket receiving its ``message.created`` event (matched by
the message id the customer's ``ack`` carries). The first ``--warmup`` seconds are not counted.

Prints one JSON line on stdout::

    {"bench": "chat", "customers": 1000, "agents": 100, "messages_per_s": …, "p50_ms": …, "p99_ms": …, …}

``messages_per_s`` is what the agents received per second over the measured window; ``undelivered``
counts measured messages that had not reached their agent when the run stopped (past saturation
they are still queued in the server, not lost: each is stored once its turn comes). Aim: p99 ≤ 100 ms at 500 messages/s
with a single server process. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import time as clock
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("SANGDAM_ARGON2_PROFILE", "test")  # the bench's throwaway agents: cheap password hashes

import orjson  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

SECRET = "chat-bench-" + uuid.uuid4().hex
BODIES = (
    "카드 결제일 변경하려고 하는데 이번 달부터 적용되나요?",
    "네 알겠습니다. 확인 감사합니다.",
    "명세서에 같은 금액이 두 번 찍혀 있어요.",
    "해외 결제 차단을 풀고 싶어요.",
    "포인트 전환은 언제 들어오나요?",
)


def log(message: str) -> None:
    print(f"chat: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------------- preparation


@dataclass
class Prepared:
    data_dir: Path
    database_url: str
    agent_cookies: list[str]
    customer_tokens: list[str]


def prepare(data_dir: Path, database_url: str, agents: int, customers: int) -> Prepared:
    from sqlalchemy import select

    from sangdam.channels.webchat import service
    from sangdam.cli import prepare_database
    from sangdam.conversations.actions import assign
    from sangdam.core.db import Database
    from sangdam.core.events import EventBus
    from sangdam.core.settings import Settings
    from sangdam.models import Agent, Conversation
    from sangdam.models.schedule import BusinessHoursRule
    from sangdam.privacy.audit import Actor
    from sangdam.routing.agents import create_agent
    from sangdam.web.auth import start_session

    settings = Settings(data_dir=data_dir, secret_key=SECRET, database_url=database_url)
    db = Database(database_url, EventBus())
    prepare_database(db)
    started = time.perf_counter()
    topics = ("payment_billing", "limit_approval", "points_benefits", "cancel_reissue", "other", "service_usage")
    request = SimpleNamespace(client=None, headers={})
    cookies: list[str] = []
    with db.transaction() as session:
        for weekday in range(7):  # chat answered around the clock, whenever the bench runs
            session.add(
                BusinessHoursRule(
                    queue=None,
                    channel="webchat",
                    weekday=weekday,
                    opens=clock(0),
                    closes=clock(0),
                    observe_holidays=False,
                )
            )
        admin = create_agent(session, login="benchadmin", name="관리자", password="bench-password-1", role="admin")
        for i in range(agents):
            agent = create_agent(
                session,
                login=f"bench{i:03d}",
                name=f"상담원{i:03d}",
                password="bench-password-1",
                skills={code: 3 for code in topics},
                capacity={"webchat": max(1, -(-customers // agents))},
            )
            session.flush()
            token, _ = start_session(session, settings, agent, request)  # type: ignore[arg-type]
            cookies.append(token)
        admin_id = admin.id
    with db.transaction() as session:
        agent_ids = list(
            session.execute(
                select(Agent.id).where(Agent.login.like("bench%"), Agent.role == "agent").order_by(Agent.id)
            ).scalars()
        )
    tokens: list[str] = []
    batch = 25
    for start in range(0, customers, batch):
        with db.transaction() as session:
            by = session.get(Agent, admin_id)
            for i in range(start, min(customers, start + batch)):
                token, visitor = service.new_token(settings)
                handle = service.ChatHandle(token, visitor)
                result = service.post_message(session, settings, handle, "start", quick_reply="agent")
                conversation = session.get(Conversation, result.conversation.id)
                agent = session.get(Agent, agent_ids[i % len(agent_ids)])
                assign(session, conversation, agent, by, Actor("agent", admin_id))  # type: ignore[arg-type]
                tokens.append(token)
    db.dispose()
    log(f"prepared {agents} agents and {customers} assigned chats in {time.perf_counter() - started:.1f} s")
    return Prepared(data_dir, database_url, cookies, tokens)


# ------------------------------------------------------------------------------------- server


def start_server(prepared: Prepared, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "SANGDAM_DATA_DIR": str(prepared.data_dir),
            "SANGDAM_DATABASE_URL": prepared.database_url,
            "SANGDAM_SECRET_KEY": SECRET,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])),
        }
    )
    env.pop("SANGDAM_REDIS_URL", None)
    log_path = prepared.data_dir / "server.log"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sangdam.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_ready(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chat: the server stopped:\n{log_path.read_text()[-3000:]}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            await writer.drain()
            head = await reader.read(64)
            writer.close()
            if b" 200 " in head:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("chat: the server did not start in time")


# ------------------------------------------------------------------------------------- clients


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)  # client id → send time
    acked: dict[str, int] = field(default_factory=dict)  # client id → message id
    acked_at: dict[str, float] = field(default_factory=dict)  # client id → when the customer got the ack
    received_at: dict[int, float] = field(default_factory=dict)  # message id → agent receive time
    errors: list[str] = field(default_factory=list)
    customers_ready: int = 0
    agents_ready: int = 0


async def agent_client(url: str, cookie: str, stats: Stats, ready: asyncio.Event, stop: asyncio.Event) -> None:
    try:
        async with connect(
            url, additional_headers={"Cookie": f"sangdam_session={cookie}"}, max_queue=None, open_timeout=60
        ) as ws:
            hello = orjson.loads(await ws.recv())
            if hello.get("kind") != "hello":
                stats.errors.append(f"agent hello: {hello}")
                return
            stats.agents_ready += 1
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                at = time.perf_counter()
                if b'"message.created"' not in (raw if isinstance(raw, bytes) else raw.encode()):
                    continue
                event = orjson.loads(raw)
                data = event.get("data") or {}
                if event.get("kind") == "message.created" and data.get("sender_kind") == "customer":
                    stats.received_at.setdefault(int(data["message_id"]), at)
    except Exception as exc:  # a failed connection is reported, not fatal to the run
        stats.errors.append(f"agent: {type(exc).__name__}: {exc}")


async def customer_client(
    url: str,
    index: int,
    token: str,
    stats: Stats,
    go: asyncio.Event,
    stop: asyncio.Event,
    interval: float,
    until: list[float],
) -> None:
    try:
        async with connect(url, max_queue=None, open_timeout=60) as ws:
            await ws.send(orjson.dumps({"type": "hello", "token": token, "after": 0, "language": "ko"}).decode())
            welcome = orjson.loads(await ws.recv())
            if welcome.get("type") != "welcome" or not welcome.get("resumed"):
                stats.errors.append(f"customer welcome: {welcome}")
                return
            stats.customers_ready += 1

            async def reader() -> None:
                async for raw in ws:
                    if b'"ack"' not in (raw if isinstance(raw, bytes) else raw.encode()):
                        continue
                    frame = orjson.loads(raw)
                    if frame.get("type") == "ack":
                        stats.acked[frame["client_id"]] = int(frame["message_id"])
                        stats.acked_at[frame["client_id"]] = time.perf_counter()

            task = asyncio.create_task(reader())
            await go.wait()
            loop = asyncio.get_running_loop()
            next_at = loop.time() + random.random() * interval  # each customer at its own phase
            n = 0
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
                if stop.is_set() or loop.time() >= until[0]:
                    break
                client_id = f"{index}-{n}"
                body = BODIES[(index + n) % len(BODIES)]
                stats.sent_at[client_id] = time.perf_counter()
                await ws.send(orjson.dumps({"type": "message", "client_id": client_id, "body": body}).decode())
                n += 1
                next_at += interval
            await stop.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    except Exception as exc:
        stats.errors.append(f"customer: {type(exc).__name__}: {exc}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run_load(
    prepared: Prepared, port: int, pid: int, rate: float, seconds: float, warmup: float
) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}"
    stats = Stats()
    stop = asyncio.Event()
    go = asyncio.Event()
    agent_ready = asyncio.Event()
    tasks = []
    for cookie in prepared.agent_cookies:
        tasks.append(asyncio.create_task(agent_client(f"{base}/console/chat-ws", cookie, stats, agent_ready, stop)))
        await asyncio.sleep(0.005)
    customers = len(prepared.customer_tokens)
    interval = customers / rate
    until = [0.0]
    connect_started = time.perf_counter()
    for i, token in enumerate(prepared.customer_tokens):
        tasks.append(
            asyncio.create_task(customer_client(f"{base}/chat/ws", i, token, stats, go, stop, interval, until))
        )
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + 120
    while (stats.customers_ready + stats.agents_ready + len(stats.errors)) < customers + len(prepared.agent_cookies):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    log(
        f"connected {stats.customers_ready} customers and {stats.agents_ready} agents "
        f"in {time.perf_counter() - connect_started:.1f} s ({len(stats.errors)} errors)"
    )
    await asyncio.sleep(2.0)  # let the resumed histories settle
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    until[0] = loop.time() + seconds
    cpu0 = cpu_seconds(pid)
    client_cpu0 = time.process_time()
    go.set()
    await asyncio.sleep(seconds)
    cpu1 = cpu_seconds(pid)
    client_cpu1 = time.process_time()
    await asyncio.sleep(2.0)  # the last messages arrive
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    measured_from = t0 + warmup
    measured_to = t0 + seconds
    latencies: list[float] = []
    ack_latencies: list[float] = []
    undelivered = 0
    delivered_in_window = 0
    for client_id, sent in stats.sent_at.items():
        if not measured_from <= sent < measured_to:
            continue
        message_id = stats.acked.get(client_id)
        if client_id in stats.acked_at:
            ack_latencies.append((stats.acked_at[client_id] - sent) * 1000)
        received = stats.received_at.get(message_id) if message_id is not None else None
        if received is None:
            undelivered += 1
            continue
        latencies.append((received - sent) * 1000)
    for received in stats.received_at.values():
        if measured_from <= received < measured_to:
            delivered_in_window += 1
    window = measured_to - measured_from
    return {
        "bench": "chat",
        "customers": stats.customers_ready,
        "agents": stats.agents_ready,
        "offered_rate": rate,
        "messages_per_s": round(delivered_in_window / window, 1) if window > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "ack_p50_ms": round(percentile(ack_latencies, 0.50), 2),
        "ack_p99_ms": round(percentile(ack_latencies, 0.99), 2),
        "measured_messages": len(latencies),
        "undelivered": undelivered,
        "sent": len(stats.sent_at),
        "seconds": seconds,
        "warmup_s": warmup,
        "server_cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None,
        "client_cpu_s": round(client_cpu1 - client_cpu0, 2),
        "errors": len(stats.errors),
        "error_sample": stats.errors[:3],
    }


# ---------------------------------------------------------------------------------------- main


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the clean-up (stop the server, drop the database)


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500.0, help="messages per second from all customers together")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--postgres-url", help="run on this PostgreSQL server (a database is created and dropped)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * (args.customers + args.agents) + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    data_dir = Path(tempfile.mkdtemp(prefix="sangdam-chat-bench-"))
    drop: str | None = None
    database_url = f"sqlite:///{data_dir / 'sangdam.db'}"
    if args.postgres_url:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"sangdam_chat_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        database_url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
        drop = name
    process: subprocess.Popen[bytes] | None = None
    try:
        prepared = prepare(data_dir, database_url, args.agents, args.customers)
        port = free_port()
        process = start_server(prepared, port)
        asyncio.run(wait_ready(port, process, data_dir / "server.log"))
        log(f"server pid {process.pid} on port {port}")
        result = asyncio.run(run_load(prepared, port, process.pid, args.rate, args.seconds, args.warmup))
        result["backend"] = "postgresql" if args.postgres_url else "sqlite"
        print(json.dumps(result, ensure_ascii=False), flush=True)
        if result["errors"]:
            log("server log tail:\n" + (data_dir / "server.log").read_text()[-2000:])
        return 0
    finally:
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if drop and args.postgres_url:
            from sqlalchemy import create_engine, text

            admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
