"""JSON routes of the conversations feature: inquiries (public), conversations, messages, notes, topics.

Routes parse, check access, call an action or a query, and build the response inside the
transaction; every read of a customer's data writes an audit row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sangdam.conversations import actions, queries
from sangdam.conversations.schemas import (
    ActivityPublic,
    AgentRef,
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    ConversationSummary,
    ConversationUpdate,
    CustomerSummary,
    ErrorBody,
    InquiryCreate,
    InquiryPublic,
    LookupMessagePublic,
    LookupPublic,
    MessageCreate,
    MessagePublic,
    NoteCreate,
    NotePublic,
    ReceiptLookup,
    TopicCreate,
    TopicPublic,
    TopicRef,
    TopicUpdate,
)
from sangdam.core.db import Database
from sangdam.core.errors import Conflict, Forbidden, InputError, NotFound, TooManyRequests
from sangdam.customers.contact import mask_phone
from sangdam.knowledge.actions import mark_deflection_submitted
from sangdam.models import Agent, Conversation, Skill, Topic
from sangdam.models.base import OPEN_STATUSES, STATUS_LABELS_KO, ContactKind, ConversationStatus, SenderKind
from sangdam.privacy.audit import Actor, record
from sangdam.web.auth import AgentContext
from sangdam.web.deps import AdminAgent, ClientDep, CurrentAgent, DbDep, SettingsDep

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "인증 필요 / not signed in or bad token"},
    403: {"model": ErrorBody, "description": "권한 없음 / forbidden"},
    404: {"model": ErrorBody, "description": "없음 / not found"},
    409: {"model": ErrorBody, "description": "상태 충돌 / conflict"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
}
INQUIRY_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
    429: {"model": ErrorBody, "description": "시간당 접수 한도 초과 / too many inquiries (see Retry-After)"},
}
LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "접수번호와 휴대폰 번호가 맞지 않음"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
    429: {"model": ErrorBody, "description": "조회 시도 초과 / too many attempts (see Retry-After)"},
}

router = APIRouter()
T = TypeVar("T")

DENIED_KO = "이 상담건을 볼 권한이 없습니다."
DENIED_EN = "You may not open this conversation."

PUBLIC_SENDERS = (SenderKind.CUSTOMER, SenderKind.AGENT, SenderKind.BOT, SenderKind.SYSTEM)
STATUS_FILTER = "^(open|all|" + "|".join(s.value for s in ConversationStatus) + ")$"


def _actor(ctx: AgentContext, ip: str) -> Actor:
    return Actor("api" if ctx.via == "token" else "agent", ctx.agent_id, ip, ctx.role)


def _me(session: Session, ctx: AgentContext) -> Agent:
    agent = session.get(Agent, ctx.agent_id)
    assert agent is not None  # the dependency just loaded this agent
    return agent


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("상담건을 찾을 수 없습니다.", "Conversation not found.")
    return conversation


def _summary(conversation: Conversation) -> ConversationSummary:
    return ConversationSummary(
        **ConversationPublic.model_validate(conversation).model_dump(),
        topic=conversation.topic.code if conversation.topic else None,
        customer_name=conversation.customer.name,
    )


def _detail(conversation: Conversation) -> ConversationDetail:
    customer = conversation.customer
    topic = conversation.topic
    assignee = conversation.assignee
    return ConversationDetail(
        **ConversationPublic.model_validate(conversation).model_dump(),
        status_label=STATUS_LABELS_KO.get(conversation.status, conversation.status),
        language=conversation.language,
        last_message_at=conversation.last_message_at,
        closed_at=conversation.closed_at,
        topic=TopicRef(code=topic.code, name=topic.name) if topic else None,
        assignee=AgentRef(id=assignee.id, name=assignee.name) if assignee else None,
        customer=CustomerSummary(
            id=customer.id,
            name=customer.name,
            tier=customer.tier,
            phone_masked=mask_phone(customer.contact(ContactKind.PHONE) or conversation.contact_phone),
        ),
    )


# --- public: inquiries and receipt lookup ------------------------------------------------------


@router.post(
    "/inquiries",
    status_code=status.HTTP_201_CREATED,
    response_model=InquiryPublic,
    tags=["inquiries"],
    summary="문의 접수 (public)",
    responses=INQUIRY_ERRORS,
)
async def file_inquiry(data: InquiryCreate, db: DbDep, settings: SettingsDep, ip: ClientDep) -> InquiryPublic:
    """A web/app inquiry. No authentication; the answer holds the 접수번호 the customer looks it up by."""

    def work(session: Session) -> InquiryPublic:
        conversation = actions.create_inquiry(session, settings, data, actor=Actor.customer(None, ip))
        if data.deflection_id is not None:  # FAQ suggestions were shown, and the customer submitted anyway
            with contextlib.suppress(NotFound):
                mark_deflection_submitted(session, data.deflection_id, conversation.id)
        return InquiryPublic(
            receipt_number=conversation.receipt_number,
            status=conversation.status,
            status_label=STATUS_LABELS_KO.get(conversation.status, conversation.status),
            created_at=conversation.created_at,
        )

    return await db.run_grouped(work)


@router.post(
    "/inquiries/lookup",
    response_model=LookupPublic,
    tags=["inquiries"],
    summary="접수 조회 (public)",
    responses=LOOKUP_ERRORS,
)
def lookup_inquiry(data: ReceiptLookup, db: DbDep, settings: SettingsDep, ip: ClientDep) -> LookupPublic:
    """접수번호 + 휴대폰 번호 → status and replies. Failed tries are counted; too many give 429."""
    refused: queries.LookupRefused
    with db.transaction() as session:
        try:
            conversation = queries.lookup_by_receipt(session, settings, data.receipt_number, data.phone, ip)
        except queries.LookupRefused as exc:
            refused = exc  # leave the block normally so the failed attempt is committed
        else:
            messages = [
                LookupMessagePublic(
                    sender_kind=m.sender_kind,
                    body=m.body,
                    created_at=m.created_at,
                    attachments=[a.filename for a in m.attachments],
                )
                for m in queries.messages_of(session, conversation.id)
                if m.sender_kind in PUBLIC_SENDERS
            ]
            return LookupPublic(
                receipt_number=conversation.receipt_number,
                status=conversation.status,
                status_label=STATUS_LABELS_KO.get(conversation.status, conversation.status),
                topic=conversation.topic.name if conversation.topic else None,
                subject=conversation.subject,
                channel=conversation.channel,
                created_at=conversation.created_at,
                updated_at=conversation.updated_at,
                messages=messages,
            )
    if refused.rate_limited:
        raise TooManyRequests(refused.message, refused.message_en, retry_after=settings.lookup_window_seconds)
    raise NotFound(refused.message, refused.message_en, code="lookup_failed")


# --- conversations -----------------------------------------------------------------------------


@router.get(
    "/conversations",
    response_model=ConversationList,
    tags=["conversations"],
    responses=ERRORS,
    summary="상담건 목록",
)
def list_conversations(
    ctx: CurrentAgent,
    db: DbDep,
    ip: ClientDep,
    status_: Annotated[
        str | None,
        Query(alias="status", pattern=STATUS_FILTER, description="a status, open (default) or all"),
    ] = None,
    topic: Annotated[str | None, Query(max_length=64, description="topic code")] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    assignee: Annotated[str | None, Query(pattern=r"^(me|none|[0-9]+)$", description="me, none or an id")] = None,
    q: Annotated[str | None, Query(max_length=100, description="receipt number or customer name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConversationList:
    """The conversations this agent may see (supervisors and admins: all), most urgent first."""
    with db.transaction() as session:
        agent = _me(session, ctx)
        rows, total = queries.list_conversations(
            session,
            agent,
            queries.InboxFilter(
                status=status_,
                topic=topic,
                channel=channel,
                assignee=assignee,
                q=q,
                limit=limit,
                offset=offset,
            ),
        )
        record(
            session,
            _actor(ctx, ip),
            "conversation.list",
            "conversation",
            None,
            conversation_ids=[c.id for c in rows],
            total=total,
        )
        return ConversationList(items=[_summary(c) for c in rows], total=total)


def _with_conversation(
    db: Database,
    ctx: AgentContext,
    ip: str,
    conversation_id: int,
    work: Callable[[Session, Agent, Conversation, Actor], T],
    *,
    view: bool,
) -> T:
    """Open the conversation for this agent and run ``work`` in the same transaction.

    ``view``: the read is audited as a view (``queries.get_for_agent``); otherwise ``work`` is a
    change that audits itself. A refusal is audited too, and that row is committed before the 403.
    """
    actor = _actor(ctx, ip)
    refused: Forbidden
    with db.transaction() as session:
        agent = _me(session, ctx)
        try:
            if view:
                conversation = queries.get_for_agent(session, agent, conversation_id, actor)
            else:
                conversation = _conversation(session, conversation_id)
                if not queries.can_view(agent, conversation):
                    record(
                        session,
                        actor,
                        "conversation.change_denied",
                        "conversation",
                        conversation.id,
                        customer_id=conversation.customer_id,
                    )
                    raise Forbidden(DENIED_KO, DENIED_EN)
        except Forbidden as exc:
            refused = exc  # leave the block normally: the denial's audit row is kept
        else:
            return work(session, agent, conversation, actor)
    raise refused


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    tags=["conversations"],
    responses=ERRORS,
    summary="상담건 조회",
)
def get_conversation(conversation_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> ConversationDetail:
    """One conversation with a summary of its customer (phone masked). The view is audited."""
    return _with_conversation(db, ctx, ip, conversation_id, lambda s, a, c, actor: _detail(c), view=True)


@router.patch(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    tags=["conversations"],
    responses=ERRORS,
    summary="상태·유형·담당자 변경",
)
def update_conversation(
    conversation_id: int, data: ConversationUpdate, ctx: CurrentAgent, db: DbDep, ip: ClientDep
) -> ConversationDetail:
    """Change the status (resolve, close, wait on the customer, reopen), the topic, or the assignee.

    A reopening status is applied first, then the topic, the assignee, and any other status last,
    so "reopen and hand to X" and "take it and resolve" each work in one request.
    """
    if data.unassign and data.assignee_id is not None:
        raise InputError(
            "assignee_id",
            "담당자 지정과 배정 해제를 함께 요청할 수 없습니다.",
            "Give either assignee_id or unassign, not both.",
        )

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> ConversationDetail:
        pending_status = data.status
        reopening = pending_status in {s.value for s in OPEN_STATUSES} and conversation.status in (
            ConversationStatus.RESOLVED,
            ConversationStatus.CLOSED,
        )
        if pending_status is not None and reopening:
            actions.change_status(session, conversation, pending_status, agent, actor)
            pending_status = None
        if data.topic is not None:
            actions.change_topic(session, conversation, data.topic, agent, actor)
        if data.unassign:
            actions.assign(session, conversation, None, agent, actor)
        elif data.assignee_id is not None:
            assignee = session.get(Agent, data.assignee_id)
            if assignee is None:
                raise InputError("assignee_id", "담당자를 찾을 수 없습니다.", "No such agent.")
            actions.assign(session, conversation, assignee, agent, actor)
        if pending_status is not None:
            actions.change_status(session, conversation, pending_status, agent, actor)
        if data.status is None and data.topic is None and data.assignee_id is None and not data.unassign:
            record(  # nothing to change: the answer is still a read of the customer's data
                session,
                actor,
                "conversation.view",
                "conversation",
                conversation.id,
                customer_id=conversation.customer_id,
            )
        session.flush()
        session.refresh(conversation)  # the actions set ids; load the topic and assignee they point to
        return _detail(conversation)

    return _with_conversation(db, ctx, ip, conversation_id, work, view=False)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=list[MessagePublic],
    tags=["conversations"],
    responses=ERRORS,
    summary="메시지 목록",
)
def list_messages(
    conversation_id: int,
    ctx: CurrentAgent,
    db: DbDep,
    ip: ClientDep,
    after_id: Annotated[int, Query(ge=0, description="only messages after this id (polling)")] = 0,
) -> list[MessagePublic]:
    """Every message, oldest first (customer, agent, bot and system notices). The view is audited."""

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> list[MessagePublic]:
        return [MessagePublic.model_validate(m) for m in queries.messages_of(session, conversation.id, after_id)]

    return _with_conversation(db, ctx, ip, conversation_id, work, view=True)


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessagePublic,
    tags=["conversations"],
    responses=ERRORS,
    summary="답변 보내기",
)
def send_message(
    conversation_id: int,
    data: MessageCreate,
    ctx: CurrentAgent,
    db: DbDep,
    settings: SettingsDep,
    ip: ClientDep,
) -> MessagePublic:
    """An agent's reply, delivered through the conversation's channel. Sensitive data is masked first."""

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> MessagePublic:
        message = actions.send_outbound(session, settings, conversation, agent, data.body, actor)
        return MessagePublic.model_validate(message)

    return _with_conversation(db, ctx, ip, conversation_id, work, view=False)


@router.get(
    "/conversations/{conversation_id}/notes",
    response_model=list[NotePublic],
    tags=["conversations"],
    responses=ERRORS,
    summary="메모 목록",
)
def list_notes(conversation_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> list[NotePublic]:
    """Internal notes, oldest first. The view is audited."""

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> list[NotePublic]:
        return [NotePublic.model_validate(n) for n in queries.notes_of(session, conversation.id)]

    return _with_conversation(db, ctx, ip, conversation_id, work, view=True)


@router.post(
    "/conversations/{conversation_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NotePublic,
    tags=["conversations"],
    responses=ERRORS,
    summary="메모 남기기",
)
def add_note(conversation_id: int, data: NoteCreate, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> NotePublic:
    """An internal note: agents only, never shown to the customer. Sensitive data is masked."""

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> NotePublic:
        return NotePublic.model_validate(actions.add_note(session, conversation, agent, data.body, actor))

    return _with_conversation(db, ctx, ip, conversation_id, work, view=False)


@router.get(
    "/conversations/{conversation_id}/activities",
    response_model=list[ActivityPublic],
    tags=["conversations"],
    responses=ERRORS,
    summary="처리 이력",
)
def list_activities(conversation_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> list[ActivityPublic]:
    """The conversation's log: creation, assignments, transfers, status and topic changes."""

    def work(session: Session, agent: Agent, conversation: Conversation, actor: Actor) -> list[ActivityPublic]:
        return [ActivityPublic.model_validate(a) for a in queries.activities_of(session, conversation.id)]

    return _with_conversation(db, ctx, ip, conversation_id, work, view=True)


