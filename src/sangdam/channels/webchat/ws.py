"""The customer's chat WebSocket ``/chat/ws`` and the hub that feeds every chat socket of a process.

One bus subscription per process (the :class:`ChatHub`), not one per socket: each event goes to
the sockets of its conversation only, so a thousand open chats cost one fan-out. Messages reach a
socket from the database, never from the event itself: an event only says "there is something
after your cursor", and the socket reads what follows in id order. That makes delivery ordered and
gap-free even when events are coalesced or dropped, and a resumed socket (``after`` = the last id
the widget has) gets exactly what it missed. Customer messages are written by group commit
(:meth:`Database.run_grouped`: those arriving during a write share the next transaction). Frames
are described in ``webchat/__init__.py``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sangdam.channels.webchat import service
from sangdam.channels.webchat.service import ChatHandle, ConversationRef
from sangdam.conversations.attachments import AttachmentUpload, open_path
from sangdam.core.db import Database
from sangdam.core.errors import InputError, NotFound, SangdamError, TooManyRequests
from sangdam.core.events import Event, Subscription
from sangdam.core.settings import Settings
from sangdam.models import Attachment, Conversation, Message
from sangdam.models.base import STATUS_LABELS_KO, ConversationStatus

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


HELLO_TIMEOUT_S = 15.0
MAX_FRAME = 16 * 1024  # a text frame; attachments may be larger (base64 of the attachment limit)
QUEUE_REFRESH_S = 15.0  # waiting customers' place and wait are recomputed at least this often
QUEUE_MIN_INTERVAL_S = 1.0  # … and at most this often, however many routing events arrive
TYPING_MIN_GAP_S = 1.5
RATE_BURST = 20  # messages a socket may send at once …
RATE_PER_S = 2.0  # … refilled at this rate
HUB_QUEUE = 100_000
SENT_KEEP = 2000
STATUS_LABELS_EN = {
    "bot": "Chatbot",
    "queued": "Waiting for an agent",
    "assigned": "Chatting with an agent",
    "waiting_customer": "Chatting with an agent",
    "resolved": "Ended",
    "closed": "Ended",
}


def _error_frame(error: SangdamError, client_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "code": error.code,
        "message": error.message,
        "message_en": error.message_en,
        "field": error.field,
        "client_id": client_id,
    }


def message_frame(message: Message, visitor: str, *, with_attachments: bool = True) -> dict[str, Any]:
    """A stored message as the customer sees it (already masked; no internal ids but the message's).

    ``with_attachments=False`` when the caller knows there are none (saves reading them).
    """
    frame: dict[str, Any] = {
        "type": "message",
        "id": message.id,
        "sender": message.sender_kind,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "attachments": [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in (message.attachments if with_attachments else ())
        ],
    }
    if message.sender_kind == "customer":
        frame["client_id"] = service.client_id_of(message, visitor)
        if message.masked_kinds:
            frame["masked"] = message.masked_kinds.split(",")
    elif message.sender_kind == "agent" and message.agent is not None:
        frame["agent_name"] = message.agent.name
    return frame


def status_frame(ref: ConversationRef, rated: bool | None = None) -> dict[str, Any]:
    status, language = ref.status, ref.language
    label = STATUS_LABELS_EN.get(status, status) if language == "en" else STATUS_LABELS_KO.get(status, status)
    frame: dict[str, Any] = {
        "type": "status",
        "status": status,
        "label": label,
        "ended": status in service.ENDED,
        "receipt_number": ref.receipt_number,
    }
    if rated is not None:
        frame["rated"] = rated
    return frame


class CustomerConnection:
    """One customer socket: what it has been sent, and what the hub has told it since."""

    def __init__(self, hub: ChatHub, websocket: WebSocket, handle: ChatHandle) -> None:
        self.hub = hub
        self.websocket = websocket
        self.handle = handle
        self.ref: ConversationRef | None = None
        self.cursor = 0  # every message up to here has been considered
        self.sent: set[int] = set()
        self.hinted: set[int] = set()
        self.floor_hint: int | None = None
        self.fetch_due = False
        self.frames: list[dict[str, Any]] = []
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()
        self.closed = False
        self.last_queue: tuple[Any, ...] | None = None
        self.tokens = float(RATE_BURST)
        self.refilled = time.monotonic()
        self.typing_sent: tuple[bool, float] = (False, 0.0)
        self.read_sent = 0
        self.status_sent = "new"
        self.inflight: set[str] = set()  # client ids being posted here: their ack carries the message
        self.settled = asyncio.Event()  # set while nothing is being posted
        self.settled.set()

    # -- from the hub (on the event loop)

    @property
    def waiting(self) -> bool:
        return self.ref is not None and self.ref.status == ConversationStatus.QUEUED

    def notify(self, event: Event) -> None:
        data = event.data
        kind = event.kind
        if kind == "message.created":
            mid = data.get("message_id")
            if isinstance(mid, int):
                if mid in self.sent:
                    return
                self.hinted.add(mid)
                if mid <= self.cursor:
                    self.floor_hint = min(self.floor_hint or mid - 1, mid - 1)
            self.fetch_due = True
        elif kind == "chat.typing" and data.get("side") == "agent":
            self.frames.append({"type": "typing", "side": "agent", "typing": bool(data.get("typing"))})
        elif kind == "chat.read" and data.get("side") == "agent":
            self.frames.append({"type": "read", "side": "agent", "message_id": data.get("message_id")})
        elif kind == "conversation.updated" and self.ref is not None:
            self.ref.update(data)
            self.status_changed()
        elif kind == "chat.rated":
            self.frames.append({"type": "rated", "score": data.get("score")})
        else:
            return
        self.wake.set()

    def status_changed(self) -> None:
        """Queue a ``status`` frame when the conversation's status differs from the last one sent."""
        if self.ref is None or self.ref.status == self.status_sent:
            return
        if self.status_sent == ConversationStatus.QUEUED:
            self.last_queue = None
        self.status_sent = self.ref.status
        self.frames.append(status_frame(self.ref))
        self.wake.set()

    def push_queue(self, info: service.QueueInfo | None) -> None:
        if info is None or not self.waiting:
            return
        key = (info.state, info.position, info.text)
        if key == self.last_queue:
            return
        self.last_queue = key
        wait = info.wait_seconds if info.wait_seconds is None or math.isfinite(info.wait_seconds) else None
        self.frames.append(
            {"type": "queue", "state": info.state, "position": info.position, "wait_seconds": wait, "text": info.text}
        )
        self.wake.set()

    # -- sending

    async def send(self, frame: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self.lock:
            await self.websocket.send_text(orjson.dumps(frame).decode())

    async def sender(self) -> None:
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            frames, self.frames = self.frames, []
            if self.fetch_due:
                if self.inflight:  # likely this socket's own message: its ack says so without a read
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.settled.wait(), 5.0)
                self.fetch_due = False
                if not (self.hinted and self.hinted <= self.sent):
                    await self.deliver_new()
                self.hinted.clear()
            for frame in frames:
                await self.send(frame)

    async def deliver_new(self) -> None:
        """Send every message after the cursor not sent yet, in id order."""
        if self.handle.conversation_id is None:
            return
        floor = self.cursor if self.floor_hint is None else min(self.cursor, self.floor_hint)
        self.floor_hint = None
        conversation_id, visitor = self.handle.conversation_id, self.handle.visitor
        sent = frozenset(self.sent)

        def read() -> list[dict[str, Any]]:
            # A transaction, not a bare session: on SQLite every BEGIN takes the write lock, and
            # Database.transaction() queues this process's threads for it instead of SQLite's busy wait.
            with self.hub.db.transaction() as session:
                return frames_after(session)

        def frames_after(session: Session) -> list[dict[str, Any]]:
            rows = [m for m in service.history(session, conversation_id, floor) if m.id not in sent]
            frames = [message_frame(m, visitor) for m in rows]
            if frames and frames[-1]["sender"] == "bot":
                conversation = session.get(Conversation, conversation_id)
                if conversation is not None:
                    options = service.quick_replies_for(session, conversation)
                    frames[-1]["quick_replies"] = service.quick_reply_labels(options, conversation.language)
            return frames

        frames = await run_in_threadpool(read)
        for frame in frames:
            if frame["id"] in self.sent:
                continue
            self.sent.add(frame["id"])
            self.cursor = max(self.cursor, frame["id"])
            if frame.get("client_id") in self.inflight:
                continue
            await self.send(frame)
        if len(self.sent) > SENT_KEEP:
            self.sent = {i for i in self.sent if i > self.cursor - SENT_KEEP // 2}

    # -- limits

    def allow_message(self) -> bool:
        at = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (at - self.refilled) * RATE_PER_S)
        self.refilled = at
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ChatHub:
    """The process's one bus subscription for customer chat sockets, and the wait estimates."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.db: Database = app.state.db
        self.settings: Settings = app.state.settings
        self.rooms: dict[int, set[CustomerConnection]] = {}
        self.monitor = service.new_monitor()
        self.joined: dict[int, float] = {}
        self.queue_dirty = asyncio.Event()
        self.subscription: Subscription | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.seen_dropped = 0

    def start(self) -> None:
        subscription = self.app.state.bus.subscribe()
        subscription.queue = asyncio.Queue(maxsize=HUB_QUEUE)
        self.subscription = subscription
        self.tasks = [
            asyncio.create_task(self._pump(subscription), name="sangdam-chat-hub"),
            asyncio.create_task(self._queue_loop(), name="sangdam-chat-queue"),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None

    def join(self, conn: CustomerConnection, conversation_id: int) -> int:
        room = self.rooms.setdefault(conversation_id, set())
        room.add(conn)
        return len(room)

    def leave(self, conn: CustomerConnection) -> int:
        cid = conn.handle.conversation_id
        if cid is None:
            return 0
        room = self.rooms.get(cid)
        if room is None:
            return 0
        room.discard(conn)
        if not room:
            del self.rooms[cid]
        return len(room)

    async def _pump(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.get()
            try:
                self.dispatch(event)
            except Exception:  # pragma: no cover - one bad event must not stop the hub
                log.exception("chat hub: event %s not delivered", event.kind)

    def dispatch(self, event: Event) -> None:
        self._learn(event)
        cid = event.conversation_id
        if cid is not None:
            for conn in tuple(self.rooms.get(cid, ())):
                conn.notify(event)
        if event.kind.startswith("routing.") or event.kind in ("conversation.updated", "agent.status", "chat.handoff"):
            self.queue_dirty.set()

    def _learn(self, event: Event) -> None:
        """Feed the wait monitor with the chat line's joins, answers and hang-ups."""
        cid = event.conversation_id
        if cid is None:
            return
        at = time.time()
        if event.kind == "chat.handoff":
            self.joined[cid] = at
            self.monitor.joined(at, int(event.data.get("priority") or 0))
        elif event.kind == "routing.assigned" and cid in self.joined:
            self.monitor.answered(at, at - self.joined.pop(cid))
        elif event.kind == "conversation.updated" and event.data.get("status") in service.ENDED and cid in self.joined:
            del self.joined[cid]
            self.monitor.abandoned(at)

    async def _queue_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue_dirty.wait(), QUEUE_REFRESH_S)
            self.queue_dirty.clear()
            if self.subscription is not None and self.subscription.dropped > self.seen_dropped:
                self.seen_dropped = self.subscription.dropped
                for room in self.rooms.values():
                    for conn in room:
                        conn.fetch_due = True
                        conn.wake.set()
            waiting = {cid: room for cid, room in self.rooms.items() if any(c.waiting for c in room)}
            if waiting:
                try:
                    infos = await run_in_threadpool(self._queue_infos, list(waiting))
                except Exception:  # pragma: no cover - a database hiccup: next time
                    log.exception("chat hub: queue positions not computed")
                    infos = {}
                for cid, info in infos.items():
                    for conn in tuple(self.rooms.get(cid, ())):
                        conn.push_queue(info)
            await asyncio.sleep(QUEUE_MIN_INTERVAL_S)

    def _queue_infos(self, conversation_ids: list[int]) -> dict[int, service.QueueInfo | None]:
        out: dict[int, service.QueueInfo | None] = {}
        with self.db.transaction() as session:
            slots = service.chat_slots(session)
            for cid in conversation_ids:
                room = self.rooms.get(cid)
                language = next(iter(room)).ref.language if room and next(iter(room)).ref else "ko"  # type: ignore[union-attr]
                out[cid] = service.queue_info(session, cid, language, self.monitor, slots=slots)
        return out


