"""Reads of conversations, with permission checks and an audit row where customer data is seen."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from sangdam.core import ratelimit
from sangdam.core.errors import Forbidden, NotFound
from sangdam.core.settings import Settings
from sangdam.customers.contact import normalize_phone
from sangdam.models import Agent, AgentSkill, Conversation, ConversationActivity, Message, Note, Topic
from sangdam.models.base import OPEN_STATUSES, Role
from sangdam.privacy.audit import Actor, record


def can_view(agent: Agent, conversation: Conversation) -> bool:
    """Supervisors and admins see everything. An agent sees their own conversations and the
    unassigned ones whose topic needs a skill they have (or that have no topic yet)."""
    if not agent.active:
        return False
    if agent.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if conversation.assignee_id == agent.id:
        return True
    if conversation.assignee_id is not None:
        return False
    topic = conversation.topic
    return topic is None or topic.skill_id is None or topic.skill_id in agent.skill_ids


def visible_to(agent: Agent) -> Select[tuple[Conversation]]:
    stmt = select(Conversation)
    if agent.role in (Role.SUPERVISOR, Role.ADMIN):
        return stmt
    skill_topics = (
        select(Topic.id).join(AgentSkill, AgentSkill.skill_id == Topic.skill_id).where(AgentSkill.agent_id == agent.id)
    )
    no_skill_topics = select(Topic.id).where(Topic.skill_id.is_(None))
    return stmt.where(
        or_(
            Conversation.assignee_id == agent.id,
            and_(
                Conversation.assignee_id.is_(None),
                or_(
                    Conversation.topic_id.is_(None),
                    Conversation.topic_id.in_(skill_topics),
                    Conversation.topic_id.in_(no_skill_topics),
                ),
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class InboxFilter:
    status: str | None = None  # a status, "open" (default) or "all"
    topic: str | None = None  # topic code
    channel: str | None = None
    assignee: str | None = None  # "me", "none", or an agent id
    q: str | None = None  # receipt number or customer name
    limit: int = 50
    offset: int = 0


def list_conversations(session: Session, agent: Agent, f: InboxFilter) -> tuple[list[Conversation], int]:
    stmt = visible_to(agent)
    status = f.status or "open"
    if status == "open":
        stmt = stmt.where(Conversation.status.in_([s.value for s in OPEN_STATUSES]))
    elif status != "all":
        stmt = stmt.where(Conversation.status == status)
    if f.topic:
        stmt = stmt.join(Topic, Topic.id == Conversation.topic_id).where(Topic.code == f.topic)
    if f.channel:
        stmt = stmt.where(Conversation.channel == f.channel)
    if f.assignee == "me":
        stmt = stmt.where(Conversation.assignee_id == agent.id)
    elif f.assignee == "none":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif f.assignee and f.assignee.isdigit():
        stmt = stmt.where(Conversation.assignee_id == int(f.assignee))
    if f.q:
        from sangdam.models import Customer

        term = f.q.strip()
        stmt = stmt.where(
            or_(
                Conversation.receipt_number == term,
                Conversation.customer_id.in_(select(Customer.id).where(Customer.name == term)),
            )
        )
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = (
        session.execute(
            stmt.order_by(Conversation.priority.desc(), Conversation.last_message_at.desc())
            .limit(max(1, min(f.limit, 200)))
            .offset(max(0, f.offset))
        )
        .unique()
        .scalars()
        .all()
    )
    return list(rows), total


def get_for_agent(session: Session, agent: Agent, conversation_id: int, actor: Actor) -> Conversation:
    """Open a conversation in the console: permission checked, the view audited."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("상담건을 찾을 수 없습니다.", "Conversation not found.")
    if not can_view(agent, conversation):
        record(
            session,
            actor,
            "conversation.view_denied",
            "conversation",
            conversation.id,
            customer_id=conversation.customer_id,
            survive_rollback=True,
        )
        raise Forbidden("이 상담건을 볼 권한이 없습니다.", "You may not open this conversation.")
    record(session, actor, "conversation.view", "conversation", conversation.id, customer_id=conversation.customer_id)
    return conversation


def messages_of(session: Session, conversation_id: int, after_id: int = 0) -> list[Message]:
    return list(
        session.execute(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .options(selectinload(Message.attachments))
            .order_by(Message.id)
        ).scalars()
    )


def notes_of(session: Session, conversation_id: int) -> list[Note]:
    return list(
        session.execute(select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)).scalars()
    )


def activities_of(session: Session, conversation_id: int) -> list[ConversationActivity]:
    return list(
        session.execute(
            select(ConversationActivity)
            .where(ConversationActivity.conversation_id == conversation_id)
            .order_by(ConversationActivity.id)
        ).scalars()
    )


def customer_history(
    session: Session, agent: Agent, customer_id: int, exclude_id: int | None = None
) -> list[Conversation]:
    """The customer's past contacts, newest first (only those this agent may see in full are linked)."""
    stmt = select(Conversation).where(Conversation.customer_id == customer_id)
    if exclude_id is not None:
        stmt = stmt.where(Conversation.id != exclude_id)
    return list(session.execute(stmt.order_by(Conversation.created_at.desc()).limit(50)).scalars())


class LookupRefused(Exception):
    """The receipt number and phone do not match (or too many tries): nothing is shown."""

    def __init__(self, message: str, message_en: str, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en
        self.rate_limited = rate_limited


def lookup_by_receipt(
    session: Session, settings: Settings, receipt_number: str, phone: str, client: str
) -> Conversation:
    """접수번호 + 휴대폰 번호 → the inquiry. Failed tries count per address and per receipt number.

    The caller commits even when this raises, so the failed attempt is counted.
    """
    receipt = receipt_number.strip()
    buckets = [f"lookup:ip:{client}", f"lookup:receipt:{receipt}"]
    if ratelimit.exceeded(session, buckets, settings.lookup_attempts_per_window, settings.lookup_window_seconds):
        minutes = settings.lookup_window_seconds // 60
        raise LookupRefused(
            f"조회 시도가 너무 많습니다. {minutes}분 후에 다시 시도해 주세요.",
            f"Too many attempts. Please try again in {minutes} minutes.",
            rate_limited=True,
        )
    try:
        e164 = normalize_phone(phone)
    except Exception:
        e164 = None
    conversation = session.execute(
        select(Conversation).where(Conversation.receipt_number == receipt)
    ).scalar_one_or_none()
    if conversation is None or e164 is None or conversation.contact_phone != e164:
        ratelimit.hit(session, *buckets)
        # One message for both cases, so a guesser cannot tell a real receipt number from a fake one.
        raise LookupRefused(
            "접수번호를 찾을 수 없거나 휴대폰 번호가 일치하지 않습니다. 다시 확인해 주세요.",
            "No inquiry matches that receipt number and phone number.",
        )
    record(
        session,
        Actor.customer(conversation.customer_id, client),
        "conversation.lookup",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
    )
    return conversation