# --- topics ------------------------------------------------------------------------------------


def _topic(session: Session, code: str) -> Topic:
    topic = session.execute(select(Topic).where(Topic.code == code)).scalar_one_or_none()
    if topic is None:
        raise NotFound("문의 유형을 찾을 수 없습니다.", "Topic not found.")
    return topic


@router.get("/topics", response_model=list[TopicPublic], tags=["topics"], summary="문의 유형 목록 (public)")
def list_topics(db: DbDep) -> list[TopicPublic]:
    """The active topics, in display order. No authentication."""
    with db.transaction() as session:
        rows = session.execute(
            select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order, Topic.id)
        ).scalars()
        return [TopicPublic.model_validate(t) for t in rows]


@router.post(
    "/topics",
    status_code=status.HTTP_201_CREATED,
    response_model=TopicPublic,
    tags=["topics"],
    summary="문의 유형 추가 (admin)",
    responses=ERRORS,
)
def create_topic(data: TopicCreate, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> TopicPublic:
    """A new topic, served by a skill of the same code (created unless it exists)."""
    if not data.name.strip():
        raise InputError("name", "문의 유형 이름을 입력해 주세요.", "Please give the topic a name.")
    with db.transaction() as session:
        if session.execute(select(Topic.id).where(Topic.code == data.code)).first():
            raise Conflict("이미 있는 문의 유형 코드입니다.", f"The topic {data.code!r} exists.", field="code")
        skill = session.execute(select(Skill).where(Skill.code == data.code)).scalar_one_or_none()
        if skill is None:
            skill = Skill(code=data.code, name=data.name.strip())
            session.add(skill)
        last = session.execute(select(func.max(Topic.sort_order))).scalar_one()
        topic = Topic(
            code=data.code,
            name=data.name.strip(),
            name_en=data.name_en.strip(),
            description=data.description.strip(),
            priority=data.priority,
            sensitive=data.sensitive,
            sort_order=(last or 0) + 1,
            active=True,
            skill=skill,
        )
        session.add(topic)
        session.flush()
        record(session, _actor(ctx, ip), "topic.create", "topic", topic.id, code=topic.code)
        return TopicPublic.model_validate(topic)


@router.patch(
    "/topics/{code}",
    response_model=TopicPublic,
    tags=["topics"],
    summary="문의 유형 변경 (admin)",
    responses=ERRORS,
)
def update_topic(code: str, data: TopicUpdate, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> TopicPublic:
    """Rename, reprioritise, activate or deactivate. A deactivated topic is no longer offered."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    with db.transaction() as session:
        topic = _topic(session, code)
        for name, value in changes.items():
            setattr(topic, name, value.strip() if isinstance(value, str) else value)
        if not topic.name:
            raise InputError("name", "문의 유형 이름을 입력해 주세요.", "Please give the topic a name.")
        session.flush()
        record(session, _actor(ctx, ip), "topic.update", "topic", topic.id, code=topic.code, changes=changes)
        result = TopicPublic.model_validate(topic)
    actions.forget_topics()
    return result
