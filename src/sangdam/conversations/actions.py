"""Every change to conversations: one function per action, one transaction, events after commit.

``receive_inbound`` is the one road every channel takes in; ``send_outbound`` is the one road out.
Both pass text through the privacy guard before anything is stored.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from sangdam.conversations.activity import log_activity
from sangdam.conversations.attachments import CheckedAttachment, check_attachments, store
from sangdam.conversations.schemas import InboundMessage, InquiryCreate
from sangdam.core import cache, ratelimit
from sangdam.core.clock import now, to_seoul
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, Forbidden, InputError, NotFound, TooManyRequests
from sangdam.core.events import Event
from sangdam.core.settings import Settings
from sangdam.core.sql import Prepared, PreparedInsert
from sangdam.customers.actions import CustomerRef, customer_for_contacts
from sangdam.customers.contact import normalize_email, normalize_phone
from sangdam.models import (
    Agent,
    Attachment,
    Conversation,
    Message,
    Note,
    Topic,
)
from sangdam.models.base import OPEN_STATUSES, ContactKind, ConversationStatus, Role, SenderKind
from sangdam.privacy.audit import Actor, record
from sangdam.privacy.detect import MaskResult, customer_notice, mask_sensitive
from sangdam.routing import lifecycle as routing
from sangdam.routing.actions import enqueue_new, priority_of

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_CONVERSATIONS = Conversation.__table__
_MESSAGES = Message.__table__
_ATTACHMENTS = Attachment.__table__
# The statements of every inbound message, prepared once (:mod:`sangdam.core.sql`).
_DELIVERED = Prepared(
    select(_MESSAGES.c.id).where(
        _MESSAGES.c.channel == bindparam("channel"), _MESSAGES.c.channel_message_id == bindparam("cmid")
    )
)
_TOUCH = Prepared(
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation"))
    .values(last_message_at=bindparam("at_message"), updated_at=bindparam("at_update"))
)
_RECEIPT_TAKEN = Prepared(
    select(_CONVERSATIONS.c.id).where(_CONVERSATIONS.c.receipt_number == bindparam("receipt_number"))
)
_NEW_CONVERSATION = PreparedInsert(
    _CONVERSATIONS,
    [
        "receipt_number",
        "customer_id",
        "channel",
        "topic_id",
        "priority",
        "status",
        "subject",
        "language",
        "assignee_id",
        "contact_phone",
        "contact_email",
        "consent_at",
        "created_at",
        "updated_at",
        "last_message_at",
    ],
)
_NEW_MESSAGE = PreparedInsert(
    _MESSAGES,
    ["conversation_id", "channel", "channel_message_id", "sender_kind", "body", "masked_kinds", "created_at"],
)
_NEW_ATTACHMENT = PreparedInsert(
    _ATTACHMENTS,
    ["conversation_id", "message_id", "filename", "content_type", "size", "sha256", "storage_key", "created_at"],
)


@dataclass(frozen=True, slots=True)
class InboundResult:
    conversation: Conversation
    message: Message
    created_conversation: bool
    duplicate: bool  # the channel redelivered a message already stored


def new_receipt_number(session: Session) -> str:
    """접수번호: the Seoul date and six random digits, e.g. ``20261122-483920``; unique."""
    day = to_seoul(now()).strftime("%Y%m%d")
    conn = session.connection()
    for _ in range(20):
        candidate = f"{day}-{secrets.randbelow(1_000_000):06d}"
        taken = _RECEIPT_TAKEN.first(conn, {"receipt_number": candidate})
        if taken is None:
            return candidate
    raise Conflict("접수번호를 만들지 못했습니다. 잠시 후 다시 시도해 주세요.", "Could not allocate a receipt number.")


@dataclass(frozen=True, slots=True)
class TopicRef:
    id: int
    code: str
    priority: int


def topic_by_code(session: Session, code: str | None) -> TopicRef | None:
    """The active topic with this code (cached a few seconds: an admin's change applies within that)."""
    if not code:
        return None

    def load() -> TopicRef | None:
        row = session.execute(
            select(Topic.id, Topic.code, Topic.priority).where(Topic.code == code, Topic.active.is_(True))
        ).first()
        return TopicRef(row.id, row.code, row.priority) if row else None

    ref = cache.cached(session, ("topic", code), load)
    if ref is None:
        raise InputError("topic", "문의 유형을 선택해 주세요.", "Please choose a valid topic.")
    return ref


def forget_topics(session: Session | None = None) -> None:
    """Drop cached topics (after an admin changes the taxonomy)."""
    cache.forget(session, "topic")


_EVENT_FIELDS = ("receipt_number", "status", "topic_id", "assignee_id", "channel", "priority")


def _event(kind: str, conversation: Conversation, **data: object) -> Event:
    payload: dict[str, object] = {"conversation_id": conversation.id}
    payload.update((name, getattr(conversation, name)) for name in _EVENT_FIELDS)
    payload.update(data)
    return Event(kind, payload, conversation_id=conversation.id)


def _log(session: Session, conversation: Conversation, kind: str, actor: Actor, **data: object) -> None:
    log_activity(session, conversation.id, kind, actor.id if actor.kind in ("agent", "api") else None, **data)


def _attach(
    session: Session, settings: Settings, conversation_id: int, message_id: int, files: list[CheckedAttachment]
) -> None:
    """Store the checked files and their rows (the message is in the database: it has an id)."""
    if not files:
        return
    rows = []
    for item in files:
        store(settings.attachments_dir, item)
        rows.append(
            {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "filename": item.filename,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "storage_key": item.storage_key,
                "created_at": now(),
            }
        )
    _NEW_ATTACHMENT.execute_many(session.connection(), rows)


def _attach_to_message(session: Session, settings: Settings, message: Message, files: list[CheckedAttachment]) -> None:
    """:func:`_attach` for a message held as an ORM object (flushed), whose attachments then reload."""
    if files:
        _attach(session, settings, message.conversation_id, message.id, files)
        session.expire(message, ["attachments"])


def _set_assignee(conversation: Conversation, agent: Agent | None) -> None:
    """Keep the relationship and the column in step (events and logs read the id at once)."""
    conversation.assignee = agent
    conversation.assignee_id = agent.id if agent else None


def _system_message(session: Session, conversation: Conversation, body: str) -> Message:
    msg = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        sender_kind=SenderKind.SYSTEM,
        body=body,
    )
    session.add(msg)
    return msg


