"""The agent's side of live chat: every change an agent makes in the chat workspace.

One function per action, inside the caller's transaction, events after commit — as everywhere.
Chats are ordinary conversations, so replies, notes, assignment and status go through
:mod:`sangdam.conversations.actions` (privacy guard, audit, routing kept in step by
:mod:`sangdam.routing.lifecycle`); offers, escalation and queues through :mod:`sangdam.routing.actions`;
read markers and typing through the customer side's :mod:`sangdam.channels.webchat.service`.

- 상용구 (canned responses): list, create, update, deactivate, and render with the variables
  ``{고객명}`` ``{접수번호}`` ``{상담원명}``. Any agent may add one; its author or a supervisor may
  change or retire it.
- Accept / reject an offered chat; an agent holds several chats up to their ``webchat`` capacity
  (``agent_channel_capacities``): a transfer to a colleague whose chats are full is refused.
- Transfer to another agent (direct, counted against their capacity) or to a queue (the chat keeps
  its original place in time; the agent who sent it away is not offered it back), escalation to a
  supervisor (``상급자 연결``), and close with a summary note (메모 ``[상담 요약] …``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sangdam.channels.webchat import service
from sangdam.conversations import actions as conversations
from sangdam.conversations.queries import can_view
from sangdam.core.clock import now as clock_now
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, Forbidden, InputError, NotFound
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.models import Agent, Conversation, ConversationActivity, Message, Topic
from sangdam.models.base import OPEN_STATUSES, AgentStatus, ConversationStatus, Role, SenderKind
from sangdam.models.chat import CannedResponse
from sangdam.models.routing import EntryState, RoutingEntry, RoutingQueue
from sangdam.privacy.audit import Actor, record
from sangdam.privacy.detect import mask_sensitive
from sangdam.routing import actions as routing

CHANNEL = "webchat"
VARIABLES = ("고객명", "접수번호", "상담원명")
_VARIABLE = re.compile(r"\{([^{}\s]{1,20})\}")
SUMMARY_PREFIX = "[상담 요약] "
TRANSFER_NOTE_PREFIX = "[이관 메모] "
ESCALATION_NOTE_PREFIX = "[상급자 연결 사유] "

NOTICE_TRANSFERRED_TO_AGENT = "{name} 상담원이 이어서 상담해 드립니다."
NOTICE_TRANSFERRED_TO_QUEUE = (
    "담당 상담원에게 연결해 드리고 있습니다. 잠시만 기다려 주세요. 대화 내용은 그대로 전달됩니다."
)
NOTICE_CLOSED = "상담원이 채팅 상담을 종료했습니다. 이용해 주셔서 감사합니다."
NOTICE_ESCALATED = "상급 상담원에게 연결해 드리고 있습니다. 잠시만 기다려 주세요. 대화 내용은 그대로 전달됩니다."


def _is_lead(agent: Agent) -> bool:
    return agent.role in (Role.SUPERVISOR, Role.ADMIN)


# ---------------------------------------------------------------------------- canned responses


class CannedInput(BaseModel):
    """A canned response as an agent writes it; ``topic_code`` empty: for every topic."""

    title: str = Field(max_length=100)
    body: str = Field(max_length=2000)
    topic_code: str | None = None


def unknown_variables(text: str) -> list[str]:
    return sorted({name for name in _VARIABLE.findall(text) if name not in VARIABLES})


def render(text: str, *, customer_name: str, receipt_number: str, agent_name: str) -> str:
    """Fill ``{고객명}`` ``{접수번호}`` ``{상담원명}``; anything else in braces is left as written."""
    values = {"고객명": customer_name, "접수번호": receipt_number, "상담원명": agent_name}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_for(conversation: Conversation, agent: Agent, text: str) -> str:
    customer = conversation.customer
    return render(
        text,
        customer_name=(customer.name if customer is not None and customer.name else "고객"),
        receipt_number=conversation.receipt_number,
        agent_name=agent.name,
    )


def list_canned(session: Session, conversation: Conversation | None = None) -> list[CannedResponse]:
    """Active canned responses: those for every topic and, given a conversation, those of its topic."""
    stmt = select(CannedResponse).where(CannedResponse.active.is_(True))
    if conversation is not None:
        stmt = stmt.where(or_(CannedResponse.topic_id.is_(None), CannedResponse.topic_id == conversation.topic_id))
    return list(session.execute(stmt.order_by(CannedResponse.topic_id.isnot(None), CannedResponse.title)).scalars())


def _checked(session: Session, data: CannedInput) -> tuple[str, str, int | None]:
    title = data.title.strip()
    body = data.body.strip()
    if not title:
        raise InputError("title", "상용구 제목을 입력해 주세요.", "Please give the canned response a title.")
    if not body:
        raise InputError("body", "상용구 내용을 입력해 주세요.", "Please write the canned response.")
    unknown = unknown_variables(body)
    if unknown:
        allowed = ", ".join("{" + v + "}" for v in VARIABLES)
        shown = ", ".join("{" + v + "}" for v in unknown)
        raise InputError(
            "body",
            f"알 수 없는 변수입니다: {shown}. 사용할 수 있는 변수: {allowed}",
            f"Unknown variables {shown}; use {allowed}.",
        )
    if mask_sensitive(body).masked:
        raise InputError(
            "body",
            "상용구에 카드번호·주민등록번호 같은 민감정보를 넣을 수 없습니다.",
            "A canned response may not hold sensitive data.",
        )
    topic_id = None
    if data.topic_code:
        topic = session.execute(select(Topic).where(Topic.code == data.topic_code)).scalar_one_or_none()
        if topic is None:
            raise InputError("topic_code", "알 수 없는 문의 유형입니다.", "Unknown topic.")
        topic_id = topic.id
    return title, body, topic_id


def create_canned(session: Session, agent: Agent, data: CannedInput, actor: Actor) -> CannedResponse:
    title, body, topic_id = _checked(session, data)
    at = clock_now()
    row = CannedResponse(
        title=title, body=body, topic_id=topic_id, active=True, created_by_id=agent.id, created_at=at, updated_at=at
    )
    session.add(row)
    session.flush()
    record(session, actor, "canned.create", "canned_response", row.id, title=title)
    return row


def _editable(session: Session, agent: Agent, canned_id: int) -> CannedResponse:
    row = session.get(CannedResponse, canned_id)
    if row is None or not row.active:
        raise NotFound("상용구를 찾을 수 없습니다.", "Canned response not found.")
    if not _is_lead(agent) and row.created_by_id != agent.id:
        raise Forbidden(
            "다른 사람이 만든 상용구는 관리자만 바꿀 수 있습니다.", "Only its author or a supervisor may change it."
        )
    return row


def update_canned(session: Session, agent: Agent, canned_id: int, data: CannedInput, actor: Actor) -> CannedResponse:
    row = _editable(session, agent, canned_id)
    row.title, row.body, row.topic_id = _checked(session, data)
    row.updated_at = clock_now()
    session.flush()
    record(session, actor, "canned.update", "canned_response", row.id, title=row.title)
    return row


def deactivate_canned(session: Session, agent: Agent, canned_id: int, actor: Actor) -> None:
    row = _editable(session, agent, canned_id)
    row.active = False
    row.updated_at = clock_now()
    record(session, actor, "canned.delete", "canned_response", row.id, title=row.title)


def render_canned(session: Session, canned_id: int, conversation: Conversation, agent: Agent) -> str:
    row = session.get(CannedResponse, canned_id)
    if row is None or not row.active:
        raise NotFound("상용구를 찾을 수 없습니다.", "Canned response not found.")
    return render_for(conversation, agent, row.body)


# ---------------------------------------------------------------------------- reading chats


def pending_offer(session: Session, agent_id: int, conversation_id: int) -> RoutingEntry | None:
    return session.execute(
        select(RoutingEntry).where(
            RoutingEntry.conversation_id == conversation_id,
            RoutingEntry.agent_id == agent_id,
            RoutingEntry.state == EntryState.OFFERED,
        )
    ).scalar_one_or_none()


def may_open(session: Session, agent: Agent, conversation: Conversation) -> bool:
    """What the console allows, plus a chat ringing at this agent (an overflow offer may reach an
    agent of a related skill, who must see the bot transcript before accepting)."""
    if can_view(agent, conversation):
        return True
    return agent.active and pending_offer(session, agent.id, conversation.id) is not None


def open_chat(session: Session, agent: Agent, conversation_id: int, actor: Actor) -> Conversation:
    """A chat for the workspace: permission checked, the view audited (a refusal too)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.channel != CHANNEL:
        raise NotFound("채팅 상담을 찾을 수 없습니다.", "Chat not found.")
    if not may_open(session, agent, conversation):
        record(
            session,
            actor,
            "conversation.view_denied",
            "conversation",
            conversation.id,
            customer_id=conversation.customer_id,
            survive_rollback=True,
        )
        raise Forbidden("이 채팅 상담을 볼 권한이 없습니다.", "You may not open this chat.")
    record(session, actor, "conversation.view", "conversation", conversation.id, customer_id=conversation.customer_id)
    return conversation


