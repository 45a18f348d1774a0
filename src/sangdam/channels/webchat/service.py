"""Web chat actions: start or resume a chat, post exactly once, the FAQ bot, hand-off, read markers,
leave a message out of hours, close, CSAT and the transcript by e-mail.

Every function that changes something takes the caller's session (one transaction, events queued
with :func:`~sangdam.core.db.queue_event` and published after commit). Customer messages take the
one road in, ``conversations.actions.receive_inbound``, with ``channel_message_id`` built from the
browser's id and the widget's client message id, so a message resent after a reconnect is stored
once. The bot's answers and notices are ``bot`` / ``system`` messages of the same conversation.

Bot stage (status ``bot``), for each customer turn:

1. "상담원 연결" (quick reply or said in words) → hand-off, reason ``requested``;
2. a sensitive topic (lost or stolen card, fraud, disputes: a topic marked ``sensitive``, or one of
   :data:`SENSITIVE_TERMS`) → hand-off, ``sensitive``;
3. the knowledge base's best article with confidence ≥ :data:`ANSWER_MIN` → the bot answers with it
   and offers the quick replies ("도움이 됐어요", "다른 질문", "상담원 연결");
4. a weak match (0 < confidence < :data:`ANSWER_MIN`) → hand-off, ``low_confidence``;
5. nothing matches → a failed answer: the bot asks again; the second → hand-off, ``repeated_failure``.

A hand-off puts the conversation in its topic's queue (``routing.actions.enqueue``) when that line
is open; out of hours the bot says when agents are back and the widget offers to leave a message,
which turns the chat into an inquiry (queued with the customer's phone and consent, looked up by
receipt number like any inquiry).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from sangdam.conversations.actions import InboundResult, new_receipt_number, receive_inbound, stored_message
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.conversations.schemas import InboundMessage
from sangdam.core.clock import format_seoul, now, to_seoul
from sangdam.core.db import Database, queue_event
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.core.signing import sign, unsign
from sangdam.customers.actions import find_or_create_customer
from sangdam.customers.contact import normalize_email, normalize_phone
from sangdam.knowledge.queries import browse, guess_topic
from sangdam.knowledge.richtext import to_plain
from sangdam.models import Agent, AgentChannelCapacity, Conversation, ConversationActivity, Customer, Message, Topic
from sangdam.models.base import AgentStatus, ContactKind, ConversationStatus, SenderKind
from sangdam.models.chat import ChatConversation, ChatSession, CsatRating
from sangdam.models.knowledge import KbArticle
from sangdam.privacy.audit import Actor, record
from sangdam.privacy.detect import mask_sensitive
from sangdam.routing import actions as routing
from sangdam.routing.estimates import HandleTimeModel, WaitMonitor, wait_message
from sangdam.routing.hours import OpenStatus, load_calendar
from sangdam.routing.queries import queue_position

log = logging.getLogger(__name__)

CHANNEL = "webchat"
TOKEN_PURPOSE = "webchat"
TOKEN_TTL_S = 30 * 24 * 3600  # a browser can come back to its chat for a month
DEFAULT_NAME_KO = "채팅 고객"
ENDED = (ConversationStatus.RESOLVED.value, ConversationStatus.CLOSED.value)

ANSWER_MIN = 0.25  # the bot answers with the best article from this confidence on
FAILURES_BEFORE_HANDOFF = 2  # the second failed answer hands the chat to a person
ANSWER_CHARS = 500  # an answer longer than this is cut (the customer can ask for a person)
CHAT_HANDLE_PRIOR = HandleTimeModel(mean_s=420.0, sigma=0.7, after_call_mean_s=30.0)
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_BODY = 2000

QUICK_REPLIES: dict[str, tuple[str, str]] = {
    "helpful": ("도움이 됐어요", "That helped"),
    "other": ("다른 질문", "Another question"),
    "agent": ("상담원 연결", "Talk to an agent"),
}
AFTER_ANSWER = ("helpful", "other", "agent")
AFTER_FAILURE = ("agent",)

# Words that always mean a person must take over, with the topic they belong to. The knowledge
# base decides topics; these only make sure that a lost card or a fraud report never stays with the bot.
SENSITIVE_TERMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"분실|잃어버|잃었|도난|도둑|훔쳐|소매치기|lost|stolen", re.I), "lost_card"),
    (
        re.compile(r"부정\s*사용|도용|몰래|사기|피싱|스미싱|해킹|명의\s*도용|fraud|scam|phishing|hack", re.I),
        "fraud_security",
    ),
    (re.compile(r"이의\s*제기|분쟁|차지백|dispute|chargeback", re.I), "payment_billing"),
)
WANTS_AGENT = re.compile(
    r"(상담원|상담사|사람|직원|매니저).{0,8}(연결|바꿔|통화|대화|얘기|이야기|해\s*주|불러|요청)"
    r"|^\s*(상담원|상담사|사람|직원)\s*(이요|요|님)?\s*[.!?]*\s*$"
    r"|\b(agent|human|representative|real person)\b",
    re.I,
)

FAILED_KO = (
    "죄송합니다. 말씀하신 내용을 잘 이해하지 못했어요. 조금 더 자세히 적어 주시거나 '상담원 연결'을 눌러 주세요."
)
FAILED_EN = "Sorry, I did not understand. Please tell me a little more, or choose 'Talk to an agent'."

_CONVERSATION_FIELDS = ("receipt_number", "status", "topic_id", "assignee_id", "channel", "priority")


class ConversationLike(Protocol):
    id: int
    receipt_number: str
    status: str
    topic_id: int | None
    assignee_id: int | None
    channel: str
    priority: int


@dataclass(slots=True)
class ConversationRef:
    """What a chat event carries about its conversation; kept by a live connection between reads."""

    id: int
    receipt_number: str
    status: str
    topic_id: int | None
    assignee_id: int | None
    channel: str
    priority: int
    language: str = "ko"

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationRef:
        return cls(
            conversation.id,
            conversation.receipt_number,
            conversation.status,
            conversation.topic_id,
            conversation.assignee_id,
            conversation.channel,
            conversation.priority,
            conversation.language,
        )

    def update(self, data: dict[str, Any]) -> None:
        for name in _CONVERSATION_FIELDS:
            if name in data:
                setattr(self, name, data[name])


def payload(conversation: ConversationLike, **data: object) -> dict[str, object]:
    out: dict[str, object] = {"conversation_id": conversation.id}
    out.update({name: getattr(conversation, name) for name in _CONVERSATION_FIELDS})
    out.update(data)
    return out


def chat_event(kind: str, conversation: ConversationLike, **data: object) -> Event:
    return Event(kind, payload(conversation, **data), conversation_id=conversation.id)


def _text(language: str, ko: str, en: str) -> str:
    return en if language == "en" else ko


# ------------------------------------------------------------------------------- tokens, sessions


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(settings: Settings) -> tuple[str, str]:
    """A fresh resumable token and the browser id (visitor) it carries."""
    visitor = secrets.token_urlsafe(18)
    return sign(settings.resolved_secret_key(), TOKEN_PURPOSE, visitor, TOKEN_TTL_S), visitor


def visitor_of(settings: Settings, token: str | None) -> str | None:
    """The browser id in a genuine, unexpired token; ``None`` otherwise."""
    return unsign(settings.resolved_secret_key(), TOKEN_PURPOSE, token)


@dataclass(slots=True)
class ChatHandle:
    """One browser's chat: its token, browser id, and the conversation once the customer has spoken."""

    token: str
    visitor: str
    language: str = "ko"
    name: str = ""
    conversation_id: int | None = None

    @property
    def contact_value(self) -> str:
        return f"webchat:{self.visitor}"

    def channel_message_id(self, client_id: str) -> str:
        return f"{self.visitor}:{client_id}"