def receive_inbound(
    session: Session, settings: Settings, inbound: InboundMessage, actor: Actor, *, unseen: bool = False
) -> InboundResult:
    """A customer's message from any channel: find the customer and conversation, mask, store, publish.

    ``unseen``: the caller has just found, in this transaction, that the channel's message id is not
    stored yet (the redelivery check is then not repeated).
    """
    if inbound.channel_message_id and not unseen:
        existing = _stored(session, inbound)
        if existing is not None:
            return InboundResult(existing.conversation, existing, False, True)

    body = (inbound.body or "").strip()
    files = check_attachments(inbound.attachments, settings.max_attachments, settings.max_attachment_bytes)
    if not body and not files:
        raise InputError("body", "내용을 입력해 주세요.", "Please write a message.")
    topic = topic_by_code(session, inbound.topic_code)

    conversation: Conversation | None = None
    if inbound.conversation_id is not None:
        conversation = session.get(Conversation, inbound.conversation_id)
        if conversation is None:
            raise NotFound("상담 내역을 찾을 수 없습니다.", "Conversation not found.")
    else:
        kind, value = inbound.contact_kind, inbound.contact_value
        customer = customer_for_contacts(
            session,
            name=inbound.customer_name or "고객",
            phone=value if kind == ContactKind.PHONE else None,
            email=inbound.email or (value if kind == ContactKind.EMAIL else None),
            others=() if kind in (ContactKind.PHONE, ContactKind.EMAIL) else ((kind, value),),
            language=inbound.language,
        )
        if not inbound.new_conversation:
            conversation = session.execute(
                select(Conversation)
                .where(
                    Conversation.customer_id == customer.id,
                    Conversation.channel == inbound.channel,
                    Conversation.status.in_([s.value for s in OPEN_STATUSES]),
                )
                .order_by(Conversation.last_message_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        if conversation is None:
            return _open_conversation(session, settings, inbound, topic, customer, body, files, actor)

    at = now()
    # An ongoing conversation that keeps its status and agent is already routed as it should be.
    before = (conversation.status, conversation.assignee_id)
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
        _reopen(session, conversation, actor, reason="customer_message")
    elif conversation.status == ConversationStatus.WAITING_CUSTOMER:
        conversation.status = ConversationStatus.ASSIGNED if conversation.assignee_id else ConversationStatus.QUEUED

    masked = mask_sensitive(body)
    message_row = {"conversation_id": conversation.id, **_customer_message(inbound, masked, at)}
    try:
        # Another worker may store the same provider message at once (PostgreSQL; SQLite's write
        # lock keeps other writers out since the check above): then the first one is kept.
        racing = inbound.channel_message_id is not None and session.get_bind().dialect.name != "sqlite"
        with session.begin_nested() if racing else contextlib.nullcontext():
            message_id = _NEW_MESSAGE.insert(session.connection(), message_row)
    except IntegrityError:
        existing = _stored(session, inbound)
        if existing is None:
            raise
        return InboundResult(existing.conversation, existing, False, True)
    message = _as_loaded(session, Message(id=message_id, agent_id=None, **message_row))
    _attach(session, settings, conversation.id, message_id, files)
    _touch(session, conversation, at)

    notice = None
    if masked.masked:
        notice = _system_message(
            session, conversation, customer_notice(masked.kinds, conversation.language, company=settings.company_name)
        )
    session.flush()

    record(
        session,
        actor,
        "message.create",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        channel=inbound.channel,
        masked=sorted(masked.kinds),
    )
    queue_event(session, _event("message.created", conversation, message_id=message.id, sender_kind="customer"))
    if notice is not None:
        queue_event(session, _event("message.created", conversation, message_id=notice.id, sender_kind="system"))
    if (conversation.status, conversation.assignee_id) != before:
        routing.follow(session, conversation, at)  # reopened, or back from waiting on the customer
    return InboundResult(conversation, message, False, False)


def _stored(session: Session, inbound: InboundMessage) -> Message | None:
    return stored_message(session, inbound.channel, inbound.channel_message_id)


def stored_message(session: Session, channel: str, channel_message_id: str | None) -> Message | None:
    """The message a channel already delivered with this provider message id, if any (an indexed
    look-up of the id; the ORM object is loaded only for a redelivery)."""
    if channel_message_id is None:
        return None
    found = _DELIVERED.scalar(session.connection(), {"channel": channel, "cmid": channel_message_id})
    return session.get(Message, found) if found is not None else None


def _open_conversation(
    session: Session,
    settings: Settings,
    inbound: InboundMessage,
    topic: TopicRef | None,
    customer: CustomerRef,
    body: str,
    files: list[CheckedAttachment],
    actor: Actor,
) -> InboundResult:
    """A new conversation with its first message, queued for an agent.

    Every inquiry and every first contact of a channel takes this path, so it is written as plain
    inserts (SQLAlchemy Core), not ORM objects: the ORM's flushes were most of what filing cost.
    The ORM object is loaded once at the end, for the caller.
    """
    at = now()
    conn = session.connection()
    masked = mask_sensitive(body)
    priority = priority_of(topic.code if topic else None, topic.priority if topic else 50, customer.tier)
    row: dict[str, object] = {
        "receipt_number": new_receipt_number(session),
        "customer_id": customer.id,
        "channel": inbound.channel,
        "topic_id": topic.id if topic else None,
        "priority": priority,
        "status": ConversationStatus.QUEUED.value,
        "subject": mask_sensitive(inbound.subject.strip()).text[:200],
        "language": inbound.language,
        "assignee_id": None,
        "contact_phone": inbound.contact_value if inbound.contact_kind == ContactKind.PHONE else None,
        "contact_email": inbound.email,
        "consent_at": at if inbound.consent else None,
        "created_at": at,
        "updated_at": at,
        "last_message_at": at,
    }
    message_row = _customer_message(inbound, masked, at)
    try:
        # Another worker may store the same provider message at once (PostgreSQL): then nothing of
        # this conversation is kept. SQLite's write lock keeps other writers out.
        racing = inbound.channel_message_id is not None and conn.dialect.name != "sqlite"
        with session.begin_nested() if racing else contextlib.nullcontext():
            conversation_id = _NEW_CONVERSATION.insert(conn, row)
            message_id = _NEW_MESSAGE.insert(conn, {**message_row, "conversation_id": conversation_id})
    except IntegrityError:
        existing = _stored(session, inbound)
        if existing is None:
            raise
        return InboundResult(existing.conversation, existing, False, True)
    _attach(session, settings, conversation_id, message_id, files)
    notice_id = None
    if masked.masked:
        notice = customer_notice(masked.kinds, inbound.language, company=settings.company_name)
        notice_id = _NEW_MESSAGE.insert(
            conn,
            {
                "conversation_id": conversation_id,
                "channel": inbound.channel,
                "channel_message_id": None,
                "sender_kind": SenderKind.SYSTEM.value,
                "body": notice,
                "masked_kinds": "",
                "created_at": at,
            },
        )
    record(
        session,
        actor,
        "conversation.create",
        "conversation",
        conversation_id,
        customer_id=customer.id,
        channel=inbound.channel,
        masked=sorted(masked.kinds),
    )
    log_activity(
        session,
        conversation_id,
        "created",
        actor.id if actor.kind in ("agent", "api") else None,
        channel=inbound.channel,
    )
    payload = {"conversation_id": conversation_id, **{name: row[name] for name in _EVENT_FIELDS}}
    queue_event(session, Event("conversation.created", {**payload, "customer_name": customer.name}, conversation_id))
    queue_event(
        session,
        Event("message.created", {**payload, "message_id": message_id, "sender_kind": "customer"}, conversation_id),
    )
    if notice_id is not None:
        queue_event(
            session,
            Event("message.created", {**payload, "message_id": notice_id, "sender_kind": "system"}, conversation_id),
        )
    try:
        enqueue_new(session, conversation_id, inbound.channel, row["topic_id"], priority, at)  # type: ignore[arg-type]
    except NotFound as exc:
        if exc.code != "no_queue":
            raise
        log.warning("conversation %s is not routed: %s", conversation_id, exc.message_en)
    conversation = _as_loaded(
        session,
        Conversation(id=conversation_id, first_response_at=None, resolved_at=None, closed_at=None, **row),
    )
    message = _as_loaded(session, Message(id=message_id, conversation_id=conversation_id, agent_id=None, **message_row))
    return InboundResult(conversation, message, True, False)


def _customer_message(inbound: InboundMessage, masked: MaskResult, at: datetime) -> dict[str, object]:
    """The row of a customer's message (without its conversation id), its text already masked."""
    return {
        "channel": inbound.channel,
        "channel_message_id": inbound.channel_message_id,
        "sender_kind": SenderKind.CUSTOMER.value,
        "body": masked.text,
        "masked_kinds": ",".join(sorted(masked.kinds)),
        "created_at": at,
    }


def _touch(session: Session, conversation: Conversation, at: datetime) -> None:
    """A new message's time on its conversation: one plain UPDATE, and the ORM object kept in step
    without marking it changed (a chat message would otherwise cost a flush of its own)."""
    _TOUCH.execute(session.connection(), {"conversation": conversation.id, "at_message": at, "at_update": at})
    set_committed_value(conversation, "last_message_at", at)
    set_committed_value(conversation, "updated_at", at)


def _as_loaded(session: Session, row: _T) -> _T:
    """The ORM object of a row just inserted with these very values, without reading it back: it
    joins the session as if loaded (relationships load when first read)."""
    make_transient_to_detached(row)
    session.add(row)
    return row


def create_inquiry(
    session: Session,
    settings: Settings,
    data: InquiryCreate,
    attachments: list | None = None,
    actor: Actor | None = None,
) -> Conversation:
    """문의 접수: validate everything first, then open a new conversation with its first message."""
    if not data.consent:
        raise InputError(
            "consent",
            "개인정보 수집·이용에 동의해 주셔야 문의를 접수할 수 있습니다.",
            "Consent to the collection and use of personal data is required.",
        )
    name = data.name.strip()
    if not name:
        raise InputError("name", "이름을 입력해 주세요.", "Please enter your name.")
    if not data.topic:
        raise InputError("topic", "문의 유형을 선택해 주세요.", "Please choose a topic.")
    phone = normalize_phone(data.phone)
    email = normalize_email(data.email)
    body = data.body.strip()
    if len(body) < 5:
        raise InputError("body", "문의 내용을 5자 이상 입력해 주세요.", "Please describe your inquiry (5+ characters).")
    actor = actor or Actor.customer()
    _within_inquiry_limits(session, settings, phone, actor)
    result = receive_inbound(
        session,
        settings,
        InboundMessage(
            channel="form",
            contact_kind=ContactKind.PHONE,
            contact_value=phone,
            customer_name=name,
            body=body,
            topic_code=data.topic,
            subject=data.subject,
            language=data.language,
            attachments=list(attachments or []),
            new_conversation=True,
            email=email,
            consent=True,
        ),
        actor,
    )
    return result.conversation


INQUIRY_WINDOW_S = 3600


def _within_inquiry_limits(session: Session, settings: Settings, phone: str, actor: Actor) -> None:
    """A customer filing from an address (portal, API) files at most
    ``inquiries_per_phone_per_hour`` inquiries per phone number and ``inquiries_per_address_per_hour``
    per address: a flood of inquiries would bury real ones. Counted in the database (every worker
    sees the same count); a refused inquiry is not counted."""
    if actor.kind != "customer" or actor.ip is None:
        return
    limits = [
        (f"inquiry:phone:{phone}", settings.inquiries_per_phone_per_hour),
        (f"inquiry:address:{actor.ip}", settings.inquiries_per_address_per_hour),
    ]
    counted = [bucket for bucket, limit in limits if limit > 0]
    for bucket, limit in limits:
        if limit > 0 and ratelimit.count(session, bucket, INQUIRY_WINDOW_S) >= limit:
            wait = ratelimit.seconds_until_free(session, bucket, INQUIRY_WINDOW_S)
            minutes = max(1, -(-wait // 60))
            raise TooManyRequests(
                f"한 시간에 접수할 수 있는 문의 수를 넘었습니다. {minutes}분 후에 다시 접수해 주세요. "
                f"급한 일은 고객센터 {settings.company_phone}(분실·도난 신고 {settings.lost_card_phone}, 24시간)으로 "
                "연락해 주세요.",
                f"Too many inquiries in an hour; please try again in {minutes} min or call {settings.company_phone}.",
                retry_after=wait,
            )
    ratelimit.hit(session, *counted)


def customer_follow_up(
    session: Session, settings: Settings, conversation: Conversation, body: str, attachments: list | None, actor: Actor
) -> Message:
    """The customer adds to their own inquiry from the receipt lookup page."""
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict(
            "종료된 문의에는 내용을 추가할 수 없습니다. 새 문의를 접수해 주세요.",
            "This inquiry is closed; please file a new one.",
        )
    return receive_inbound(
        session,
        settings,
        InboundMessage(
            channel=conversation.channel,
            contact_kind=ContactKind.PHONE,
            contact_value=conversation.contact_phone or "",
            body=body,
            attachments=list(attachments or []),
            conversation_id=conversation.id,
        ),
        actor,
    ).message


def require_can_view(agent: Agent, conversation: Conversation) -> None:
    from sangdam.conversations.queries import can_view

    if not can_view(agent, conversation):
        raise Forbidden("이 상담건을 볼 권한이 없습니다.", "You may not open this conversation.")


def send_outbound(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    agent: Agent,
    body: str,
    actor: Actor,
    attachments: list | None = None,
) -> Message:
    """An agent's reply: masked like anything else, stored, published for the channel to deliver."""
    require_can_view(agent, conversation)
    text = (body or "").strip()
    files = check_attachments(list(attachments or []), settings.max_attachments, settings.max_attachment_bytes)
    if not text and not files:
        raise InputError("body", "답변 내용을 입력해 주세요.", "Please write a reply.")
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("종료된 상담건입니다. 다시 열어 주세요.", "The conversation is closed; reopen it first.")
    at = now()
    masked = mask_sensitive(text)
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        sender_kind=SenderKind.AGENT,
        agent_id=agent.id,
        body=masked.text,
        masked_kinds=",".join(sorted(masked.kinds)),
        created_at=at,
    )
    session.add(message)
    session.flush()
    _attach_to_message(session, settings, message, files)
    if conversation.assignee_id is None:
        _set_assignee(conversation, agent)
        _log(session, conversation, "assigned", actor, agent_id=agent.id, reason="replied")
    if conversation.first_response_at is None:
        conversation.first_response_at = at
    if conversation.status in (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED, ConversationStatus.BOT):
        conversation.status = ConversationStatus.WAITING_CUSTOMER
    elif conversation.status == ConversationStatus.RESOLVED:
        conversation.status = ConversationStatus.WAITING_CUSTOMER
        conversation.resolved_at = None
    conversation.last_message_at = at
    conversation.updated_at = at
    session.flush()
    record(session, actor, "message.create", "conversation", conversation.id, customer_id=conversation.customer_id)
    queue_event(session, _event("message.created", conversation, message_id=message.id, sender_kind="agent"))
    queue_event(session, _event("conversation.updated", conversation))
    routing.follow(session, conversation, at)  # replying to an unassigned conversation takes it
    return message


def add_note(session: Session, conversation: Conversation, agent: Agent, body: str, actor: Actor) -> Note:
    """메모: internal, masked like messages, never shown to the customer."""
    require_can_view(agent, conversation)
    text = (body or "").strip()
    if not text:
        raise InputError("body", "메모 내용을 입력해 주세요.", "Please write a note.")
    note = Note(conversation_id=conversation.id, agent_id=agent.id, body=mask_sensitive(text).text)
    session.add(note)
    session.flush()
    record(session, actor, "note.create", "conversation", conversation.id, customer_id=conversation.customer_id)
    queue_event(session, _event("note.created", conversation, note_id=note.id))
    return note


def assign(
    session: Session, conversation: Conversation, assignee: Agent | None, by: Agent, actor: Actor
) -> Conversation:
    """Assign (or transfer) to an agent; ``None`` puts it back in the queue.

    An agent may take an unassigned conversation they can see, or hand their own to a colleague;
    supervisors and admins may move any conversation.
    """
    require_can_view(by, conversation)
    is_lead = by.role in (Role.SUPERVISOR, Role.ADMIN)
    if not is_lead and conversation.assignee_id not in (None, by.id):
        raise Forbidden("다른 상담원에게 배정된 상담건은 관리자만 옮길 수 있습니다.", "Only a supervisor can move it.")
    if assignee is not None and not assignee.active:
        raise InputError("assignee_id", "비활성화된 상담원에게는 배정할 수 없습니다.", "That agent is inactive.")
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("종료된 상담건입니다. 다시 열어 주세요.", "The conversation is closed; reopen it first.")
    previous = conversation.assignee_id
    _set_assignee(conversation, assignee)
    if conversation.status in (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED, ConversationStatus.BOT):
        conversation.status = ConversationStatus.ASSIGNED if assignee else ConversationStatus.QUEUED
    conversation.updated_at = now()
    kind = "assigned" if previous is None else ("unassigned" if assignee is None else "transferred")
    _log(session, conversation, kind, actor, from_agent_id=previous, to_agent_id=conversation.assignee_id)
    record(
        session,
        actor,
        f"conversation.{kind}",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        from_agent_id=previous,
        to_agent_id=conversation.assignee_id,
    )
    queue_event(session, _event("conversation.updated", conversation, previous_assignee_id=previous))
    routing.follow(session, conversation)  # counts against the new agent's capacity, or back to the queue
    return conversation


def change_topic(session: Session, conversation: Conversation, code: str, by: Agent, actor: Actor) -> Conversation:
    require_can_view(by, conversation)
    topic = topic_by_code(session, code)
    assert topic is not None
    previous = conversation.topic_id
    conversation.topic_id = topic.id
    conversation.priority = max(conversation.priority, topic.priority)
    conversation.updated_at = now()
    _log(session, conversation, "topic_changed", actor, from_topic_id=previous, to_topic_id=topic.id)
    record(session, actor, "conversation.topic", "conversation", conversation.id, customer_id=conversation.customer_id)
    routing.retarget(session, conversation)  # a waiting conversation moves to its new topic's queue
    queue_event(session, _event("conversation.updated", conversation))
    return conversation


_TRANSITIONS: dict[str, set[str]] = {
    ConversationStatus.BOT: {"queued", "resolved", "closed"},
    ConversationStatus.QUEUED: {"assigned", "waiting_customer", "resolved", "closed"},
    ConversationStatus.ASSIGNED: {"queued", "waiting_customer", "resolved", "closed"},
    ConversationStatus.WAITING_CUSTOMER: {"queued", "assigned", "resolved", "closed"},
    ConversationStatus.RESOLVED: {"closed", "queued", "assigned"},
    ConversationStatus.CLOSED: {"queued", "assigned"},
}


def _reopen(session: Session, conversation: Conversation, actor: Actor, reason: str) -> None:
    conversation.status = ConversationStatus.ASSIGNED if conversation.assignee_id else ConversationStatus.QUEUED
    conversation.resolved_at = None
    conversation.closed_at = None
    conversation.updated_at = now()
    _log(session, conversation, "reopened", actor, reason=reason)


def change_status(session: Session, conversation: Conversation, status: str, by: Agent, actor: Actor) -> Conversation:
    """Resolve (답변 완료), close (종료), wait on the customer, or reopen (to queued/assigned)."""
    require_can_view(by, conversation)
    try:
        target = ConversationStatus(status)
    except ValueError as exc:
        raise InputError("status", "알 수 없는 상태입니다.", f"Unknown status {status!r}.") from exc
    current = conversation.status
    if target == current:
        return conversation
    if target not in _TRANSITIONS[ConversationStatus(current)]:
        raise Conflict(
            "현재 상태에서는 그렇게 바꿀 수 없습니다.", f"Cannot change a {current} conversation to {target}."
        )
    at = now()
    if current in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED) and target in (
        ConversationStatus.QUEUED,
        ConversationStatus.ASSIGNED,
    ):
        _reopen(session, conversation, actor, reason="agent")
        if target == ConversationStatus.ASSIGNED and conversation.assignee_id is None:
            _set_assignee(conversation, by)
            conversation.status = ConversationStatus.ASSIGNED
        action = "reopened"
    else:
        if target == ConversationStatus.ASSIGNED and conversation.assignee_id is None:
            _set_assignee(conversation, by)
        if target == ConversationStatus.QUEUED:
            _set_assignee(conversation, None)
        conversation.status = target
        if target == ConversationStatus.RESOLVED:
            conversation.resolved_at = at
        if target == ConversationStatus.CLOSED:
            conversation.closed_at = at
            conversation.resolved_at = conversation.resolved_at or at
        _log(session, conversation, "status", actor, from_status=current, to_status=target.value)
        action = target.value
    conversation.updated_at = at
    record(
        session, actor, f"conversation.{action}", "conversation", conversation.id, customer_id=conversation.customer_id
    )
    queue_event(session, _event("conversation.updated", conversation, previous_status=current))
    routing.follow(session, conversation, at)  # resolved/closed: released; reopened: queued or with its agent
    return conversation