def my_chats(session: Session, agent: Agent) -> list[Conversation]:
    """The agent's open chats, the longest-held first."""
    return list(
        session.execute(
            select(Conversation)
            .outerjoin(RoutingEntry, RoutingEntry.conversation_id == Conversation.id)
            .where(
                Conversation.channel == CHANNEL,
                Conversation.assignee_id == agent.id,
                Conversation.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(RoutingEntry.assigned_at, Conversation.id)
        )
        .unique()
        .scalars()
    )


def publish_typing(bus: EventBus, conversation: Conversation, agent: Agent, typing: bool) -> None:
    """입력 중…: straight to the bus (nothing stored), only for a chat the agent holds."""
    if conversation.channel != CHANNEL or conversation.assignee_id != agent.id:
        return
    service.publish_typing(bus, conversation, side="agent", typing=typing, agent_id=agent.id)


@dataclass(frozen=True, slots=True)
class ChatOffer:
    conversation: Conversation
    offered_at: datetime
    expires_at: datetime | None
    queue: str


def my_offers(session: Session, agent: Agent) -> list[ChatOffer]:
    """Chats ringing at this agent, oldest offer first."""
    rows = session.execute(
        select(RoutingEntry, Conversation, RoutingQueue.name)
        .join(Conversation, Conversation.id == RoutingEntry.conversation_id)
        .join(RoutingQueue, RoutingQueue.id == RoutingEntry.queue_id)
        .where(
            RoutingEntry.agent_id == agent.id,
            RoutingEntry.state == EntryState.OFFERED,
            RoutingEntry.channel == CHANNEL,
        )
        .order_by(RoutingEntry.offered_at, RoutingEntry.id)
    ).all()
    return [ChatOffer(c, e.offered_at, e.offer_expires_at, q) for e, c, q in rows]


def chat_load(session: Session, agent_id: int) -> int:
    """Chats that count against the agent's capacity: assigned to them or ringing at them."""
    return int(
        session.execute(
            select(func.count())
            .select_from(RoutingEntry)
            .where(
                RoutingEntry.agent_id == agent_id,
                RoutingEntry.channel == CHANNEL,
                RoutingEntry.state.in_([EntryState.OFFERED, EntryState.ASSIGNED]),
            )
        ).scalar_one()
    )


def transfer_targets(session: Session, agent: Agent) -> list[tuple[Agent, int, int]]:
    """Colleagues a chat can go to now: (agent, chats held, chat capacity), not offline."""
    rows = session.execute(
        select(Agent)
        .where(Agent.active.is_(True), Agent.id != agent.id, Agent.status != AgentStatus.OFFLINE)
        .order_by(Agent.name)
    ).scalars()
    return [(a, chat_load(session, a.id), a.capacity_for(CHANNEL)) for a in rows]


def transfer_queues(session: Session) -> list[RoutingQueue]:
    return [
        q
        for q in session.execute(
            select(RoutingQueue)
            .where(RoutingQueue.active.is_(True), RoutingQueue.is_supervisor_queue.is_(False))
            .order_by(RoutingQueue.name)
        ).scalars()
        if q.serves(CHANNEL)
    ]


# ---------------------------------------------------------------------------- changing chats


def post_system_notice(session: Session, conversation: Conversation, body: str) -> Message:
    """A system line in the chat (the customer sees it; it is not an agent's reply)."""
    at = clock_now()
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        sender_kind=SenderKind.SYSTEM,
        body=body,
        created_at=at,
    )
    session.add(message)
    session.flush()
    conversation.last_message_at = at
    conversation.updated_at = at
    queue_event(session, _event("message.created", conversation, message_id=message.id, sender_kind="system"))
    return message