@dataclass(frozen=True, slots=True)
class ChatOpened:
    handle: ChatHandle
    conversation: Conversation | None
    resumed: bool  # the token was valid (with or without a conversation yet)


def open_chat(
    session: Session, settings: Settings, token: str | None, language: str = "ko", name: str = ""
) -> ChatOpened:
    """Resume the chat of ``token`` or start a new one (a new token). Nothing is stored until the
    customer's first message, so opening the widget leaves no trace."""
    language = "en" if language == "en" else "ko"
    name = (name or "").strip()[:50]
    visitor = visitor_of(settings, token)
    if token is None or visitor is None:
        fresh, visitor = new_token(settings)
        return ChatOpened(ChatHandle(fresh, visitor, language, name), None, False)
    row = session.execute(select(ChatSession).where(ChatSession.token_sha256 == hash_token(token))).scalar_one_or_none()
    handle = ChatHandle(token, visitor, language, name)
    if row is None:
        return ChatOpened(handle, None, True)
    if row.revoked_at is not None:
        fresh, visitor = new_token(settings)
        return ChatOpened(ChatHandle(fresh, visitor, language, name), None, False)
    row.last_seen_at = now()
    conversation = session.get(Conversation, row.conversation_id)
    handle.conversation_id = row.conversation_id
    handle.language = row.language
    return ChatOpened(handle, conversation, True)


