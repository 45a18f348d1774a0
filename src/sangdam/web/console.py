"""The agent console: login, inbox, conversation view, replies, notes, assignment, live events,
and routing: the agent's status (상담가능 / 후처리 / 휴식 / 오프라인), offers that ring at one agent
(수락 / 거절), and 상급자 연결 (escalation to the supervisor queue)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from sangdam.conversations import actions, queries
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.core import ratelimit
from sangdam.core.clock import now
from sangdam.core.errors import InputError, SangdamError, Unauthorized
from sangdam.models import Agent, Conversation, Topic
from sangdam.models.base import CHANNEL_LABELS_KO, STATUS_LABELS_KO, Role
from sangdam.models.routing import RoutingQueue
from sangdam.privacy.audit import Actor, record
from sangdam.routing import actions as routing
from sangdam.routing import queries as routing_queries
from sangdam.routing.agents import authenticate
from sangdam.web.auth import (
    SESSION_COOKIE,
    AgentContext,
    check_csrf,
    clear_session_cookies,
    csrf_for_page,
    end_session,
    load_session,
    set_session_cookies,
    start_session,
)
from sangdam.web.deps import ClientDep, ConsoleAgent, DbDep, SettingsDep, TemplatesDep

router = APIRouter(prefix="/console", include_in_schema=False)


def actor_of(ctx: AgentContext, client: str | None = None) -> Actor:
    return Actor("agent", ctx.agent_id, client, ctx.role)


def page(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"lang": "ko", "csrf_token": csrf_for_page(request)}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/console") or target.startswith("//"):
        return "/console"
    return target


@router.get("/login")
def login_form(request: Request, templates: TemplatesDep) -> Response:
    expired = request.query_params.get("expired")
    notice = "세션이 만료되었습니다. 다시 로그인해 주세요." if expired else None
    return page(
        templates,
        request,
        "console/login.html",
        {"error": None, "notice": notice, "next": _safe_next(request.query_params.get("next")), "login": ""},
    )


@router.post("/login")
async def login_submit(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    login = str(form.get("login", "")).strip().lower()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))

    def refuse(message: str, status: int) -> Response:
        context = {"error": message, "notice": None, "next": target, "login": login}
        return page(templates, request, "console/login.html", context, status_code=status)

    try:
        check_csrf(request, str(form.get("csrf_token", "")))
    except SangdamError as error:
        return refuse(error.message, 403)
    buckets = [f"login:ip:{client}", f"login:agent:{login}"]
    with db.transaction() as session:
        if ratelimit.exceeded(session, buckets, settings.login_attempts_per_window, settings.lookup_window_seconds):
            return refuse("로그인 시도가 너무 많습니다. 잠시 후 다시 시도해 주세요.", 429)
        agent = authenticate(session, login, password)
        if agent is None:
            ratelimit.hit(session, *buckets)
            failed = True
        else:
            failed = False
            token, csrf = start_session(session, settings, agent, request)
            record(session, Actor("agent", agent.id, client, agent.role), "agent.login", "agent", agent.id)
    if failed:
        return refuse("아이디 또는 비밀번호가 올바르지 않습니다.", 401)
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, settings, token, csrf)
    return response


@router.post("/logout")
async def logout(request: Request, db: DbDep) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, str(form.get("csrf_token", "")))
    with db.transaction() as session:
        end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    clear_session_cookies(response)
    return response


@dataclass(frozen=True, slots=True)
class OfferView:
    """A conversation ringing at this agent's console, as the offer banner shows it."""

    conversation_id: int
    receipt_number: str
    topic: str
    channel: str
    customer: str
    tier: str
    subject: str
    queue: str
    escalated: bool
    remaining_ms: int


OFFER_ERRORS = {
    "offer_gone": "이 상담 연결 요청은 더 이상 유효하지 않습니다.",
    "offer_expired": "연결 요청 시간이 지났습니다. 다음 요청을 기다려 주세요.",
}


def _offers(session: Session, agent_id: int) -> list[OfferView]:
    at = now()
    views = []
    for entry in routing_queries.pending_offers(session, agent_id):
        conversation = session.get(Conversation, entry.conversation_id)
        queue = session.get(RoutingQueue, entry.queue_id)
        if conversation is None or queue is None:
            continue
        left = (entry.offer_expires_at - at).total_seconds() if entry.offer_expires_at else 0.0
        views.append(
            OfferView(
                conversation_id=conversation.id,
                receipt_number=conversation.receipt_number,
                topic=conversation.topic.name if conversation.topic else "미분류",
                channel=CHANNEL_LABELS_KO.get(conversation.channel, conversation.channel),
                customer=conversation.customer.name,
                tier=conversation.customer.tier,
                subject=conversation.subject or "",
                queue=queue.name,
                escalated=entry.escalated,
                remaining_ms=max(0, int(left * 1000)),
            )
        )
    return views