def hub_of(app: FastAPI) -> ChatHub:
    """The app's chat hub, started on first use (on the event loop)."""
    hub: ChatHub | None = getattr(app.state, "chat_hub", None)
    if hub is None:
        hub = ChatHub(app)
        app.state.chat_hub = hub
        hub.start()

        async def stop(_: FastAPI) -> None:
            await hub.stop()
            if getattr(app.state, "chat_hub", None) is hub:
                app.state.chat_hub = None

        app.state.shutdown_hooks.append(stop)
    return hub


# -------------------------------------------------------------------------------- the socket


def _welcome(session: Session, settings: Settings, hello: dict[str, Any]) -> dict[str, Any]:
    token = hello.get("token")
    language = "en" if hello.get("language") == "en" else "ko"
    name = hello.get("name") if isinstance(hello.get("name"), str) else ""
    opened = service.open_chat(session, settings, token if isinstance(token, str) else None, language, name or "")
    conversation = opened.conversation
    language = conversation.language if conversation is not None else opened.handle.language
    line = service.line_status(session, conversation)
    rating = service.rating_of(session, conversation.id) if conversation is not None else None
    _, agent_read = service.read_markers(session, conversation.id) if conversation is not None else (None, None)
    return {
        "opened": opened,
        "ref": ConversationRef.of(conversation) if conversation is not None else None,
        "frame": {
            "type": "welcome",
            "token": opened.handle.token,
            "resumed": conversation is not None,
            "receipt_number": conversation.receipt_number if conversation is not None else None,
            "status": conversation.status if conversation is not None else "new",
            "language": language,
            "hours": {
                "open": line.is_open,
                "message": line.message(language),
                "opens_at": line.opens_at.isoformat() if line.opens_at is not None else None,
            },
            "topics": service.topics_for_widget(session, language),
            "greeting": service.greeting(settings, language),
            "email_available": bool(settings.smtp_host),
        },
        "rated": rating is not None,
        "agent_read": agent_read,
    }


