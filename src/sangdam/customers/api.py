"""JSON routes of the customers feature: a customer, their contacts, find by phone.

Agents (role ``agent``) may read only customers with at least one conversation they can see, and
see contact points masked; supervisors and admins see everything in full. Every read is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from sangdam.conversations import queries
from sangdam.conversations.schemas import ErrorBody
from sangdam.core.db import Database
from sangdam.core.errors import Forbidden, NotFound
from sangdam.customers.actions import find_by_contact
from sangdam.customers.contact import mask_phone, normalize_phone
from sangdam.customers.schemas import (
    ContactPointPublic,
    CustomerConversationList,
    CustomerConversationPublic,
    CustomerList,
    CustomerPublic,
)
from sangdam.models import Agent, Conversation, Customer
from sangdam.models.base import ContactKind, Role
from sangdam.privacy.audit import Actor, record
from sangdam.web.auth import AgentContext
from sangdam.web.deps import ClientDep, CurrentAgent, DbDep

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "인증 필요 / not signed in or bad token"},
    403: {"model": ErrorBody, "description": "권한 없음 / forbidden"},
    404: {"model": ErrorBody, "description": "없음 / not found"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
}

router = APIRouter(tags=["customers"], responses=ERRORS)
T = TypeVar("T")


def _actor(ctx: AgentContext, ip: str) -> Actor:
    return Actor("api" if ctx.via == "token" else "agent", ctx.agent_id, ip, ctx.role)


def _me(session: Session, ctx: AgentContext) -> Agent:
    agent = session.get(Agent, ctx.agent_id)
    assert agent is not None  # the dependency just loaded this agent
    return agent


def _sees_in_full(agent: Agent) -> bool:
    return agent.role in (Role.SUPERVISOR, Role.ADMIN)


def _may_read(session: Session, agent: Agent, customer_id: int) -> bool:
    """Leads read every customer; an agent only those with a conversation the agent can see."""
    if _sees_in_full(agent):
        return True
    stmt = (
        queries.visible_to(agent)
        .where(Conversation.customer_id == customer_id)
        .with_only_columns(Conversation.id)
        .limit(1)
    )
    return session.execute(stmt).first() is not None


def mask_email(value: str) -> str:
    """``hong.gildong@example.com`` → ``ho*********@example.com``: the domain and a hint stay."""
    local, at, domain = value.rpartition("@")
    if not at:
        return mask_other(value)
    keep = 0 if len(local) <= 1 else 1 if len(local) <= 3 else 2
    return f"{local[:keep]}{'*' * (len(local) - keep)}@{domain}"


def mask_other(value: str) -> str:
    """A messenger or web id: only the last four characters stay."""
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def _contact_value(kind: str, value: str, masked: bool) -> str:
    if not masked:
        return value
    if kind == ContactKind.PHONE:
        return mask_phone(value)
    if kind == ContactKind.EMAIL:
        return mask_email(value)
    return mask_other(value)


def _public(customer: Customer, masked: bool) -> CustomerPublic:
    return CustomerPublic(
        id=customer.id,
        name=customer.name,
        tier=customer.tier,
        language=customer.language,
        created_at=customer.created_at,
        masked=masked,
        contact_points=[
            ContactPointPublic(kind=cp.kind, value=_contact_value(cp.kind, cp.value, masked), verified=cp.verified)
            for cp in sorted(customer.contact_points, key=lambda cp: cp.id)
        ],
    )


def _with_customer(
    db: Database,
    ctx: AgentContext,
    ip: str,
    customer_id: int,
    work: Callable[[Session, Agent, Customer, Actor], T],
) -> T:
    """Run ``work`` on a customer this agent may read; a refusal is audited (and committed) first."""
    actor = _actor(ctx, ip)
    refused: Forbidden
    with db.transaction() as session:
        agent = _me(session, ctx)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("고객을 찾을 수 없습니다.", "Customer not found.")
        if _may_read(session, agent, customer.id):
            return work(session, agent, customer, actor)
        record(session, actor, "customer.view_denied", "customer", customer.id, customer_id=customer.id)
        refused = Forbidden("이 고객 정보를 볼 권한이 없습니다.", "You may not read this customer.")
    raise refused


@router.get("/customers", response_model=CustomerList, summary="휴대폰 번호로 고객 찾기")
def find_customers(
    ctx: CurrentAgent,
    db: DbDep,
    ip: ClientDep,
    phone: Annotated[str, Query(min_length=1, max_length=32, description="010-1234-5678 or +821012345678")],
) -> CustomerList:
    """The customer a phone number belongs to (0 or 1 item). An agent finds only customers they may read."""
    e164 = normalize_phone(phone)
    actor = _actor(ctx, ip)
    with db.transaction() as session:
        agent = _me(session, ctx)
        customer = find_by_contact(session, ContactKind.PHONE, e164)
        shown = customer is not None and _may_read(session, agent, customer.id)
        record(
            session,
            actor,
            "customer.search",
            "customer",
            customer.id if customer else None,
            customer_id=customer.id if customer else None,
            phone=mask_phone(e164),
            found=customer is not None,
            shown=shown,
        )
        items = [_public(customer, not _sees_in_full(agent))] if customer is not None and shown else []
        return CustomerList(items=items, total=len(items))


@router.get("/customers/{customer_id}", response_model=CustomerPublic, summary="고객 조회")
def get_customer(customer_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> CustomerPublic:
    """A customer and their contact points (masked for agents). The view is audited."""

    def work(session: Session, agent: Agent, customer: Customer, actor: Actor) -> CustomerPublic:
        masked = not _sees_in_full(agent)
        record(session, actor, "customer.view", "customer", customer.id, customer_id=customer.id, masked=masked)
        return _public(customer, masked)

    return _with_customer(db, ctx, ip, customer_id, work)


@router.get(
    "/customers/{customer_id}/conversations",
    response_model=CustomerConversationList,
    summary="고객의 상담 이력",
)
def customer_conversations(customer_id: int, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> CustomerConversationList:
    """The customer's contacts, newest first (at most 50). Subjects only where the reader may open them."""

    def work(session: Session, agent: Agent, customer: Customer, actor: Actor) -> CustomerConversationList:
        rows = queries.customer_history(session, agent, customer.id)
        record(
            session,
            actor,
            "customer.conversations.view",
            "customer",
            customer.id,
            customer_id=customer.id,
            conversation_ids=[c.id for c in rows],
        )
        items = []
        for c in rows:
            visible = queries.can_view(agent, c)
            items.append(
                CustomerConversationPublic(
                    id=c.id,
                    receipt_number=c.receipt_number,
                    channel=c.channel,
                    topic=c.topic.code if c.topic else None,
                    status=c.status,
                    subject=c.subject if visible else "",
                    created_at=c.created_at,
                    can_view=visible,
                )
            )
        return CustomerConversationList(items=items, total=len(items))

    return _with_customer(db, ctx, ip, customer_id, work)
