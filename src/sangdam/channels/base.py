"""The channel adapter protocol.

Inbound, every channel builds an :class:`~sangdam.conversations.schemas.InboundMessage` and hands it
to ``conversations.actions.receive_inbound`` (the one road in: dedupe by ``(channel,
channel_message_id)``, customer, conversation, privacy guard, store, events after commit).

Outbound, a stored message (already masked by ``send_outbound``) becomes an :class:`OutboundMessage`
and the channel's adapter delivers it with ``send``. An adapter translates formats only: it never
decides routing, topics or privacy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from sangdam.conversations.schemas import InboundMessage
from sangdam.models import Message

__all__ = ["ChannelAdapter", "DeliveryResult", "InboundMessage", "OutboundAttachment", "OutboundMessage"]


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A file sent with an outbound message; the bytes are fetched by id through the web layer."""

    id: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for the customer, as stored (masked): what an adapter needs to deliver it.

    ``sender_kind`` is ``agent``, ``bot`` or ``system``; ``agent_name`` is the display name the
    channel may show (``None`` for the bot and system notices).
    """

    conversation_id: int
    message_id: int
    channel: str
    sender_kind: str
    body: str
    created_at: datetime
    receipt_number: str = ""
    language: str = "ko"
    agent_name: str | None = None
    attachments: tuple[OutboundAttachment, ...] = field(default_factory=tuple)
    quick_replies: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_message(cls, message: Message, quick_replies: tuple[str, ...] = ()) -> OutboundMessage:
        conversation = message.conversation
        return cls(
            conversation_id=message.conversation_id,
            message_id=message.id,
            channel=message.channel,
            sender_kind=message.sender_kind,
            body=message.body,
            created_at=message.created_at,
            receipt_number=conversation.receipt_number if conversation is not None else "",
            language=conversation.language if conversation is not None else "ko",
            agent_name=message.agent.name if message.agent is not None else None,
            attachments=tuple(
                OutboundAttachment(a.id, a.filename, a.content_type, a.size) for a in message.attachments
            ),
            quick_replies=quick_replies,
        )


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What ``send`` reports: delivered now, or not (the customer is away; they get it on return)."""

    delivered: bool
    provider_message_id: str | None = None
    detail: str = ""


@runtime_checkable
class ChannelAdapter(Protocol):
    """One channel's delivery side. ``name`` is the channel code stored on conversations (``webchat``)."""

    name: str

    async def send(self, outbound: OutboundMessage) -> DeliveryResult:
        """Deliver one stored message to the customer; must not raise for an absent customer."""
        ...