async def _receive(websocket: WebSocket, limit: int) -> dict[str, Any]:
    raw = await websocket.receive_text()
    if len(raw) > limit:
        raise InputError(None, "메시지가 너무 큽니다.", "The frame is too large.", code="frame_too_large")
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(None, "잘못된 요청입니다.", "Malformed frame.", code="bad_frame") from exc
    if not isinstance(frame, dict):
        raise InputError(None, "잘못된 요청입니다.", "Malformed frame.", code="bad_frame")
    return frame


@router.websocket("/chat/ws")
async def customer_socket(websocket: WebSocket) -> None:
    """The widget's socket. Any origin may connect (the widget is embeddable): the chat token, not a
    cookie, is what identifies the customer."""
    app = websocket.app
    db: Database = app.state.db
    settings: Settings = app.state.settings
    hub = hub_of(app)
    await websocket.accept()
    try:
        hello = await asyncio.wait_for(_receive(websocket, MAX_FRAME), HELLO_TIMEOUT_S)
    except (TimeoutError, WebSocketDisconnect, InputError):
        with contextlib.suppress(Exception):
            await websocket.close(code=4400)
        return
    if hello.get("type") != "hello":
        await websocket.close(code=4400)
        return
    welcome = await db.run(lambda session: _welcome(session, settings, hello))
    opened: service.ChatOpened = welcome["opened"]
    conn = CustomerConnection(hub, websocket, opened.handle)
    after = hello.get("after")
    conn.cursor = after if isinstance(after, int) and after > 0 and opened.conversation is not None else 0
    await conn.send(welcome["frame"])
    sender = asyncio.create_task(conn.sender())
    try:
        if welcome["ref"] is not None:
            await _attach(conn, welcome["ref"])
            await conn.deliver_new()
            assert conn.ref is not None
            conn.status_sent = conn.ref.status
            await conn.send(status_frame(conn.ref, welcome["rated"]))
            if welcome["agent_read"]:
                await conn.send({"type": "read", "side": "agent", "message_id": welcome["agent_read"]})
            hub.queue_dirty.set()
        while True:
            limit = MAX_FRAME + settings.max_attachment_bytes * 4 // 3 + 1024
            try:
                frame = await _receive(websocket, limit)
            except InputError as exc:
                await conn.send(_error_frame(exc))
                continue
            await _handle(conn, frame)
    except WebSocketDisconnect:
        pass
    finally:
        conn.closed = True
        conn.wake.set()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        remaining = hub.leave(conn)
        if conn.ref is not None:
            with contextlib.suppress(Exception):
                await _publish(app, lambda: service.publish_presence(app.state.bus, conn.ref, False, remaining))  # type: ignore[arg-type]