def _ensure_conversation(session: Session, settings: Settings, handle: ChatHandle) -> Conversation:
    """The handle's conversation, opened now (status ``bot``) at the customer's first message."""
    if handle.conversation_id is not None:
        conversation = session.get(Conversation, handle.conversation_id, options=_LEAN)
        if conversation is None:
            raise NotFound("상담 내역을 찾을 수 없습니다.", "Conversation not found.")
        return conversation
    customer = find_or_create_customer(
        session,
        name=handle.name or (DEFAULT_NAME_KO if handle.language == "ko" else "Chat customer"),
        others=((ContactKind.WEB, handle.contact_value),),
        language=handle.language,
    )
    # Two tabs of one browser may send their first message at once: the customer row is the lock.
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    digest = hash_token(handle.token)
    existing = session.execute(select(ChatSession).where(ChatSession.token_sha256 == digest)).scalar_one_or_none()
    if existing is not None:
        handle.conversation_id = existing.conversation_id
        conversation = session.get(Conversation, existing.conversation_id)
        assert conversation is not None
        return conversation
    at = now()
    conversation = Conversation(
        receipt_number=new_receipt_number(session),
        customer_id=customer.id,
        channel=CHANNEL,
        priority=50 + routing.TIER_BONUS.get(customer.tier, 0),
        status=ConversationStatus.BOT.value,
        subject="채팅 상담" if handle.language == "ko" else "Chat",
        language=handle.language,
        created_at=at,
        updated_at=at,
        last_message_at=at,
    )
    session.add(conversation)
    session.flush()
    session.add(ChatConversation(conversation_id=conversation.id, created_at=at, updated_at=at))
    session.add(
        ChatSession(
            token_sha256=digest,
            conversation_id=conversation.id,
            customer_id=customer.id,
            language=handle.language,
            created_at=at,
            last_seen_at=at,
        )
    )
    session.add(
        ConversationActivity(
            conversation_id=conversation.id, kind="created", actor_agent_id=None, data={"channel": CHANNEL}
        )
    )
    session.flush()
    record(
        session,
        Actor.customer(customer.id),
        "conversation.create",
        "conversation",
        conversation.id,
        customer_id=customer.id,
        channel=CHANNEL,
    )
    queue_event(session, chat_event("conversation.created", conversation, customer_name=customer.name))
    handle.conversation_id = conversation.id
    return conversation


def _chat_row(session: Session, conversation_id: int) -> ChatConversation:
    row = session.get(ChatConversation, conversation_id)
    if row is None:
        row = ChatConversation(conversation_id=conversation_id)
        session.add(row)
        session.flush()
    return row


# ------------------------------------------------------------------------------------ messages


@dataclass(slots=True)
class PostResult:
    conversation: Conversation
    message: Message
    duplicate: bool
    replies: list[Message] = field(default_factory=list)  # the bot's answer or notices, in order
    handoff: str | None = None  # why the chat went to a person
    offline: OpenStatus | None = None  # a person was needed but the line is closed


def _check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise InputError("client_id", "메시지 식별자가 올바르지 않습니다.", "Invalid client message id.")
    return client_id


def _existing(session: Session, channel_message_id: str) -> Message | None:
    return stored_message(session, CHANNEL, channel_message_id)


# What a customer's message needs of its conversation: its own row. The customer, topic and agent
# (with the agent's skills and capacities) load only where a step reads them: the bot's hand-off,
# a reopened chat — not the message of a chat under way.
_LEAN = (lazyload(Conversation.assignee), lazyload(Conversation.topic), lazyload(Conversation.customer))


def _ended(conversation: Conversation) -> None:
    if conversation.status in ENDED:
        raise Conflict(
            "종료된 채팅입니다. 새 상담을 시작해 주세요.",
            "This chat has ended; please start a new one.",
            code="chat_ended",
        )


def post_message(
    session: Session,
    settings: Settings,
    handle: ChatHandle,
    client_id: str,
    body: str = "",
    *,
    quick_reply: str | None = None,
    topic_code: str | None = None,
    attachments: list[AttachmentUpload] | None = None,
) -> PostResult:
    """The customer's message (typed, a quick reply, or a topic picked), stored once per client id.

    A resent message returns the stored one with ``duplicate`` and does nothing else. In the bot
    stage the bot answers or hands the chat over, in the same transaction.
    """
    _check_client_id(client_id)
    cmid = handle.channel_message_id(client_id)
    existing = _existing(session, cmid)
    if existing is not None:
        return PostResult(existing.conversation, existing, True)
    topic: Topic | None = None
    if quick_reply is not None:
        if quick_reply not in QUICK_REPLIES:
            raise InputError("value", "알 수 없는 선택입니다.", "Unknown quick reply.")
        ko, en = QUICK_REPLIES[quick_reply]
        body = _text(handle.language, ko, en)
    elif topic_code is not None:
        topic = session.execute(
            select(Topic).where(Topic.code == topic_code, Topic.active.is_(True))
        ).scalar_one_or_none()
        if topic is None:
            raise InputError("topic", "문의 유형을 선택해 주세요.", "Please choose a valid topic.")
        body = topic.name if handle.language == "ko" else (topic.name_en or topic.name)
    body = (body or "").strip()
    if not body and not attachments:
        raise InputError("body", "내용을 입력해 주세요.", "Please write a message.")
    if len(body) > MAX_BODY:
        raise InputError("body", f"메시지는 {MAX_BODY}자까지 보낼 수 있습니다.", f"At most {MAX_BODY} characters.")
    conversation = _ensure_conversation(session, settings, handle)
    _ended(conversation)
    result = _receive(session, settings, handle, conversation, body, cmid, attachments, unseen=True)
    outcome = PostResult(result.conversation, result.message, result.duplicate)
    if result.duplicate or conversation.status != ConversationStatus.BOT or not result.message.body:
        return outcome
    _bot_turn(session, settings, conversation, outcome, result.message.body, quick_reply, topic)
    return outcome