def _console_state(session: Session, agent: Agent) -> dict[str, Any]:
    """What every console page shows in its bar: the agent's status and the offers ringing at them."""
    return {"my_status": agent.status, "offers": _offers(session, agent.id)}


def _filter(request: Request) -> queries.InboxFilter:
    q = request.query_params
    return queries.InboxFilter(
        status=q.get("status") or "open",
        topic=q.get("topic") or None,
        channel=q.get("channel") or None,
        assignee=q.get("assignee") or None,
        q=q.get("q") or None,
        limit=100,
    )


def _inbox_context(db: DbDep, ctx: AgentContext, request: Request) -> dict[str, Any]:
    f = _filter(request)
    with db.transaction() as session:
        agent = session.get(Agent, ctx.agent_id)
        assert agent is not None
        rows, total = queries.list_conversations(session, agent, f)
        topics = list(session.execute(select(Topic).order_by(Topic.sort_order)).scalars())
        agents = list(session.execute(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name)).scalars())
        return {
            **_console_state(session, agent),
            "me": ctx,
            "rows": rows,
            "total": total,
            "f": f,
            "topics": topics,
            "agents": agents,
            "statuses": STATUS_LABELS_KO,
            "channels": CHANNEL_LABELS_KO,
            "query": request.url.query,
            "offer_error": OFFER_ERRORS.get(request.query_params.get("offer") or ""),
        }


@router.get("")
def inbox(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    return page(templates, request, "console/inbox.html", _inbox_context(db, ctx, request))


@router.get("/inbox/rows")
def inbox_rows(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    return page(templates, request, "console/_rows.html", _inbox_context(db, ctx, request))


def _conversation_context(db: DbDep, ctx: AgentContext, conversation_id: int, client: str) -> dict[str, Any]:
    with db.transaction() as session:
        agent = session.get(Agent, ctx.agent_id)
        assert agent is not None
        conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
        entry = routing_queries.entry_for(session, conversation.id)
        return {
            **_console_state(session, agent),
            "routing": {"entry": entry, "queue": session.get(RoutingQueue, entry.queue_id) if entry else None},
            "me": ctx,
            "c": conversation,
            "messages": queries.messages_of(session, conversation.id),
            "notes": queries.notes_of(session, conversation.id),
            "activities": queries.activities_of(session, conversation.id),
            "history": queries.customer_history(session, agent, conversation.customer_id, conversation.id),
            "topics": list(
                session.execute(select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order)).scalars()
            ),
            "agents": list(session.execute(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name)).scalars()),
            "can_move_any": agent.role in (Role.SUPERVISOR, Role.ADMIN),
            "last_message_id": max((m.id for m in queries.messages_of(session, conversation.id)), default=0),
        }