async def _publish(app: FastAPI, work: Callable[[], None]) -> None:
    """Publish off the event loop when the bus talks to Redis (a blocking network call)."""
    if app.state.bus.kind == "memory":
        work()
    else:
        await run_in_threadpool(work)


async def _attach(conn: CustomerConnection, ref: ConversationRef) -> None:
    first = conn.ref is None
    conn.ref = ref
    conn.handle.conversation_id = ref.id
    count = conn.hub.join(conn, ref.id)
    if first:
        app = conn.hub.app
        await _publish(app, lambda: service.publish_presence(app.state.bus, ref, True, count))


async def _handle(conn: CustomerConnection, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    try:
        if kind == "ping":
            await conn.send({"type": "pong"})
        elif kind in ("message", "quick_reply", "topic", "attachment"):
            await _post(conn, kind, frame, client_id)
        elif kind == "typing":
            await _typing(conn, bool(frame.get("typing")))
        elif kind == "read":
            await _read(conn, frame.get("message_id"))
        elif kind == "leave_message":
            await _leave_message(conn, frame, client_id)
        elif kind == "close":
            await _close(conn)
        elif kind == "rate":
            await _rate(conn, frame)
        elif kind == "transcript":
            await _transcript(conn, frame.get("email"))
        elif kind == "file":
            await _file(conn, frame.get("id"))
        else:
            raise InputError(None, "알 수 없는 요청입니다.", f"Unknown frame type {kind!r}.", code="bad_frame")
    except SangdamError as exc:
        await conn.send(_error_frame(exc, client_id))
    except WebSocketDisconnect:
        raise
    except Exception:
        log.exception("chat socket: %s failed", kind)
        error = SangdamError("일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.", "Something went wrong.")
        error.code = "server_error"
        await conn.send(_error_frame(error, client_id))


async def _post(conn: CustomerConnection, kind: str, frame: dict[str, Any], client_id: str | None) -> None:
    if client_id is None:
        raise InputError("client_id", "메시지 식별자가 없습니다.", "client_id is required.")
    if not conn.allow_message():
        raise TooManyRequests(
            "메시지를 너무 빠르게 보내고 있습니다. 잠시 후 다시 보내 주세요.", "Too many messages; slow down."
        )
    hub = conn.hub
    handle = conn.handle
    body = frame.get("body") if isinstance(frame.get("body"), str) else ""
    uploads: list[AttachmentUpload] = []
    if kind == "attachment":
        data = frame.get("data")
        try:
            raw = base64.b64decode(data if isinstance(data, str) else "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("attachments", "첨부파일을 읽을 수 없습니다.", "Unreadable attachment.") from exc
        filename = frame.get("filename") if isinstance(frame.get("filename"), str) else "file"
        uploads.append(AttachmentUpload(filename, raw, None))

    def work(session: Session) -> tuple[service.PostResult, ConversationRef, dict[str, Any]]:
        result = service.post_message(
            session,
            hub.settings,
            handle,
            client_id,
            body,
            quick_reply=str(frame.get("value")) if kind == "quick_reply" else None,
            topic_code=str(frame.get("code")) if kind == "topic" else None,
            attachments=uploads,
        )
        session.flush()
        stored = message_frame(result.message, handle.visitor, with_attachments=bool(uploads) or result.duplicate)
        return result, ConversationRef.of(result.conversation), stored

    conn.inflight.add(client_id)
    conn.settled.clear()
    try:
        result, ref, stored = await hub.db.run_grouped(work)
        conn.sent.add(stored["id"])
    finally:
        conn.inflight.discard(client_id)
        if not conn.inflight:
            conn.settled.set()
    if conn.ref is None:
        await _attach(conn, ref)
        conn.fetch_due = True  # what was published before this socket joined its room (the bot's answer)
        conn.wake.set()
    elif ref.status != conn.ref.status:
        conn.ref.update({"status": ref.status, "topic_id": ref.topic_id, "assignee_id": ref.assignee_id})
    conn.status_changed()
    await conn.send(
        {
            "type": "ack",
            "client_id": client_id,
            "message_id": stored["id"],
            "duplicate": result.duplicate,
            "message": stored,
        }
    )
    if result.offline is not None:
        language = ref.language
        await conn.send(
            {
                "type": "offline",
                "message": result.offline.message(language),
                "opens_at": result.offline.opens_at.isoformat() if result.offline.opens_at else None,
            }
        )
    if result.handoff is not None:
        hub.queue_dirty.set()


async def _typing(conn: CustomerConnection, typing: bool) -> None:
    if conn.ref is None:
        return
    last_state, last_at = conn.typing_sent
    at = time.monotonic()
    if typing == last_state and at - last_at < TYPING_MIN_GAP_S:
        return
    if typing and last_state and at - last_at < TYPING_MIN_GAP_S:
        return
    conn.typing_sent = (typing, at)
    app = conn.hub.app
    ref = conn.ref
    await _publish(app, lambda: service.publish_typing(app.state.bus, ref, "customer", typing))


async def _read(conn: CustomerConnection, message_id: object) -> None:
    if conn.ref is None or not isinstance(message_id, int) or message_id <= conn.read_sent:
        return
    conn.read_sent = message_id
    cid = conn.ref.id

    def work(session: Session) -> None:
        conversation = session.get(Conversation, cid)
        if conversation is not None:
            service.mark_read(session, conversation, "customer", message_id)

    await conn.hub.db.run(work)


async def _leave_message(conn: CustomerConnection, frame: dict[str, Any], client_id: str | None) -> None:
    if client_id is None:
        raise InputError("client_id", "메시지 식별자가 없습니다.", "client_id is required.")
    hub = conn.hub

    def text(name: str) -> str:
        value = frame.get(name)
        return value if isinstance(value, str) else ""

    def work(session: Session) -> tuple[service.LeftMessage, ConversationRef]:
        left = service.leave_message(
            session,
            hub.settings,
            conn.handle,
            client_id,
            name=text("name"),
            phone=text("phone"),
            email=text("email") or None,
            body=text("body"),
            consent=frame.get("consent") is True,
        )
        conversation = session.get(Conversation, conn.handle.conversation_id)
        assert conversation is not None
        return left, ConversationRef.of(conversation)

    left, ref = await hub.db.run(work)
    if conn.ref is None:
        await _attach(conn, ref)
    else:
        conn.ref.update({"status": ref.status, "topic_id": ref.topic_id, "assignee_id": ref.assignee_id})
    conn.status_changed()
    conn.fetch_due = True
    conn.wake.set()
    await conn.send({"type": "left_message", "client_id": client_id, "receipt_number": left.receipt_number})


async def _close(conn: CustomerConnection) -> None:
    await conn.hub.db.run(lambda session: service.close_by_customer(session, conn.handle))


async def _rate(conn: CustomerConnection, frame: dict[str, Any]) -> None:
    comment = frame.get("comment") if isinstance(frame.get("comment"), str) else ""
    rating = await conn.hub.db.run(lambda session: service.rate(session, conn.handle, frame.get("score"), comment))
    await conn.send({"type": "rated", "score": rating.score})
    email = frame.get("email")
    if isinstance(email, str) and email.strip():
        await _transcript(conn, email)


async def _transcript(conn: CustomerConnection, email: object) -> None:
    if not isinstance(email, str):
        raise InputError("email", "이메일 주소를 입력해 주세요.", "Please enter an e-mail address.")
    hub = conn.hub
    sent = await run_in_threadpool(service.email_transcript, hub.db, hub.settings, conn.handle, email)
    await conn.send({"type": "transcript", "sent": sent})


async def _file(conn: CustomerConnection, attachment_id: object) -> None:
    """An attachment of this chat, as base64 (the socket is the only credential the widget has)."""
    cid = conn.handle.conversation_id
    if not isinstance(attachment_id, int) or cid is None:
        raise NotFound("첨부파일을 찾을 수 없습니다.", "Attachment not found.")
    hub = conn.hub

    def work(session: Session) -> dict[str, Any]:
        row = session.get(Attachment, attachment_id)
        if row is None or row.conversation_id != cid:
            raise NotFound("첨부파일을 찾을 수 없습니다.", "Attachment not found.")
        path = open_path(hub.settings.attachments_dir, row.storage_key)
        if not path.exists():
            raise NotFound("첨부파일을 찾을 수 없습니다.", "Attachment not found.")
        return {
            "type": "file",
            "id": row.id,
            "filename": row.filename,
            "content_type": row.content_type,
            "data": base64.b64encode(path.read_bytes()).decode(),
        }

    await conn.send(await hub.db.run(work))