def _receive(
    session: Session,
    settings: Settings,
    handle: ChatHandle,
    conversation: Conversation,
    body: str,
    channel_message_id: str,
    attachments: list[AttachmentUpload] | None = None,
    *,
    unseen: bool = False,
) -> InboundResult:
    """The customer's message into their chat, by the one road every channel takes in."""
    return receive_inbound(
        session,
        settings,
        InboundMessage(
            channel=CHANNEL,
            contact_kind=ContactKind.WEB,
            contact_value=handle.contact_value,
            body=body,
            channel_message_id=channel_message_id,
            conversation_id=conversation.id,
            language=conversation.language,
            attachments=list(attachments or []),
        ),
        Actor.customer(conversation.customer_id),
        unseen=unseen,
    )


# ------------------------------------------------------------------------------------- the bot


def wants_agent(text: str) -> bool:
    return WANTS_AGENT.search(text) is not None


def sensitive_topic(text: str) -> str | None:
    for pattern, code in SENSITIVE_TERMS:
        if pattern.search(text):
            return code
    return None


def _bot_message(session: Session, conversation: Conversation, body: str, sender: str = SenderKind.BOT) -> Message:
    at = now()
    message = Message(conversation_id=conversation.id, channel=CHANNEL, sender_kind=sender, body=body, created_at=at)
    session.add(message)
    session.flush()
    conversation.last_message_at = at
    conversation.updated_at = at
    queue_event(session, chat_event("message.created", conversation, message_id=message.id, sender_kind=str(sender)))
    return message


def _topic(session: Session, code: str | None) -> Topic | None:
    if not code:
        return None
    return session.execute(select(Topic).where(Topic.code == code, Topic.active.is_(True))).scalar_one_or_none()


def _set_topic(conversation: Conversation, topic: Topic | None, *, override: bool = False) -> None:
    if topic is None or (conversation.topic_id is not None and not override):
        return
    conversation.topic_id = topic.id
    conversation.topic = topic
    conversation.priority = max(conversation.priority, topic.priority)


