"""Inputs and outputs of the customers feature (REST API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ContactPointPublic(BaseModel):
    kind: str = Field(description="phone, email, kakao, web")
    value: str = Field(description="masked (010-****-5678, ho***@example.com) unless the reader may see it in full")
    verified: bool


class CustomerPublic(BaseModel):
    id: int
    name: str
    tier: str = Field(description="general, gold, vip")
    language: str
    created_at: datetime
    masked: bool = Field(description="true when contact points are shown masked (role agent)")
    contact_points: list[ContactPointPublic]


class CustomerList(BaseModel):
    items: list[CustomerPublic]
    total: int


class CustomerConversationPublic(BaseModel):
    """One of the customer's contacts. ``can_view``: whether this reader may open it in full."""

    id: int
    receipt_number: str
    channel: str
    topic: str | None = Field(description="topic code")
    status: str
    subject: str = Field(description="empty when the reader may not open the conversation")
    created_at: datetime
    can_view: bool


class CustomerConversationList(BaseModel):
    items: list[CustomerConversationPublic]
    total: int