def _event(kind: str, conversation: Conversation, **data: object) -> Event:
    payload: dict[str, object] = {
        "conversation_id": conversation.id,
        "receipt_number": conversation.receipt_number,
        "status": conversation.status,
        "topic_id": conversation.topic_id,
        "assignee_id": conversation.assignee_id,
        "channel": conversation.channel,
        "priority": conversation.priority,
    }
    payload.update(data)
    return Event(kind, payload, conversation_id=conversation.id)


def _log(session: Session, conversation: Conversation, kind: str, by: Agent, **data: object) -> None:
    session.add(ConversationActivity(conversation_id=conversation.id, kind=kind, actor_agent_id=by.id, data=data))


def _require_handler(agent: Agent, conversation: Conversation) -> None:
    if conversation.channel != CHANNEL:
        raise InputError("conversation", "채팅 상담이 아닙니다.", "This is not a chat.")
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("이미 종료된 채팅입니다.", "The chat is closed.", code="chat_closed")
    if conversation.assignee_id != agent.id and not _is_lead(agent):
        raise Forbidden("담당하고 있는 채팅만 처리할 수 있습니다.", "You can only act on your own chats.")


def accept(session: Session, agent: Agent, conversation_id: int, now: datetime | None = None) -> Conversation:
    """수락: the ringing chat becomes the agent's (refused once expired or withdrawn)."""
    routing.accept_offer(session, conversation_id, agent.id, now)
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation


def reject(session: Session, agent: Agent, conversation_id: int, now: datetime | None = None) -> None:
    """거절: back to its place in the queue; this agent is skipped for it a while."""
    routing.reject_offer(session, conversation_id, agent.id, now)


def reply(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    agent: Agent,
    body: str,
    actor: Actor,
    attachments: list | None = None,
) -> Message:
    """The agent's chat message (text and/or files, checked as for inquiries), masked and stored.

    Replying also marks everything before it as read by the agent.
    """
    _require_handler(agent, conversation)
    message = conversations.send_outbound(session, settings, conversation, agent, body, actor, attachments)
    mark_read(session, conversation, agent, message.id)
    return message


def mark_read(session: Session, conversation: Conversation, agent: Agent, message_id: int) -> int:
    """The agent has seen the chat up to ``message_id``: the customer's widget shows 읽음."""
    _require_handler(agent, conversation)
    return service.mark_read(session, conversation, side="agent", message_id=message_id, agent_id=agent.id)


def transfer_to_agent(
    session: Session, conversation: Conversation, by: Agent, target_id: int, actor: Actor, note: str = ""
) -> Conversation:
    """이관 (상담원): straight to a colleague who is not offline and has a free chat slot."""
    _require_handler(by, conversation)
    target = session.get(Agent, target_id)
    if target is None or not target.active:
        raise InputError("agent_id", "이관할 상담원을 선택해 주세요.", "Choose an active agent.")
    if target.id == conversation.assignee_id:
        raise InputError("agent_id", "이미 그 상담원이 담당하고 있습니다.", "That agent already has this chat.")
    if target.status == AgentStatus.OFFLINE:
        raise Conflict(
            f"{target.name} 상담원은 오프라인이라 이관할 수 없습니다.", "That agent is offline.", code="agent_offline"
        )
    # Lock order everywhere: the agents by id, then the entry (as routing does).
    for agent_id in sorted({target.id, *([conversation.assignee_id] if conversation.assignee_id else [])}):
        session.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update())
    capacity = target.capacity_for(CHANNEL)
    held = chat_load(session, target.id)
    if held >= capacity:
        raise Conflict(
            f"{target.name} 상담원의 채팅 상담 한도({capacity}건)가 가득 찼습니다. "
            "다른 상담원이나 대기열로 이관해 주세요.",
            f"{target.name} already holds {held} of {capacity} chats.",
            code="capacity_full",
        )
    if note.strip():
        conversations.add_note(session, conversation, by, TRANSFER_NOTE_PREFIX + note.strip(), actor)
    conversations.assign(session, conversation, target, by, actor)  # routing follows: counted against the target
    post_system_notice(session, conversation, NOTICE_TRANSFERRED_TO_AGENT.format(name=target.name))
    return conversation