def _answer_text(article: KbArticle, language: str) -> str:
    answer = to_plain(article.answer).strip()
    if len(answer) > ANSWER_CHARS:
        answer = answer[:ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
    tail = _text(language, "도움이 되셨나요?", "Did this help?")
    return f"{article.question}\n\n{answer}\n\n{tail}"


def _bot_turn(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    outcome: PostResult,
    text: str,
    quick_reply: str | None,
    picked: Topic | None,
) -> None:
    language = conversation.language
    chat = _chat_row(session, conversation.id)

    def say(body: str) -> None:
        outcome.replies.append(_bot_message(session, conversation, body))

    if quick_reply == "agent" or (quick_reply is None and picked is None and wants_agent(text)):
        _hand_off(session, settings, conversation, chat, outcome, "requested", None, 1.0)
        return
    if quick_reply == "helpful":
        chat.bot_failed_answers = 0
        say(
            _text(
                language,
                "도움이 되어 기쁩니다. 더 궁금한 점이 있으면 편하게 말씀해 주세요.",
                "Glad it helped. Ask me anything else.",
            )
        )
        return
    if quick_reply == "other":
        say(_text(language, "궁금하신 내용을 입력해 주세요.", "What else would you like to know?"))
        return
    if picked is not None:
        _set_topic(conversation, picked, override=True)
        if picked.sensitive:
            _hand_off(session, settings, conversation, chat, outcome, "sensitive", picked, 1.0)
            return
        questions = [a.question for a in browse(session, picked.code, limit=3)]
        name = picked.name if language == "ko" else (picked.name_en or picked.name)
        lines = [
            _text(language, f"{name}에 대해 궁금하신 점을 입력해 주세요.", f"What would you like to know about {name}?")
        ]
        if questions:
            lines.append(_text(language, "자주 찾는 질문:", "Frequently asked:"))
            lines.extend(f"• {q}" for q in questions)
        say("\n".join(lines))
        return

    keyword_topic = sensitive_topic(text)
    if keyword_topic is not None:
        _hand_off(session, settings, conversation, chat, outcome, "sensitive", _topic(session, keyword_topic), 1.0)
        return
    guess = guess_topic(session, text)
    article = session.get(KbArticle, guess.article_id) if guess.article_id else None
    category = _topic(session, article.category) if article is not None else None
    if article is not None and guess.confidence >= ANSWER_MIN:
        if category is not None and category.sensitive:
            _hand_off(session, settings, conversation, chat, outcome, "sensitive", category, guess.confidence)
            return
        _set_topic(conversation, category)
        say(_answer_text(article, language))
        return
    if article is not None and guess.confidence > 0:
        _hand_off(session, settings, conversation, chat, outcome, "low_confidence", None, guess.confidence)
        return
    chat.bot_failed_answers += 1
    if chat.bot_failed_answers >= FAILURES_BEFORE_HANDOFF:
        _hand_off(session, settings, conversation, chat, outcome, "repeated_failure", None, guess.confidence)
        return
    say(
        _text(
            language,
            FAILED_KO,
            FAILED_EN,
        )
    )


def line_status(session: Session, conversation: Conversation | None, at: datetime | None = None) -> OpenStatus:
    """Whether agents answer chats now: the line of the conversation's queue (the lost-card line is
    open around the clock), or the chat line as a whole before there is a conversation."""
    at = at or now()
    queue_code: str | None = None
    if conversation is not None:
        try:
            queue_code = routing.queue_for(session, conversation).code
        except NotFound:
            queue_code = None
    calendar = load_calendar(session, to_seoul(at).date())
    return calendar.status(at, queue=queue_code, channel=CHANNEL)


def _hand_off(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    chat: ChatConversation,
    outcome: PostResult,
    reason: str,
    topic: Topic | None,
    confidence: float,
) -> None:
    language = conversation.language
    _set_topic(conversation, topic, override=reason == "sensitive")
    session.flush()
    at = now()
    status = line_status(session, conversation, at)
    if not status.is_open:
        closed = status.message(language) or ""
        offer = _text(
            language,
            "메시지를 남겨 주시면 상담 시간에 확인해 답변드리겠습니다.",
            "Leave us a message and we will answer when we are open.",
        )
        outcome.replies.append(_bot_message(session, conversation, f"{closed} {offer}"))
        outcome.offline = status
        return
    lost = topic is not None and topic.code == "lost_card"
    notice = _text(
        language, "상담원을 연결해 드릴게요. 잠시만 기다려 주세요.", "Connecting you to an agent. Please wait a moment."
    )
    if lost:
        notice = _text(
            language,
            f"분실·도난 카드는 바로 사용을 막는 것이 중요합니다. 분실신고 전용 전화 {settings.lost_card_phone}(24시간)"
            f"로도 즉시 신고하실 수 있어요. {notice}",
            f"Blocking a lost or stolen card quickly matters: you can also call {settings.lost_card_phone} "
            f"(24 hours). {notice}",
        )
    outcome.replies.append(_bot_message(session, conversation, notice, SenderKind.SYSTEM))
    chat.handed_off_at = at
    chat.handoff_reason = reason
    try:
        routing.enqueue(session, conversation, at)
    except NotFound as exc:
        if exc.code != "no_queue":
            raise
        log.warning("chat %s is not routed: %s", conversation.id, exc.message_en)
        conversation.status = ConversationStatus.QUEUED.value
        conversation.updated_at = at
        queue_event(session, chat_event("conversation.updated", conversation))
    outcome.handoff = reason
    record(
        session,
        Actor.customer(conversation.customer_id),
        "chat.handoff",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        reason=reason,
    )
    queue_event(
        session,
        chat_event(
            "chat.handoff",
            conversation,
            reason=reason,
            topic_code=topic.code if topic is not None else (conversation.topic.code if conversation.topic else None),
            confidence=round(float(confidence), 4),
        ),
    )


def quick_replies_for(session: Session, conversation: Conversation) -> tuple[str, ...]:
    """The quick replies to show now: after the bot's last message while the bot has the chat."""
    if conversation.status != ConversationStatus.BOT:
        return ()
    last = session.execute(
        select(Message.sender_kind, Message.body)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if last is None or last.sender_kind != SenderKind.BOT:
        return ()
    failed = last.body in (FAILED_KO, FAILED_EN)
    return AFTER_FAILURE if failed else AFTER_ANSWER


def quick_reply_labels(values: Sequence[str], language: str) -> list[dict[str, str]]:
    return [{"value": v, "label": _text(language, *QUICK_REPLIES[v])} for v in values]


# --------------------------------------------------------------------------- history, markers


def history(session: Session, conversation_id: int, after: int = 0, limit: int = 500) -> list[Message]:
    """The conversation's messages after ``after`` (a message id), in order."""
    return list(
        session.execute(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after)
            .order_by(Message.id)
            .limit(limit)
        ).scalars()
    )


def client_id_of(message: Message, visitor: str) -> str | None:
    prefix = f"{visitor}:"
    cmid = message.channel_message_id
    return cmid[len(prefix) :] if cmid and cmid.startswith(prefix) else None


def mark_read(
    session: Session, conversation: Conversation, side: str, message_id: int, agent_id: int | None = None
) -> int:
    """One side has seen the conversation up to ``message_id`` (markers only move forward).

    ``side`` is ``customer`` or ``agent``; publishes ``chat.read`` when the marker moves. Returns the marker.
    """
    if side not in ("customer", "agent"):
        raise InputError("side", "알 수 없는 구분입니다.", "side must be customer or agent.")
    found = session.execute(
        select(Message.id).where(Message.id == message_id, Message.conversation_id == conversation.id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("메시지를 찾을 수 없습니다.", "Message not found.")
    chat = _chat_row(session, conversation.id)
    column = "customer_last_read_message_id" if side == "customer" else "agent_last_read_message_id"
    current = getattr(chat, column)
    if current is not None and current >= message_id:
        return current
    setattr(chat, column, message_id)
    queue_event(session, chat_event("chat.read", conversation, side=side, message_id=message_id, agent_id=agent_id))
    return message_id


def read_markers(session: Session, conversation_id: int) -> tuple[int | None, int | None]:
    """(customer's, agent's) last read message ids."""
    chat = session.get(ChatConversation, conversation_id)
    if chat is None:
        return None, None
    return chat.customer_last_read_message_id, chat.agent_last_read_message_id


def publish_typing(
    bus: EventBus, conversation: ConversationLike, side: str, typing: bool, agent_id: int | None = None
) -> None:
    """``chat.typing`` straight to the bus (nothing stored): the other side shows "입력 중…"."""
    bus.publish(chat_event("chat.typing", conversation, side=side, typing=bool(typing), agent_id=agent_id))


def publish_presence(bus: EventBus, conversation: ConversationLike, online: bool, connections: int) -> None:
    bus.publish(chat_event("chat.presence", conversation, online=online, connections=connections))


# ------------------------------------------------------------------------------- queue and wait


@dataclass(frozen=True, slots=True)
class QueueInfo:
    state: str  # waiting, offered, assigned
    position: int | None
    wait_seconds: float | None
    text: str


def chat_slots(session: Session) -> int:
    """Chats the available agents can take at once (their web chat capacity)."""
    total = session.execute(
        select(func.coalesce(func.sum(AgentChannelCapacity.capacity), 0))
        .join(Agent, Agent.id == AgentChannelCapacity.agent_id)
        .where(
            AgentChannelCapacity.channel == CHANNEL,
            Agent.status == AgentStatus.AVAILABLE,
            Agent.active.is_(True),
        )
    ).scalar_one()
    return int(total)


def new_monitor() -> WaitMonitor:
    return WaitMonitor(CHAT_HANDLE_PRIOR)


def queue_info(
    session: Session,
    conversation_id: int,
    language: str = "ko",
    monitor: WaitMonitor | None = None,
    at: datetime | None = None,
    slots: int | None = None,
) -> QueueInfo | None:
    """Where a handed-off chat stands: its place in line and the expected wait, or ``None`` if not routed."""
    place = queue_position(session, conversation_id)
    if place is None:
        return None
    if place.state == "assigned":
        return QueueInfo("assigned", None, 0.0, _text(language, "상담원이 연결되었습니다.", "An agent has joined."))
    if place.state == "offered" or not place.position:
        return QueueInfo(
            place.state, 0, 0.0, _text(language, "곧 상담원이 연결됩니다.", "An agent will join any moment.")
        )
    at = at or now()
    monitor = monitor or new_monitor()
    if slots is None:
        slots = chat_slots(session)
    estimate = monitor.estimate(place.position - 1, at.timestamp(), slots)
    seconds = estimate.seconds if math.isfinite(estimate.seconds) else None
    text = wait_message(place.position, estimate.seconds, language)
    return QueueInfo(place.state, place.position, seconds, text)


# ----------------------------------------------------------------------------- leave a message


@dataclass(frozen=True, slots=True)
class LeftMessage:
    receipt_number: str
    duplicate: bool


def leave_message(
    session: Session,
    settings: Settings,
    handle: ChatHandle,
    client_id: str,
    *,
    name: str,
    phone: str,
    body: str,
    consent: bool,
    email: str | None = None,
) -> LeftMessage:
    """Out of hours: the customer leaves a message and the chat becomes an inquiry.

    The message joins the chat (stored once per client id); the conversation gets the customer's
    phone, e-mail and consent like a filed inquiry, leaves the bot and waits in its topic's queue;
    the customer can look it up by receipt number and phone.
    """
    _check_client_id(client_id)
    existing = _existing(session, handle.channel_message_id(client_id))
    if existing is not None:
        return LeftMessage(existing.conversation.receipt_number, True)
    if not consent:
        raise InputError(
            "consent",
            "개인정보 수집·이용에 동의해 주셔야 메시지를 남길 수 있습니다.",
            "Consent to the collection and use of personal data is required.",
        )
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise InputError("name", "이름을 입력해 주세요.", "Please enter your name.")
    e164 = normalize_phone(phone)
    address = normalize_email(email)
    text = (body or "").strip()
    if len(text) < 5:
        raise InputError("body", "문의 내용을 5자 이상 입력해 주세요.", "Please describe your inquiry (5+ characters).")
    if len(text) > MAX_BODY:
        raise InputError("body", f"메시지는 {MAX_BODY}자까지 보낼 수 있습니다.", f"At most {MAX_BODY} characters.")
    if not handle.name:
        handle.name = name
    conversation = _ensure_conversation(session, settings, handle)
    _ended(conversation)
    if conversation.status != ConversationStatus.BOT:
        raise Conflict(
            "이미 상담원 연결을 기다리고 있습니다. 채팅 창에 메시지를 남겨 주세요.",
            "An agent is already on the way; please write in the chat.",
            code="already_queued",
        )
    result = _receive(session, settings, handle, conversation, text, handle.channel_message_id(client_id))
    if result.duplicate:
        return LeftMessage(result.conversation.receipt_number, True)
    at = now()
    customer = conversation.customer
    if customer.name in (DEFAULT_NAME_KO, "Chat customer"):
        customer.name = name
    conversation.contact_phone = e164
    conversation.contact_email = address
    conversation.consent_at = at
    conversation.subject = mask_sensitive(text.splitlines()[0]).text[:100]
    if conversation.topic_id is None:
        guess = guess_topic(session, result.message.body)
        _set_topic(conversation, _topic(session, guess.category) or _topic(session, "other"))
    chat = _chat_row(session, conversation.id)
    chat.handed_off_at = at
    chat.handoff_reason = "left_message"
    if address:
        chat.transcript_email = address
    session.flush()
    try:
        routing.enqueue(session, conversation, at)
    except NotFound as exc:
        if exc.code != "no_queue":
            raise
        conversation.status = ConversationStatus.QUEUED.value
        queue_event(session, chat_event("conversation.updated", conversation))
    receipt = conversation.receipt_number
    _bot_message(
        session,
        conversation,
        _text(
            conversation.language,
            f"메시지가 접수되었습니다. 접수번호는 {receipt}입니다. 상담 시간에 답변드리며, "
            "‘접수 조회’에서 접수번호와 휴대폰 번호로 확인하실 수 있습니다.",
            f"Your message is filed as {receipt}. We will answer when we are open; look it up with the "
            "receipt number and your phone.",
        ),
        SenderKind.SYSTEM,
    )
    record(
        session,
        Actor.customer(conversation.customer_id),
        "chat.left_message",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
    )
    queue_event(session, chat_event("chat.left_message", conversation))
    return LeftMessage(receipt, False)


# ------------------------------------------------------------------------------ close and CSAT


def close_by_customer(session: Session, handle: ChatHandle) -> Conversation | None:
    """The customer ends the chat: closed, the agent's slot freed. Idempotent."""
    if handle.conversation_id is None:
        return None
    conversation = session.get(Conversation, handle.conversation_id)
    if conversation is None or conversation.status in ENDED:
        return conversation
    at = now()
    previous = conversation.status
    conversation.status = ConversationStatus.CLOSED.value
    conversation.closed_at = at
    conversation.resolved_at = conversation.resolved_at or at
    conversation.updated_at = at
    session.add(
        ConversationActivity(
            conversation_id=conversation.id,
            kind="status",
            actor_agent_id=None,
            data={"from_status": previous, "to_status": "closed", "by": "customer"},
        )
    )
    _bot_message(
        session,
        conversation,
        _text(conversation.language, "고객님이 채팅을 종료했습니다.", "The customer ended the chat."),
        SenderKind.SYSTEM,
    )
    routing.release(session, conversation.id, at)
    record(
        session,
        Actor.customer(conversation.customer_id),
        "conversation.closed",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
    )
    queue_event(
        session, chat_event("conversation.updated", conversation, previous_status=previous, closed_by="customer")
    )
    return conversation


def _ended_conversation(session: Session, handle: ChatHandle) -> Conversation:
    conversation = session.get(Conversation, handle.conversation_id) if handle.conversation_id else None
    if conversation is None:
        raise NotFound("상담 내역을 찾을 수 없습니다.", "Conversation not found.")
    if conversation.status not in ENDED:
        raise Conflict(
            "상담이 끝난 뒤에 이용하실 수 있습니다.", "Available once the chat has ended.", code="chat_not_ended"
        )
    return conversation


def rate(session: Session, handle: ChatHandle, score: object, comment: str = "") -> CsatRating:
    """상담 만족도 1–5 and a comment, once per conversation (a resent identical rating is accepted)."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InputError("score", "만족도는 1점에서 5점 사이로 선택해 주세요.", "The score is 1 to 5.")
    text = (comment or "").strip()
    if len(text) > 1000:
        raise InputError("comment", "의견은 1000자까지 남길 수 있습니다.", "At most 1000 characters.")
    conversation = _ended_conversation(session, handle)
    masked = mask_sensitive(text).text
    existing = session.execute(
        select(CsatRating).where(CsatRating.conversation_id == conversation.id)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.score == score and existing.comment == masked:
            return existing
        raise Conflict("이미 평가해 주셨습니다. 감사합니다.", "You have already rated this chat.", code="already_rated")
    rating = CsatRating(conversation_id=conversation.id, score=score, comment=masked, created_at=now())
    session.add(rating)
    session.flush()
    record(
        session,
        Actor.customer(conversation.customer_id),
        "chat.rated",
        "conversation",
        conversation.id,
        customer_id=conversation.customer_id,
        score=score,
    )
    queue_event(session, chat_event("chat.rated", conversation, score=score))
    return rating


def rating_of(session: Session, conversation_id: int) -> CsatRating | None:
    return session.execute(select(CsatRating).where(CsatRating.conversation_id == conversation_id)).scalar_one_or_none()


# -------------------------------------------------------------------------------- transcript


SENDER_LABELS = {
    "customer": ("고객", "You"),
    "agent": ("상담원", "Agent"),
    "bot": ("챗봇", "Bot"),
    "system": ("안내", "Notice"),
}


def transcript_text(session: Session, settings: Settings, conversation: Conversation) -> str:
    language = conversation.language
    lines = [
        _text(
            language,
            f"{settings.company_name} 채팅 상담 내용 (접수번호 {conversation.receipt_number})",
            f"{settings.company_name} chat transcript (receipt {conversation.receipt_number})",
        ),
        "",
    ]
    for message in history(session, conversation.id, 0, limit=5000):
        label = _text(language, *SENDER_LABELS.get(message.sender_kind, ("", "")))
        lines.append(f"[{format_seoul(message.created_at)}] {label}: {message.body}")
    lines += [
        "",
        _text(
            language,
            f"민감한 정보는 가려서 보관·발송합니다. 문의: {settings.company_phone}",
            f"Sensitive details are masked. Questions: {settings.company_phone}",
        ),
    ]
    return "\n".join(lines)


def prepare_transcript(session: Session, settings: Settings, handle: ChatHandle, email: str) -> EmailMessage:
    """The transcript e-mail for an ended chat (the address is kept for the record)."""
    if not settings.smtp_host:
        raise Conflict("지금은 이메일로 보내 드릴 수 없습니다.", "E-mail is not available.", code="email_unavailable")
    address = normalize_email(email)
    if address is None:
        raise InputError("email", "이메일 주소를 입력해 주세요.", "Please enter an e-mail address.")
    conversation = _ended_conversation(session, handle)
    _chat_row(session, conversation.id).transcript_email = address
    message = EmailMessage()
    message["Subject"] = _text(
        conversation.language,
        f"[{settings.company_name}] 채팅 상담 내용 (접수번호 {conversation.receipt_number})",
        f"[{settings.company_name}] Your chat transcript ({conversation.receipt_number})",
    )
    message["From"] = formataddr((f"{settings.company_name} 고객센터", settings.smtp_from))
    message["To"] = address
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(transcript_text(session, settings, conversation))
    return message


def deliver_email(settings: Settings, message: EmailMessage, timeout: float = 15.0) -> None:
    """Hand ``message`` to the SMTP server (blocking: call it from a worker thread)."""
    assert settings.smtp_host
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        smtp.send_message(message)


def email_transcript(db: Database, settings: Settings, handle: ChatHandle, email: str) -> bool:
    """Build, send, and record the transcript e-mail; the SMTP call is outside any transaction."""
    with db.transaction() as session:
        message = prepare_transcript(session, settings, handle, email)
    try:
        deliver_email(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("transcript e-mail for %s failed: %s", handle.conversation_id, exc)
        return False
    with db.transaction() as session:
        assert handle.conversation_id is not None
        _chat_row(session, handle.conversation_id).transcript_sent_at = now()
        conversation = session.get(Conversation, handle.conversation_id)
        assert conversation is not None
        record(
            session,
            Actor.customer(conversation.customer_id),
            "chat.transcript_sent",
            "conversation",
            conversation.id,
            customer_id=conversation.customer_id,
        )
    return True


# ---------------------------------------------------------------------------------- welcome


def topics_for_widget(session: Session, language: str) -> list[dict[str, str]]:
    rows = session.execute(
        select(Topic.code, Topic.name, Topic.name_en).where(Topic.active.is_(True)).order_by(Topic.sort_order, Topic.id)
    ).all()
    return [{"code": r.code, "name": r.name if language == "ko" else (r.name_en or r.name)} for r in rows]


def greeting(settings: Settings, language: str) -> str:
    return _text(
        language,
        f"안녕하세요, {settings.company_name} 채팅 상담입니다. "
        "궁금하신 내용을 입력하시거나 아래에서 유형을 골라 주세요.",
        f"Hello, this is {settings.company_name} chat. Type your question or pick a topic below.",
    )
