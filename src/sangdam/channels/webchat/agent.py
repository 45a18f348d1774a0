"""The agent's chat workspace (채팅 상담창): pages, actions and the agent's chat WebSocket.

- ``GET /console/chats`` — the agent's open chats side by side (as many as their chat capacity
  allows), with the chats ringing at them (bot transcript and detected topic shown before 수락).
- ``GET /console/chats/{id}`` — one chat (also an offered one, or any chat for a supervisor).
- ``POST /console/chats/{id}/messages`` (text and/or files), ``…/transfer``, ``…/escalate``,
  ``…/close``, ``…/accept``, ``…/reject`` — forms; with ``Accept: application/json`` (the page's
  script) they answer JSON, otherwise they redirect back.
- ``/console/chats/canned`` — 상용구: list, add, edit, retire.
- ``WS /console/chat-ws`` — real time for the workspace. Server → page: ``hello`` {agent_id, chats,
  offers}, ``chats`` {chats, offers, ended} whenever that set changes (``ended``: chats that just
  left it because they were closed or resolved, not handed on), and the bus events of those chats
  (``message.created``, ``chat.typing`` / ``chat.read`` / ``chat.presence`` of the customer,
  ``chat.rated``, ``conversation.updated``, ``routing.*``) as ``{kind, data, id}``. Page → server:
  ``{"type": "typing", "conversation_id", "typing"}``, ``{"type": "read", "conversation_id",
  "message_id"}``, ``{"type": "watch", "conversation_id"}`` (a chat shown but not held: an offer
  preview, a supervisor looking on), ``{"type": "ping"}`` → ``pong``.

Views parse, check access, call :mod:`agent_actions`, render; the rules live there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlencode, urlparse

import orjson
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from sangdam.channels.webchat import agent_actions as chat
from sangdam.conversations import queries
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.core.errors import InputError, NotFound, SangdamError, Unauthorized
from sangdam.core.events import Event
from sangdam.models import Agent, Conversation, Topic
from sangdam.models.chat import ChatConversation
from sangdam.models.routing import EntryState, RoutingEntry
from sangdam.privacy.audit import Actor
from sangdam.web.auth import SESSION_COOKIE, AgentContext, check_csrf, csrf_for_page, load_session
from sangdam.web.deps import ClientDep, ConsoleAgent, DbDep, SettingsDep, TemplatesDep

log = logging.getLogger(__name__)

agent_router = APIRouter(prefix="/console", include_in_schema=False)


HANDOFF_LABELS_KO = {
    "requested": "고객이 상담원 연결 요청",
    "sensitive": "민감 문의(분실·부정사용·이의제기)",
    "low_confidence": "챗봇 답변 신뢰도 낮음",
    "repeated_failure": "챗봇 답변 2회 실패",
}
ROUTING_EVENTS_FOR_SET = ("routing.", "agent.status")


def actor_of(ctx: AgentContext, client: str | None = None) -> Actor:
    return Actor("agent", ctx.agent_id, client, ctx.role)


def _page(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"lang": "ko", "csrf_token": csrf_for_page(request)}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _me(session: Session, ctx: AgentContext) -> Agent:
    agent = session.get(Agent, ctx.agent_id)
    if agent is None or not agent.active:
        raise Unauthorized("로그인이 필요합니다.", "Please sign in.")
    return agent


# ---------------------------------------------------------------------------- what the pages show


def _read_marker(session: Session, conversation_id: int) -> int:
    row = session.get(ChatConversation, conversation_id)
    return (row.customer_last_read_message_id or 0) if row is not None else 0


def _panel(session: Session, agent: Agent, conversation: Conversation) -> dict[str, Any]:
    """Everything one chat card shows: transcript, topic, read marker, canned responses."""
    messages = queries.messages_of(session, conversation.id)
    state = session.get(ChatConversation, conversation.id)
    entry = session.execute(
        select(RoutingEntry).where(RoutingEntry.conversation_id == conversation.id)
    ).scalar_one_or_none()
    return {
        "c": conversation,
        "messages": messages,
        "last_message_id": max((m.id for m in messages), default=0),
        "customer_read": (state.customer_last_read_message_id or 0) if state is not None else 0,
        "handoff": HANDOFF_LABELS_KO.get(state.handoff_reason or "", state.handoff_reason)
        if state is not None and state.handoff_reason
        else None,
        "notes": queries.notes_of(session, conversation.id),
        "canned": [
            {"id": r.id, "title": r.title, "text": chat.render_for(conversation, agent, r.body)}
            for r in chat.list_canned(session, conversation)
        ],
        "held": conversation.assignee_id == agent.id,
        "offered": entry is not None and entry.state == EntryState.OFFERED and entry.agent_id == agent.id,
        "offer_expires_at": entry.offer_expires_at if entry is not None and entry.state == EntryState.OFFERED else None,
    }


def _offer_cards(session: Session, agent: Agent) -> list[dict[str, Any]]:
    at = now()
    cards = []
    for offer in chat.my_offers(session, agent):
        panel = _panel(session, agent, offer.conversation)
        left = (offer.expires_at - at).total_seconds() if offer.expires_at else 0.0
        cards.append({**panel, "queue": offer.queue, "remaining_ms": max(0, int(left * 1000))})
    return cards


def _workspace(session: Session, ctx: AgentContext, client: str, only: int | None = None) -> dict[str, Any]:
    agent = _me(session, ctx)
    actor = actor_of(ctx, client)
    if only is not None:
        conversations = [chat.open_chat(session, agent, only, actor)]
    else:
        conversations = chat.my_chats(session, agent)
        for c in conversations:
            chat.open_chat(session, agent, c.id, actor)  # audited like the console's conversation page
    capacity = agent.capacity_for(chat.CHANNEL)
    return {
        "me": ctx,
        "my_status": agent.status,
        "panels": [_panel(session, agent, c) for c in conversations],
        "offer_cards": [] if only is not None else _offer_cards(session, agent),
        "load": chat.chat_load(session, agent.id),
        "capacity": capacity,
        "only": only,
        "targets": chat.transfer_targets(session, agent),
        "queues": chat.transfer_queues(session),
    }


@agent_router.get("/chats")
def workspace(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep) -> Response:
    context = db.in_transaction(lambda s: _workspace(s, ctx, client))
    context["flash"] = request.query_params.get("done")
    context["error"] = request.query_params.get("error")
    return _page(templates, request, "chat/agent_workspace.html", context)


@agent_router.get("/chats/{conversation_id:int}")
def single_chat(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    context = db.in_transaction(lambda s: _workspace(s, ctx, client, only=conversation_id))
    context["flash"] = request.query_params.get("done")
    context["error"] = request.query_params.get("error")
    return _page(templates, request, "chat/agent_workspace.html", context)


@agent_router.get("/chats/{conversation_id:int}/panel")
def panel_fragment(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    def work(session: Session) -> dict[str, Any]:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        return {
            "me": ctx,
            "p": _panel(session, agent, conversation),
            "targets": chat.transfer_targets(session, agent),
            "queues": chat.transfer_queues(session),
        }

    return _page(templates, request, "chat/agent_panel.html", db.in_transaction(work))


@agent_router.get("/chats/{conversation_id:int}/messages")
def messages_fragment(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    try:
        after = int(request.query_params.get("after", "0") or 0)
    except ValueError:
        after = 0

    def work(session: Session) -> dict[str, Any]:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        return {
            "c": conversation,
            "messages": queries.messages_of(session, conversation.id, after),
            "customer_read": _read_marker(session, conversation.id),
        }

    return _page(templates, request, "chat/agent_messages.html", db.in_transaction(work))


@agent_router.get("/chats/offers")
def offers_fragment(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    def work(session: Session) -> dict[str, Any]:
        return {"me": ctx, "offer_cards": _offer_cards(session, _me(session, ctx))}

    return _page(templates, request, "chat/agent_offers.html", db.in_transaction(work))


# ---------------------------------------------------------------------------- actions


async def _form(
    request: Request, ctx: AgentContext, max_files: int = 0
) -> tuple[dict[str, str], list[AttachmentUpload]]:
    form = await request.form(max_files=max_files + 1, max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get("csrf_token"), ctx.csrf_token)
    uploads = []
    for item in form.getlist("attachments"):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            uploads.append(AttachmentUpload(item.filename or "", await item.read(), item.content_type))
    return values, uploads


def _answer(request: Request, payload: dict[str, Any], target: str, done: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": True, "message": done, **payload})
    return RedirectResponse(f"{target}?{urlencode({'done': done})}", status_code=303)


def _refusal(request: Request, error: SangdamError, target: str) -> Response:
    if _wants_json(request):
        return JSONResponse(error.to_body(), status_code=error.status_code)
    return RedirectResponse(f"{target}?{urlencode({'error': error.message})}", status_code=303)


@agent_router.post("/chats/{conversation_id:int}/messages")
async def send_message(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    values, uploads = await _form(request, ctx, settings.max_attachments)

    def work(session: Session) -> int:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        message = chat.reply(
            session, settings, conversation, agent, values.get("body", ""), actor_of(ctx, client), uploads
        )
        return message.id

    try:
        message_id = await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {"message_id": message_id}, "/console/chats", "메시지를 보냈습니다.")


@agent_router.post("/chats/{conversation_id:int}/accept")
async def accept(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep) -> Response:
    await _form(request, ctx)

    def work(session: Session) -> None:
        chat.accept(session, _me(session, ctx), conversation_id)

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {"conversation_id": conversation_id}, "/console/chats", "채팅 상담이 연결되었습니다.")


@agent_router.post("/chats/{conversation_id:int}/reject")
async def reject(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep) -> Response:
    await _form(request, ctx)

    def work(session: Session) -> None:
        chat.reject(session, _me(session, ctx), conversation_id)

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {}, "/console/chats", "연결 요청을 거절했습니다.")


@agent_router.post("/chats/{conversation_id:int}/transfer")
async def transfer(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    values, _ = await _form(request, ctx)
    target = values.get("target", "")
    note = values.get("note", "")[:1000]

    def work(session: Session) -> str:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        kind, _, value = target.partition(":")
        if kind == "agent" and value.isdigit():
            chat.transfer_to_agent(session, conversation, agent, int(value), actor_of(ctx, client), note)
            found = session.get(Agent, int(value))
            return f"{found.name if found else ''} 상담원에게 이관했습니다."
        if kind == "queue" and value:
            chat.transfer_to_queue(session, conversation, agent, value, actor_of(ctx, client), note)
            return "대기열로 이관했습니다."
        raise InputError("target", "이관할 상담원이나 대기열을 선택해 주세요.", "Choose an agent or a queue.")

    try:
        done = await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {"conversation_id": conversation_id}, "/console/chats", done)


@agent_router.post("/chats/{conversation_id:int}/escalate")
async def escalate(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    values, _ = await _form(request, ctx)

    def work(session: Session) -> None:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        chat.escalate(session, conversation, agent, values.get("reason", "")[:500], actor_of(ctx, client))

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {"conversation_id": conversation_id}, "/console/chats", "상급자에게 연결했습니다.")


@agent_router.post("/chats/{conversation_id:int}/close")
async def close(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    values, _ = await _form(request, ctx)

    def work(session: Session) -> None:
        agent = _me(session, ctx)
        conversation = chat.open_chat(session, agent, conversation_id, actor_of(ctx, client))
        chat.close(session, conversation, agent, values.get("summary", "")[:2000], actor_of(ctx, client))

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats")
    return _answer(request, {"conversation_id": conversation_id}, "/console/chats", "채팅 상담을 종료했습니다.")


# ---------------------------------------------------------------------------- 상용구


def _canned_context(session: Session, ctx: AgentContext) -> dict[str, Any]:
    agent = _me(session, ctx)
    topics = {t.id: t for t in session.execute(select(Topic).order_by(Topic.sort_order)).scalars()}
    return {
        "me": ctx,
        "my_status": agent.status,
        "rows": chat.list_canned(session),
        "topics": topics,
        "can_edit_all": agent.role in ("supervisor", "admin"),
        "variables": chat.VARIABLES,
    }


@agent_router.get("/chats/canned")
def canned_page(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    context = db.in_transaction(lambda s: _canned_context(s, ctx))
    context["flash"] = request.query_params.get("done")
    context["error"] = request.query_params.get("error")
    return _page(templates, request, "chat/agent_canned.html", context)


def _canned_input(values: dict[str, str]) -> chat.CannedInput:
    try:
        return chat.CannedInput(
            title=values.get("title", "")[:100],
            body=values.get("body", "")[:2000],
            topic_code=values.get("topic_code") or None,
        )
    except ValueError as exc:  # pragma: no cover - lengths are cut above
        raise InputError("body", "입력값이 올바르지 않습니다.", str(exc)) from exc


@agent_router.post("/chats/canned")
async def canned_create(request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    values, _ = await _form(request, ctx)

    def work(session: Session) -> int:
        return chat.create_canned(session, _me(session, ctx), _canned_input(values), actor_of(ctx, client)).id

    try:
        canned_id = await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats/canned")
    return _answer(request, {"id": canned_id}, "/console/chats/canned", "상용구를 저장했습니다.")


@agent_router.post("/chats/canned/{canned_id:int}")
async def canned_update(canned_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    values, _ = await _form(request, ctx)

    def work(session: Session) -> None:
        chat.update_canned(session, _me(session, ctx), canned_id, _canned_input(values), actor_of(ctx, client))

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats/canned")
    return _answer(request, {"id": canned_id}, "/console/chats/canned", "상용구를 고쳤습니다.")


@agent_router.post("/chats/canned/{canned_id:int}/delete")
async def canned_delete(canned_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    await _form(request, ctx)

    def work(session: Session) -> None:
        chat.deactivate_canned(session, _me(session, ctx), canned_id, actor_of(ctx, client))

    try:
        await db.run(work)
    except SangdamError as error:
        return _refusal(request, error, "/console/chats/canned")
    return _answer(request, {"id": canned_id}, "/console/chats/canned", "상용구를 삭제했습니다.")


# ---------------------------------------------------------------------------- the chat WebSocket


class _Watch:
    """The chats one workspace socket follows: held, ringing, and those it asked to watch."""

    def __init__(self, db: Database, agent_id: int) -> None:
        self.db = db
        self.agent_id = agent_id
        self.held: frozenset[int] = frozenset()
        self.offered: frozenset[int] = frozenset()
        self.extra: frozenset[int] = frozenset()
        self.all: frozenset[int] = frozenset()  # held | offered | extra, read for every event of the bus
        self.ended: set[int] = set()  # chats that left the held set because they ended

    def refresh(self) -> bool:
        with self.db.session() as session:
            agent = session.get(Agent, self.agent_id)
            if agent is None or not agent.active:
                raise Unauthorized("로그인이 필요합니다.", "Please sign in.")
            held = frozenset(c.id for c in chat.my_chats(session, agent))
            offered = frozenset(o.conversation.id for o in chat.my_offers(session, agent))
            left = self.held - held
            if left:
                statuses = session.execute(
                    select(Conversation.id, Conversation.status).where(Conversation.id.in_(left))
                ).all()
                self.ended = {cid for cid, status in statuses if status in ("resolved", "closed")}
            else:
                self.ended = set()
        # A chat that left still gets its last events (its end, the customer's rating) on this page.
        # (Sets are replaced, never changed in place: the bus filter reads them on the event loop.)
        changed = held != self.held or offered != self.offered
        self.held, self.offered = held, offered
        self._follow(self.extra | left)
        return changed

    def _follow(self, extra: frozenset[int]) -> None:
        self.extra = extra
        self.all = self.held | self.offered | extra

    def watch(self, conversation_id: int) -> bool:
        with self.db.session() as session:
            agent = session.get(Agent, self.agent_id)
            conversation = session.get(Conversation, conversation_id)
            if agent is None or conversation is None or not chat.may_open(session, agent, conversation):
                return False
        self._follow(self.extra | {conversation_id})
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"chats": sorted(self.held), "offers": sorted(self.offered), "ended": sorted(self.ended)}

    def concerns_me(self, event: Event) -> bool:
        data = event.data
        ids = {data.get(k) for k in ("agent_id", "by_agent_id", "from_agent_id", "assignee_id", "previous_assignee_id")}
        return self.agent_id in ids

    def wants(self, event: Event) -> bool:
        """Whether the socket acts on this event at all: the bus filter of its subscription."""
        if self.forward(event):
            return True
        return changes_set(event) and (self.concerns_me(event) or _conversation_of(event) in self.all)

    def forward(self, event: Event) -> bool:
        """Whether the page gets this event (the customer's own typing/read/presence only)."""
        cid = _conversation_of(event)
        if event.kind.startswith("chat.") and event.data.get("side") == "agent":
            return False
        if event.kind.startswith(ROUTING_EVENTS_FOR_SET) and self.concerns_me(event):
            return True
        return cid in self.all


def _conversation_of(event: Event) -> Any:
    return event.conversation_id or event.data.get("conversation_id")


def changes_set(event: Event) -> bool:
    """Whether the event may change which chats an agent holds or is offered."""
    return event.kind.startswith(ROUTING_EVENTS_FOR_SET) or event.kind == "conversation.updated"


def _typing(db: Database, agent_id: int, conversation_id: int, typing: bool) -> None:
    with db.session() as session:
        agent = session.get(Agent, agent_id)
        conversation = session.get(Conversation, conversation_id)
        if agent is not None and conversation is not None:
            chat.publish_typing(db.bus, conversation, agent, typing)


def _read(db: Database, agent_id: int, conversation_id: int, message_id: int) -> None:
    with db.transaction() as session:
        agent = session.get(Agent, agent_id)
        conversation = session.get(Conversation, conversation_id)
        if agent is None or conversation is None or conversation.assignee_id != agent_id:
            return
        chat.mark_read(session, conversation, agent, message_id)


@agent_router.websocket("/chat-ws")
async def chat_socket(websocket: WebSocket) -> None:
    app = websocket.app
    origin = websocket.headers.get("origin")
    if origin and urlparse(origin).netloc != websocket.headers.get("host"):
        await websocket.close(code=4403)
        return
    db: Database = app.state.db
    token = websocket.cookies.get(SESSION_COOKIE)

    def who() -> int:
        with db.transaction() as session:
            return load_session(session, app.state.settings, token).agent_id

    try:
        agent_id = await asyncio.to_thread(who)
    except Unauthorized:
        await websocket.close(code=4401)
        return
    watch = _Watch(db, agent_id)
    # Subscribed before the snapshot: nothing after it is missed. Only this agent's events wake it.
    subscription = app.state.bus.subscribe(accept=watch.wants)
    await asyncio.to_thread(watch.refresh)
    await websocket.accept()
    lock = asyncio.Lock()

    async def send(payload: dict[str, Any]) -> None:
        async with lock:
            await websocket.send_text(orjson.dumps(payload).decode())

    async def pump() -> None:
        while True:
            event = await subscription.get()
            # The event first (a chat that ended shows it), then the new set of chats if it changed.
            relevant = watch.concerns_me(event) or _conversation_of(event) in watch.all
            if watch.forward(event):
                await send({"kind": event.kind, "data": event.data, "id": event.id})
            if changes_set(event) and relevant and await asyncio.to_thread(watch.refresh):
                await send({"kind": "chats", "data": watch.snapshot()})

    sender = asyncio.create_task(pump())
    try:
        await send(
            {
                "kind": "hello",
                "data": {"agent_id": agent_id, "chats": sorted(watch.held), "offers": sorted(watch.offered)},
            }
        )
        while True:
            raw = await websocket.receive_text()
            try:
                frame = orjson.loads(raw)
                kind = frame.get("type")
                cid = int(frame.get("conversation_id") or 0)
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                continue
            if kind == "ping":
                await send({"kind": "pong", "data": {}})
            elif kind == "typing" and cid in watch.held:
                await asyncio.to_thread(_typing, db, agent_id, cid, bool(frame.get("typing")))
            elif kind == "read" and cid in watch.held:
                with contextlib.suppress(SangdamError, TypeError, ValueError):
                    await asyncio.to_thread(_read, db, agent_id, cid, int(frame.get("message_id") or 0))
            elif kind == "watch" and cid:
                ok = await asyncio.to_thread(watch.watch, cid)
                await send({"kind": "watching", "data": {"conversation_id": cid, "ok": ok}})
    except WebSocketDisconnect:
        pass
    except NotFound:  # pragma: no cover - a chat deleted under us
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        subscription.close()