@router.get("/conversations/{conversation_id}")
def conversation_view(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    context = _conversation_context(db, ctx, conversation_id, client)
    context["flash"] = request.query_params.get("done")
    return page(templates, request, "console/conversation.html", context)


@router.get("/conversations/{conversation_id}/messages")
def conversation_messages(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    after = int(request.query_params.get("after", "0") or 0)
    with db.transaction() as session:
        agent = session.get(Agent, ctx.agent_id)
        assert agent is not None
        conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
        context = {"messages": queries.messages_of(session, conversation.id, after), "c": conversation, "me": ctx}
        return page(templates, request, "console/_messages.html", context)


async def _form(
    request: Request, ctx: AgentContext, max_files: int = 0
) -> tuple[dict[str, str], list[AttachmentUpload]]:
    form = await request.form(max_files=max_files + 5, max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get("csrf_token"), ctx.csrf_token)
    uploads = []
    for item in form.getlist("attachments"):
        if isinstance(item, UploadFile) and (item.filename or item.size):
            uploads.append(AttachmentUpload(item.filename or "", await item.read(), item.content_type))
    return values, uploads


def _back(conversation_id: int, done: str) -> Response:
    return RedirectResponse(f"/console/conversations/{conversation_id}?{urlencode({'done': done})}", status_code=303)


def _error_page(
    templates: Any,
    request: Request,
    db: DbDep,
    ctx: AgentContext,
    conversation_id: int,
    client: str,
    error: SangdamError,
) -> Response:
    try:
        context = _conversation_context(db, ctx, conversation_id, client)
    except SangdamError:
        raise error from None
    context["error"] = error
    return page(templates, request, "console/conversation.html", context, status_code=error.status_code)


@router.post("/conversations/{conversation_id}/reply")
async def reply(
    conversation_id: int,
    request: Request,
    ctx: ConsoleAgent,
    db: DbDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    client: ClientDep,
) -> Response:
    try:
        values, uploads = await _form(request, ctx, settings.max_attachments)
        with db.transaction() as session:
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
            actions.send_outbound(
                session, settings, conversation, agent, values.get("body", ""), actor_of(ctx, client), uploads
            )
            if values.get("then") == "resolve":
                actions.change_status(session, conversation, "resolved", agent, actor_of(ctx, client))
    except SangdamError as error:
        return _error_page(templates, request, db, ctx, conversation_id, client, error)
    return _back(conversation_id, "답변을 보냈습니다.")


@router.post("/conversations/{conversation_id}/note")
async def note(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    try:
        values, _ = await _form(request, ctx)
        with db.transaction() as session:
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
            actions.add_note(session, conversation, agent, values.get("body", ""), actor_of(ctx, client))
    except SangdamError as error:
        return _error_page(templates, request, db, ctx, conversation_id, client, error)
    return _back(conversation_id, "메모를 남겼습니다.")


@router.post("/conversations/{conversation_id}/assign")
async def assign(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    try:
        values, _ = await _form(request, ctx)
        target = values.get("assignee_id", "")
        with db.transaction() as session:
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
            if target == "me":
                assignee: Agent | None = agent
            elif target in ("", "none"):
                assignee = None
            elif target.isdigit() and (found := session.get(Agent, int(target))) is not None:
                assignee = found
            else:
                raise InputError("assignee_id", "배정할 상담원을 선택해 주세요.", "Choose an agent.")
            actions.assign(session, conversation, assignee, agent, actor_of(ctx, client))
            if values.get("topic"):
                actions.change_topic(session, conversation, values["topic"], agent, actor_of(ctx, client))
            still_visible = queries.can_view(agent, conversation)
    except SangdamError as error:
        return _error_page(templates, request, db, ctx, conversation_id, client, error)
    if not still_visible:
        return RedirectResponse("/console?" + urlencode({"done": "상담건을 이관했습니다."}), status_code=303)
    return _back(conversation_id, "담당자를 변경했습니다.")


@router.post("/conversations/{conversation_id}/status")
async def status(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    try:
        values, _ = await _form(request, ctx)
        with db.transaction() as session:
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
            actions.change_status(session, conversation, values.get("status", ""), agent, actor_of(ctx, client))
    except SangdamError as error:
        return _error_page(templates, request, db, ctx, conversation_id, client, error)
    return _back(conversation_id, "상태를 변경했습니다.")


@router.post("/conversations/{conversation_id}/escalate")
async def escalate(
    conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    """상급자 연결: the conversation goes to the supervisor queue with its whole history."""
    try:
        values, _ = await _form(request, ctx)
        with db.transaction() as session:
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            conversation = queries.get_for_agent(session, agent, conversation_id, actor_of(ctx, client))
            routing.escalate_to_supervisor(session, conversation, agent, reason=values.get("reason", "")[:500])
            still_visible = queries.can_view(agent, conversation)
    except SangdamError as error:
        return _error_page(templates, request, db, ctx, conversation_id, client, error)
    if not still_visible:
        return RedirectResponse("/console?" + urlencode({"done": "상급자에게 연결했습니다."}), status_code=303)
    return _back(conversation_id, "상급자에게 연결했습니다. 상급자 대기열에서 배정을 기다립니다.")


@router.post("/status")
async def agent_status(request: Request, ctx: ConsoleAgent, db: DbDep, client: ClientDep) -> Response:
    """The agent's own status from the console bar; leaving 상담가능 withdraws the offers ringing."""
    values, _ = await _form(request, ctx)
    with db.transaction() as session:
        routing.set_agent_status(session, ctx.agent_id, values.get("status", ""), actor=actor_of(ctx, client))
    return RedirectResponse(_safe_next(values.get("next")), status_code=303)


@router.get("/offers")
def offers(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    """The offer banners (a fragment the console refreshes when an offer event arrives)."""
    with db.transaction() as session:
        views = _offers(session, ctx.agent_id)
    return page(templates, request, "console/_offers.html", {"me": ctx, "offers": views})


@router.post("/offers/{conversation_id}/accept")
async def accept_offer(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep) -> Response:
    """수락: the conversation is assigned to this agent, who lands in it."""
    await _form(request, ctx)
    try:
        with db.transaction() as session:
            entry = routing.accept_offer(session, conversation_id, ctx.agent_id)
            is_chat = entry.channel == "webchat"
    except SangdamError as error:
        if error.code not in OFFER_ERRORS:
            raise
        return RedirectResponse("/console?" + urlencode({"offer": error.code}), status_code=303)
    if is_chat:  # a live chat opens in the chat workspace, beside the agent's other chats
        return RedirectResponse(f"/console/chats/{conversation_id}", status_code=303)
    return _back(conversation_id, "상담이 연결되었습니다.")


@router.post("/offers/{conversation_id}/reject")
async def reject_offer(conversation_id: int, request: Request, ctx: ConsoleAgent, db: DbDep) -> Response:
    """거절: the conversation goes back to its place in the queue, for the next agent."""
    values, _ = await _form(request, ctx)
    target = _safe_next(values.get("next"))
    try:
        with db.transaction() as session:
            routing.reject_offer(session, conversation_id, ctx.agent_id)
    except SangdamError as error:
        if error.code not in OFFER_ERRORS:
            raise
    return RedirectResponse(target, status_code=303)


@router.get("/attachments/{attachment_id}")
def attachment(attachment_id: int, ctx: ConsoleAgent, db: DbDep, settings: SettingsDep, client: ClientDep) -> Response:
    from sangdam.models import Attachment
    from sangdam.web.files import attachment_response

    with db.transaction() as session:
        row = session.get(Attachment, attachment_id)
        agent = session.get(Agent, ctx.agent_id)
        assert agent is not None
        if row is not None:
            queries.get_for_agent(session, agent, row.conversation_id, actor_of(ctx, client))
            conversation_id = row.conversation_id
        else:
            conversation_id = -1
    return attachment_response(db, settings, attachment_id, conversation_id=conversation_id)


def _visible_event(agent: Agent, kind: str, data: dict[str, Any], skill_topics: set[int]) -> bool:
    """Whether this agent's console gets an event. An offer rings only at the agent it is made to;
    other routing and agent events reach the agents they concern, and supervisors and admins."""
    if kind == "routing.offered":
        return data.get("agent_id") == agent.id
    lead = agent.role in (Role.SUPERVISOR, Role.ADMIN)
    if kind.startswith(("routing.", "agent.")):
        concerned = {data.get("agent_id"), data.get("by_agent_id"), data.get("from_agent_id")}
        return lead or agent.id in concerned
    if lead:
        return True
    assignee = data.get("assignee_id")
    if assignee == agent.id or data.get("previous_assignee_id") == agent.id:
        return True
    if assignee is not None:
        return False
    topic = data.get("topic_id")
    return topic is None or topic in skill_topics


SESSION_RECHECK_SECONDS = 5.0


@router.websocket("/ws")
async def live(websocket: WebSocket) -> None:
    """Live events for an open console: only what this agent may see, as small JSON messages."""
    app = websocket.app
    origin = websocket.headers.get("origin")
    if origin and urlparse(origin).netloc != websocket.headers.get("host"):
        await websocket.close(code=4403)
        return
    db = app.state.db
    try:
        with db.transaction() as session:
            ctx = load_session(session, app.state.settings, websocket.cookies.get(SESSION_COOKIE))
            agent = session.get(Agent, ctx.agent_id)
            assert agent is not None
            session.expunge(agent)
            skill_topics = set(
                session.execute(select(Topic.id).where(Topic.skill_id.in_(agent.skill_ids or {-1}))).scalars()
            ) | set(session.execute(select(Topic.id).where(Topic.skill_id.is_(None))).scalars())
    except Unauthorized:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    subscription = app.state.bus.subscribe()

    token = websocket.cookies.get(SESSION_COOKIE)
    checked_at = time.monotonic()

    def signed_in() -> bool:
        try:
            with db.transaction() as session:
                load_session(session, app.state.settings, token)
        except Unauthorized:
            return False
        return True

    async def pump() -> None:
        nonlocal checked_at
        while True:
            event = await subscription.get()
            if not _visible_event(agent, event.kind, event.data, skill_topics):
                continue
            # A session that ended (logout, expiry, deactivation) stops receiving at once.
            if time.monotonic() - checked_at > SESSION_RECHECK_SECONDS:
                if not await asyncio.to_thread(signed_in):
                    await websocket.close(code=4401)
                    return
                checked_at = time.monotonic()
            await websocket.send_json({"kind": event.kind, "data": event.data, "id": event.id})

    sender = asyncio.create_task(pump())
    try:
        await websocket.send_json({"kind": "hello", "data": {"agent_id": agent.id}})
        while True:
            await websocket.receive_text()  # pings from the page; closing ends the loop
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        subscription.close()