def transfer_to_queue(
    session: Session, conversation: Conversation, by: Agent, queue_code: str, actor: Actor, note: str = ""
) -> Conversation:
    """이관 (대기열): the chat waits in another queue at its original place in time; the agent who
    sends it away is not offered it back."""
    _require_handler(by, conversation)
    queue = session.execute(
        select(RoutingQueue).where(RoutingQueue.code == queue_code, RoutingQueue.active.is_(True))
    ).scalar_one_or_none()
    if queue is None or not queue.serves(CHANNEL):
        raise InputError("queue", "이관할 대기열을 선택해 주세요.", "Choose a queue that takes chats.")
    if queue.is_supervisor_queue:
        return escalate(session, conversation, by, note, actor)
    previous = conversation.assignee_id
    if note.strip():
        conversations.add_note(session, conversation, by, TRANSFER_NOTE_PREFIX + note.strip(), actor)
    if conversation.status != ConversationStatus.QUEUED or conversation.assignee_id is not None:
        # Unassigned and queued; routing follows (the entry returns to waiting at its original place).
        conversations.change_status(session, conversation, ConversationStatus.QUEUED, by, actor)
    at = clock_now()
    entry = session.execute(
        select(RoutingEntry).where(RoutingEntry.conversation_id == conversation.id).with_for_update()
    ).scalar_one_or_none()
    if entry is None:
        entry = routing.enqueue(session, conversation, at, queue_code=queue.code)
    from_queue_id = entry.queue_id
    entry.queue_id = queue.id
    entry.escalated = False
    skipped = dict(entry.skipped or {})
    skipped[str(by.id)] = None  # for good: they sent it away
    if previous is not None:
        skipped[str(previous)] = None
    entry.skipped = skipped
    entry.updated_at = at
    session.flush()
    _log(session, conversation, "transferred", by, to_queue=queue.code, from_agent_id=previous)
    record(
        session,
        actor,
        "conversation.transferred",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        from_agent_id=previous,
        to_queue=queue.code,
    )
    queue_event(
        session,
        Event(
            "routing.requeued",
            {
                "conversation_id": conversation.id,
                "queue_id": entry.queue_id,
                "state": entry.state,
                "agent_id": entry.agent_id,
                "priority": entry.priority,
                "queue": queue.code,
                "from_queue_id": from_queue_id,
                "from_agent_id": previous,
                "reason": "transferred",
            },
            conversation_id=conversation.id,
        ),
    )
    post_system_notice(session, conversation, NOTICE_TRANSFERRED_TO_QUEUE)
    return conversation


def escalate(session: Session, conversation: Conversation, by: Agent, reason: str, actor: Actor) -> Conversation:
    """상급자 연결: to the supervisor queue with the whole history; the reason is kept as a note."""
    _require_handler(by, conversation)
    if reason.strip():
        conversations.add_note(session, conversation, by, ESCALATION_NOTE_PREFIX + reason.strip(), actor)
    routing.escalate_to_supervisor(session, conversation, by, reason=reason.strip())
    post_system_notice(session, conversation, NOTICE_ESCALATED)
    return conversation


def close(session: Session, conversation: Conversation, by: Agent, summary: str, actor: Actor) -> Conversation:
    """종료: a summary note (required), the chat closed, the agent's slot freed."""
    _require_handler(by, conversation)
    text = (summary or "").strip()
    if len(text) < 2:
        raise InputError("summary", "상담 요약을 입력해 주세요.", "Please write a short summary before closing.")
    conversations.add_note(session, conversation, by, SUMMARY_PREFIX + text, actor)
    post_system_notice(session, conversation, NOTICE_CLOSED)
    conversations.change_status(session, conversation, ConversationStatus.CLOSED, by, actor)
    routing.release(session, conversation.id)  # routing.lifecycle has usually done it already: a no-op then
    return conversation
