"""Agent presence and the disconnect grace period (연결 끊김 유예).

Every console page (``/console/ws``) and chat workspace (``/console/chat-ws``) holds a WebSocket.
:class:`PresenceMiddleware` writes one ``agent_connections`` row per socket when it is accepted and
closes the row when the socket ends, so every worker sees every agent's sockets. When an agent's
last socket closes, a grace period starts (``SANGDAM_AGENT_GRACE_SECONDS``, default 60):

- if any socket of theirs opens again in time (a reload, a flaky network, another tab), nothing
  happens — the grace period is simply over;
- otherwise the first worker to notice (each runs :meth:`PresenceTracker.run`) sets the agent
  offline through :func:`sangdam.routing.actions.agent_went_offline`, which withdraws their offers
  and returns their chats to their queues, and then puts those chats at the **front** of their
  queue: each entry's priority is raised to one above the highest other waiting entry of that
  queue (never lowered), while ``enqueued_at`` keeps the original wait. Queues order by priority
  then ``enqueued_at``, so the customer is next (position 1) and overflow timing is unchanged.
  The customer gets a system notice in the chat.

The state lives only in the database: a worker refreshes ``seen_at`` of its own open sockets
every :data:`HEARTBEAT_S`; a row not refreshed for :data:`STALE_S` belongs to a worker that died
and counts as closed at its ``seen_at``. Two workers acting on the same agent at once are kept
apart by the agent row's lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite), and the second finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sangdam.core.clock import as_utc
from sangdam.core.clock import now as clock_now
from sangdam.core.db import Database
from sangdam.core.errors import SangdamError
from sangdam.core.settings import Settings
from sangdam.models import Agent, Conversation
from sangdam.models.presence import AgentConnection
from sangdam.models.routing import EntryState, RoutingEntry
from sangdam.privacy.audit import Actor, record
from sangdam.routing import actions as routing
from sangdam.web.auth import SESSION_COOKIE, load_session

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # a worker refreshes its open sockets this often
STALE_S = 45.0  # an open row not refreshed for this long: its worker is gone
TRACKED_PATHS: dict[str, str] = {"/console/ws": "console", "/console/chat-ws": "chat"}
REQUEUE_NOTICE_KO = (
    "상담원 연결이 끊어져 다른 상담원을 연결하고 있습니다. 잠시만 기다려 주세요. 대화 내용은 그대로 이어집니다."
)


def _now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else clock_now()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# ---------------------------------------------------------------------------- rows


def connect(
    session: Session, agent_id: int, kind: str, *, worker: str | None = None, now: datetime | None = None
) -> str:
    """A socket of ``agent_id`` was accepted: one live row. Returns its id. Cancels a running grace."""
    at = _now(now)
    connection_id = secrets.token_hex(16)
    session.add(
        AgentConnection(
            id=connection_id,
            agent_id=agent_id,
            kind=kind,
            worker=worker or worker_name(),
            opened_at=at,
            seen_at=at,
        )
    )
    # Rows of sockets that closed before are of no use once the agent is back.
    session.execute(
        delete(AgentConnection).where(AgentConnection.agent_id == agent_id, AgentConnection.closed_at.isnot(None))
    )
    session.flush()
    return connection_id


def disconnect(session: Session, connection_id: str, now: datetime | None = None) -> None:
    """The socket ended: the row stays, closed, until the agent returns or the grace runs out."""
    at = _now(now)
    session.execute(
        update(AgentConnection)
        .where(AgentConnection.id == connection_id, AgentConnection.closed_at.is_(None))
        .values(closed_at=at, seen_at=at)
    )


def heartbeat(session: Session, connection_ids: Iterable[str], now: datetime | None = None) -> int:
    """Mark this worker's open sockets as alive; returns how many rows were refreshed."""
    ids = list(connection_ids)
    if not ids:
        return 0
    result = session.execute(
        update(AgentConnection)
        .where(AgentConnection.id.in_(ids), AgentConnection.closed_at.is_(None))
        .values(seen_at=_now(now))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Presence:
    agent_id: int
    online: bool
    gone_since: datetime | None  # when the last socket closed (None while online)
    connection_ids: tuple[str, ...]


def _presence(agent_id: int, rows: list[AgentConnection], at: datetime) -> Presence:
    stale = at - timedelta(seconds=STALE_S)
    online = any(r.closed_at is None and as_utc(r.seen_at) > stale for r in rows)
    gone = None if online or not rows else max(as_utc(r.closed_at or r.seen_at) for r in rows)
    return Presence(agent_id, online, gone, tuple(r.id for r in rows))


def presence_of(session: Session, agent_id: int, now: datetime | None = None) -> Presence:
    rows = list(session.execute(select(AgentConnection).where(AgentConnection.agent_id == agent_id)).scalars())
    return _presence(agent_id, rows, _now(now))


def due_agents(session: Session, grace_s: float, now: datetime | None = None) -> list[int]:
    """Agents whose last socket closed at least ``grace_s`` ago and who have not come back."""
    at = _now(now)
    cutoff = at - timedelta(seconds=grace_s)
    by_agent: dict[int, list[AgentConnection]] = {}
    for row in session.execute(select(AgentConnection).order_by(AgentConnection.agent_id)).scalars():
        by_agent.setdefault(row.agent_id, []).append(row)
    due = []
    for agent_id, rows in by_agent.items():
        state = _presence(agent_id, rows, at)
        if state.gone_since is not None and state.gone_since <= cutoff:
            due.append(agent_id)
    return due


# ---------------------------------------------------------------------------- the requeue


def _bump_to_front(session: Session, conversation_ids: list[int], at: datetime) -> None:
    """Each returned chat goes ahead of every other waiting entry of its queue (priority, not time)."""
    if not conversation_ids:
        return
    entries = list(
        session.execute(
            select(RoutingEntry)
            .where(RoutingEntry.conversation_id.in_(conversation_ids), RoutingEntry.state == EntryState.WAITING)
            .with_for_update()
        ).scalars()
    )
    for entry in entries:
        top = session.execute(
            select(func.max(RoutingEntry.priority)).where(
                RoutingEntry.queue_id == entry.queue_id,
                RoutingEntry.state == EntryState.WAITING,
                RoutingEntry.conversation_id.notin_(conversation_ids),
            )
        ).scalar_one_or_none()
        if top is not None and top >= entry.priority:
            entry.priority = int(top) + 1
            entry.updated_at = at
    session.flush()


def requeue_if_gone(session: Session, agent_id: int, grace_s: float, now: datetime | None = None) -> list[int] | None:
    """Act on one agent if their grace ran out: offline, chats back at the front. ``None``: not due
    (they came back, or another worker holds or handled them); else the conversations requeued."""
    from sangdam.channels.webchat.agent_actions import post_system_notice

    at = _now(now)
    locked = session.execute(
        select(Agent.id).where(Agent.id == agent_id).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if locked is None:  # another worker holds the agent (it may be acting on them right now)
        return None
    state = presence_of(session, agent_id, at)
    if state.gone_since is None or state.gone_since > at - timedelta(seconds=grace_s):
        return None
    talking = set(
        session.execute(
            select(RoutingEntry.conversation_id).where(
                RoutingEntry.agent_id == agent_id, RoutingEntry.state == EntryState.ASSIGNED
            )
        ).scalars()
    )
    returned = routing.agent_went_offline(session, agent_id, at)
    _bump_to_front(session, returned, at)
    session.execute(delete(AgentConnection).where(AgentConnection.id.in_(state.connection_ids)))
    for conversation_id in returned:
        conversation = session.get(Conversation, conversation_id)
        # Only the chats the agent had taken: a chat still ringing had not reached anyone yet.
        if conversation is not None and conversation.channel == "webchat" and conversation_id in talking:
            post_system_notice(session, conversation, REQUEUE_NOTICE_KO)
    record(
        session,
        Actor.system(),
        "agent.disconnected",
        "agent",
        agent_id,
        gone_since=state.gone_since.isoformat(),
        grace_s=grace_s,
        requeued=returned,
    )
    return returned


def sweep(db: Database, grace_s: float, now: datetime | None = None) -> dict[int, list[int]]:
    """Handle every agent whose grace ran out; one transaction per agent. Returns agent → requeued."""
    at = _now(now)
    with db.session() as session:
        candidates = due_agents(session, grace_s, at)
    done: dict[int, list[int]] = {}
    for agent_id in candidates:
        try:
            with db.transaction() as session:
                returned = requeue_if_gone(session, agent_id, grace_s, at)
        except SangdamError as error:  # pragma: no cover - the agent vanished meanwhile
            log.warning("presence: agent %s not requeued: %s", agent_id, error.message_en)
            continue
        if returned is not None:
            done[agent_id] = returned
            log.info("presence: agent %s gone since grace; requeued %s", agent_id, returned)
    return done


# ---------------------------------------------------------------------------- the worker's side


class PresenceTracker:
    """This worker's open sockets and its grace-period loop (one per app)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker_name()
        self._open: set[str] = set()
        self._lock = threading.Lock()
        self._last_beat = 0.0

    @property
    def grace_s(self) -> float:
        return float(self.settings.agent_grace_seconds)

    @property
    def interval_s(self) -> float:
        return max(0.2, min(5.0, self.grace_s / 4))

    def opened(self, agent_id: int, kind: str) -> str:
        with self.db.transaction() as session:
            connection_id = connect(session, agent_id, kind, worker=self.worker)
        with self._lock:
            self._open.add(connection_id)
        return connection_id

    def opened_by_token(self, token: str | None, kind: str) -> str | None:
        try:
            with self.db.transaction() as session:
                ctx = load_session(session, self.settings, token)
        except SangdamError:
            return None
        return self.opened(ctx.agent_id, kind)

    def closed(self, connection_id: str) -> None:
        with self._lock:
            self._open.discard(connection_id)
        with self.db.transaction() as session:
            disconnect(session, connection_id)

    def open_ids(self) -> list[str]:
        with self._lock:
            return list(self._open)

    def tick(self, now: datetime | None = None) -> dict[int, list[int]]:
        at = _now(now)
        if at.timestamp() - self._last_beat >= HEARTBEAT_S:
            ids = self.open_ids()
            if ids:
                with self.db.transaction() as session:
                    heartbeat(session, ids, at)
            self._last_beat = at.timestamp()
        return sweep(self.db, self.grace_s, at)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # the loop must outlive a database hiccup
                log.exception("presence: sweep failed")


def tracker_for(app: Any) -> PresenceTracker:
    tracker: PresenceTracker | None = getattr(app.state, "presence", None)
    if tracker is None:
        tracker = PresenceTracker(app.state.db, app.state.settings)
        app.state.presence = tracker
    return tracker


async def start_presence(app: Any) -> None:
    """A startup hook: this worker's heartbeat and grace-period loop."""
    tracker = tracker_for(app)
    app.state.presence_task = asyncio.create_task(tracker.run(), name="sangdam-presence")


async def stop_presence(app: Any) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "presence_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.state.presence_task = None


def register(app: Any) -> None:
    """Wire presence into the app: the socket-watching middleware and the loop's start/stop hooks."""
    app.add_middleware(PresenceMiddleware)
    app.state.startup_hooks.append(start_presence)
    app.state.shutdown_hooks.append(stop_presence)


class PresenceMiddleware:
    """Pure ASGI: records the console's and chat workspace's WebSockets as the agent's presence.

    Watches the handshake rather than the endpoints, so the console's own socket counts without
    the console knowing about presence.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = TRACKED_PATHS.get(scope.get("path", "")) if scope["type"] == "websocket" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        tracker = tracker_for(scope["app"])
        token = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
        connection_id: str | None = None

        async def watch(message: Message) -> None:
            nonlocal connection_id
            await send(message)
            if message["type"] == "websocket.accept" and connection_id is None:
                connection_id = await asyncio.to_thread(tracker.opened_by_token, token, kind)

        try:
            await self.app(scope, receive, watch)
        finally:
            if connection_id is not None:
                # Shielded: a server shutting down still records the close when it can.
                await asyncio.shield(asyncio.to_thread(tracker.closed, connection_id))
