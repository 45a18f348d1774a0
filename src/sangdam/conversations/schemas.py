"""Inputs and outputs of the conversations feature: API bodies, inbound messages, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sangdam.conversations.attachments import AttachmentUpload


class InquiryCreate(BaseModel):
    """A web/app inquiry (문의 접수), as the portal form or an integration sends it."""

    name: str = Field(min_length=1, max_length=50, description="고객 이름")
    phone: str = Field(min_length=1, max_length=32, description="휴대폰 번호, e.g. 010-1234-5678")
    email: str | None = Field(default=None, max_length=254)
    topic: str = Field(description="topic code, e.g. lost_card")
    subject: str = Field(default="", max_length=100)
    body: str = Field(min_length=1, max_length=5000, description="문의 내용")
    consent: bool = Field(description="개인정보 수집·이용 동의 (must be true)")
    language: str = Field(default="ko", pattern="^(ko|en)$")
    deflection_id: int | None = Field(default=None, description="the FAQ suggestion shown before submitting")


@dataclass(slots=True)
class InboundMessage:
    """What every channel adapter hands to ``receive_inbound``."""

    channel: str
    contact_kind: str
    contact_value: str
    body: str
    customer_name: str = ""
    channel_message_id: str | None = None
    topic_code: str | None = None
    subject: str = ""
    language: str = "ko"
    attachments: list[AttachmentUpload] = field(default_factory=list)
    new_conversation: bool = False  # forms always open a new conversation
    conversation_id: int | None = None  # a reply into a known conversation
    email: str | None = None
    consent: bool = False


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    sender_kind: str
    agent_id: int | None
    body: str
    masked_kinds: str
    channel: str
    created_at: datetime
    attachments: list[AttachmentPublic] = []


class MessageCreate(BaseModel):
    body: str = Field(min_length=1, max_length=5000)


class NoteCreate(BaseModel):
    body: str = Field(min_length=1, max_length=5000)


class NotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    agent_id: int
    body: str
    created_at: datetime


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    receipt_number: str
    customer_id: int
    channel: str
    topic_id: int | None
    priority: int
    status: str
    subject: str
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


class ConversationUpdate(BaseModel):
    """Change status, topic or assignee; absent fields stay as they are."""

    status: str | None = Field(default=None, description="resolved, closed, waiting_customer, or queued to reopen")
    topic: str | None = None
    assignee_id: int | None = Field(default=None, description="assign or transfer to this agent")
    unassign: bool = False


class ReceiptLookup(BaseModel):
    receipt_number: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=1, max_length=32)


# --- REST API (/api/v1) -----------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, forbidden, invalid_input")
    message: str = Field(description="한국어 안내 문구")
    message_en: str
    field: str | None = Field(default=None, description="the input field at fault, if any")


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorDetail


class InquiryPublic(BaseModel):
    """What the customer gets back after filing an inquiry: no internal ids."""

    receipt_number: str = Field(description="접수번호, e.g. 20261122-483920")
    status: str
    status_label: str
    created_at: datetime


class LookupMessagePublic(BaseModel):
    """A message as the customer sees it: who wrote it (kind only) and what was said."""

    sender_kind: str = Field(description="customer, agent, bot or system")
    body: str
    created_at: datetime
    attachments: list[str] = Field(default_factory=list, description="file names")


class LookupPublic(BaseModel):
    """접수 조회: the inquiry's state and the public replies (no notes, no agent names)."""

    receipt_number: str
    status: str
    status_label: str
    topic: str | None = Field(description="문의 유형 (Korean name)")
    subject: str
    channel: str
    created_at: datetime
    updated_at: datetime
    messages: list[LookupMessagePublic]


class TopicRef(BaseModel):
    code: str
    name: str


class AgentRef(BaseModel):
    id: int
    name: str


class CustomerSummary(BaseModel):
    id: int
    name: str
    tier: str
    phone_masked: str = Field(description="010-****-5678")


class ConversationSummary(ConversationPublic):
    """One row of the inbox."""

    topic: str | None = Field(description="topic code")
    customer_name: str


class ConversationList(BaseModel):
    items: list[ConversationSummary]
    total: int


class ConversationDetail(ConversationPublic):
    status_label: str
    language: str
    last_message_at: datetime
    closed_at: datetime | None
    topic: TopicRef | None
    assignee: AgentRef | None
    customer: CustomerSummary


class ActivityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="created, assigned, transferred, unassigned, status, topic_changed, reopened …")
    actor_agent_id: int | None
    data: dict[str, Any]
    created_at: datetime


TOPIC_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"


class TopicPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    description: str
    priority: int
    sensitive: bool
    active: bool
    sort_order: int


class TopicCreate(BaseModel):
    """A new topic (상담 유형); a skill with the same code is created with it."""

    code: str = Field(pattern=TOPIC_CODE_PATTERN, description="lower-case letters, digits and _")
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=500)
    priority: int = Field(default=50, ge=0, le=1000)
    sensitive: bool = False


class TopicUpdate(BaseModel):
    """Rename, reprioritise, activate or deactivate a topic; absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    priority: int | None = Field(default=None, ge=0, le=1000)
    sensitive: bool | None = None
    active: bool | None = None
    sort_order: int | None = Field(default=None, ge=0)
