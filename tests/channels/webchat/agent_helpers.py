"""Helpers for the agent side of chat: agents with a chat capacity, handed-off chats, offers.

Chats are made directly (a ``webchat`` conversation with its bot transcript, then put in routing),
so these tests do not depend on the bot, the knowledge base or the business hours.
"""

from __future__ import annotations

import struct
import uuid
import zlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.models import Agent, Conversation, Customer, Message, Topic
from sangdam.models.chat import ChatConversation
from sangdam.privacy.audit import Actor
from sangdam.routing import actions as routing
from sangdam.routing.agents import create_agent

PASSWORD = "chat-agent-pass-2026"
TRANSCRIPT = (
    ("customer", "결제가 두 번 청구됐어요"),
    ("bot", "이중 결제는 보통 승인 취소로 3영업일 안에 정리됩니다. 도움이 되셨나요?"),
    ("customer", "상담원 연결"),
    ("system", "상담원을 연결해 드릴게요. 잠시만 기다려 주세요."),
)


def make_agent(
    session: Session,
    login: str,
    *,
    skills: dict[str, int] | None = None,
    chat_capacity: int = 2,
    status: str = "available",
    role: str = "agent",
    rank: str = "agent",
    name: str | None = None,
) -> int:
    agent = create_agent(
        session,
        login=login,
        name=name or login,
        password=PASSWORD,
        role=role,
        rank=rank,
        skills={"payment_billing": 4} if skills is None else skills,
        capacity={"webchat": chat_capacity, "form": 5},
    )
    agent.status = status
    session.flush()
    return agent.id


def make_chat(
    session: Session,
    *,
    topic: str | None = "payment_billing",
    customer: str = "김하나",
    tier: str = "general",
    transcript: tuple[tuple[str, str], ...] = TRANSCRIPT,
    handoff_reason: str = "requested",
) -> int:
    """A chat the bot has handed over: status ``bot``, its transcript, the hand-off reason."""
    topic_id = session.execute(select(Topic.id).where(Topic.code == topic)).scalar_one() if topic else None
    at = now()
    conversation = Conversation(
        receipt_number=f"C-{uuid.uuid4().hex[:12]}",
        customer=Customer(name=customer, tier=tier),
        channel="webchat",
        topic_id=topic_id,
        status="bot",
        subject="채팅 상담",
        created_at=at,
        updated_at=at,
        last_message_at=at,
    )
    session.add(conversation)
    session.flush()
    for sender, body in transcript:
        session.add(Message(conversation_id=conversation.id, channel="webchat", sender_kind=sender, body=body))
    session.add(ChatConversation(conversation_id=conversation.id, handed_off_at=at, handoff_reason=handoff_reason))
    session.flush()
    return conversation.id


def queued_chat(db: Database, **kwargs: object) -> int:
    """A handed-off chat waiting in its topic's queue."""
    with db.transaction() as session:
        cid = make_chat(session, **kwargs)  # type: ignore[arg-type]
        conversation = session.get(Conversation, cid)
        assert conversation is not None
        routing.enqueue(session, conversation)
        return cid


def dispatch(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as session:
        return [(o.conversation_id, o.agent_id) for o in routing.dispatch(session)]


def held_chat(db: Database, agent_id: int, **kwargs: object) -> int:
    """A chat offered to and accepted by ``agent_id`` (the only agent free for it)."""
    cid = queued_chat(db, **kwargs)
    offers = dispatch(db)
    assert (cid, agent_id) in offers, offers
    with db.transaction() as session:
        routing.accept_offer(session, cid, agent_id)
    return cid


def agent(session: Session, agent_id: int) -> Agent:
    found = session.get(Agent, agent_id)
    assert found is not None
    return found


def actor(agent_id: int) -> Actor:
    return Actor("agent", agent_id)


def tiny_png(width: int = 8, height: int = 6) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"".join(bytes((x * 30 % 256, 90, 200)) for x in range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
