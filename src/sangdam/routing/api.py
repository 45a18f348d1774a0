"""JSON routes of the routing feature: agents (상담원), their skills and capacities, API tokens.

Any signed-in agent may list agents and change their own status; everything else is for admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.conversations.schemas import ErrorBody
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, Forbidden, InputError, NotFound
from sangdam.core.events import Event
from sangdam.customers.contact import normalize_email
from sangdam.models import Agent, AgentChannelCapacity, AgentSkill, Skill, Team
from sangdam.models.base import AgentStatus, Channel, Rank, Role
from sangdam.privacy.audit import Actor, record
from sangdam.routing.actions import set_agent_status
from sangdam.routing.agents import create_agent, issue_api_token
from sangdam.routing.schemas import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    ApiTokenCreate,
    ApiTokenPublic,
    SkillLevelPublic,
)
from sangdam.web.auth import AgentContext
from sangdam.web.deps import AdminAgent, ClientDep, CurrentAgent, DbDep

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "인증 필요 / not signed in or bad token"},
    403: {"model": ErrorBody, "description": "권한 없음 / forbidden"},
    404: {"model": ErrorBody, "description": "없음 / not found"},
    409: {"model": ErrorBody, "description": "충돌 / conflict"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
}

router = APIRouter(tags=["agents"], responses=ERRORS)

MAX_CAPACITY = 50
SELF_SERVICE_FIELDS = frozenset({"status"})


def _actor(ctx: AgentContext, ip: str) -> Actor:
    return Actor("api" if ctx.via == "token" else "agent", ctx.agent_id, ip, ctx.role)


def _agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("상담원을 찾을 수 없습니다.", "Agent not found.")
    return agent


def _public(agent: Agent) -> AgentPublic:
    return AgentPublic(
        id=agent.id,
        login=agent.login,
        name=agent.name,
        email=agent.email,
        role=agent.role,
        rank=agent.rank,
        status=agent.status,
        status_changed_at=agent.status_changed_at,
        active=agent.active,
        team=agent.team.name if agent.team else None,
        skills=[
            SkillLevelPublic(code=s.skill.code, name=s.skill.name, level=s.level)
            for s in sorted(agent.skills, key=lambda s: s.skill.code)
        ],
        capacities={c.channel: c.capacity for c in sorted(agent.capacities, key=lambda c: c.channel)},
        created_at=agent.created_at,
        last_login_at=agent.last_login_at,
    )


def _check_capacity(capacity: dict[str, int]) -> None:
    channels = {c.value for c in Channel}
    for channel, value in capacity.items():
        if channel not in channels:
            raise InputError("capacity", f"알 수 없는 채널입니다: {channel}", f"Unknown channel {channel!r}.")
        if not 0 <= value <= MAX_CAPACITY:
            raise InputError(
                "capacity",
                f"동시 처리 건수는 0~{MAX_CAPACITY}입니다.",
                f"Capacity is 0 to {MAX_CAPACITY}.",
            )


def _set_skills(session: Session, agent: Agent, skills: dict[str, int]) -> None:
    """Make the agent's skills exactly ``skills`` (code → level 1–5)."""
    wanted: dict[int, int] = {}
    for code, level in skills.items():
        skill = session.execute(select(Skill).where(Skill.code == code)).scalar_one_or_none()
        if skill is None:
            raise InputError("skills", f"알 수 없는 스킬입니다: {code}", f"Unknown skill {code!r}.")
        if not 1 <= level <= 5:
            raise InputError("skills", "스킬 수준은 1~5입니다.", "Skill levels are 1 to 5.")
        wanted[skill.id] = level
    for row in list(agent.skills):
        if row.skill_id in wanted:
            row.level = wanted.pop(row.skill_id)
        else:
            agent.skills.remove(row)
    for skill_id, level in wanted.items():
        agent.skills.append(AgentSkill(skill_id=skill_id, level=level))


def _set_capacity(agent: Agent, capacity: dict[str, int]) -> None:
    current = {c.channel: c for c in agent.capacities}
    for channel, value in capacity.items():
        if channel in current:
            current[channel].capacity = value
        else:
            agent.capacities.append(AgentChannelCapacity(channel=channel, capacity=value))


@router.get("/agents", response_model=list[AgentPublic], summary="상담원 목록")
def list_agents(
    ctx: CurrentAgent,
    db: DbDep,
    include_inactive: Annotated[bool, Query(description="also list deactivated agents")] = False,
) -> list[AgentPublic]:
    """Every agent with rank, role, status, skills and capacities."""
    with db.transaction() as session:
        stmt = select(Agent).order_by(Agent.id)
        if not include_inactive:
            stmt = stmt.where(Agent.active.is_(True))
        return [_public(a) for a in session.execute(stmt).unique().scalars()]


@router.get("/agents/me", response_model=AgentPublic, summary="내 정보")
def me(ctx: CurrentAgent, db: DbDep) -> AgentPublic:
    with db.transaction() as session:
        return _public(_agent(session, ctx.agent_id))


@router.get("/agents/{agent_id}", response_model=AgentPublic, summary="상담원 조회")
def get_agent(agent_id: int, ctx: CurrentAgent, db: DbDep) -> AgentPublic:
    with db.transaction() as session:
        return _public(_agent(session, agent_id))


@router.post(
    "/agents",
    status_code=status.HTTP_201_CREATED,
    response_model=AgentPublic,
    summary="상담원 등록 (admin)",
)
def add_agent(data: AgentCreate, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> AgentPublic:
    """A new agent account. The password is stored hashed and never returned."""
    if not data.name.strip():
        raise InputError("name", "이름을 입력해 주세요.", "Please enter a name.")
    email = normalize_email(data.email)
    if data.capacity is not None:
        _check_capacity(data.capacity)
    with db.transaction() as session:
        agent = create_agent(
            session,
            login=data.login,
            name=data.name,
            password=data.password,
            role=data.role,
            rank=data.rank,
            team=data.team.strip() if data.team and data.team.strip() else None,
            email=email,
            skills=data.skills,
            capacity=data.capacity,
            actor=_actor(ctx, ip),
        )
        return _public(agent)


@router.patch("/agents/{agent_id}", response_model=AgentPublic, summary="상담원 정보·상태 변경")
def update_agent(agent_id: int, data: AgentUpdate, ctx: CurrentAgent, db: DbDep, ip: ClientDep) -> AgentPublic:
    """Admins change role, rank, activation, team, skills and capacity; anyone may set their own
    status (available, after_call, break, offline)."""
    changes = data.model_dump(exclude_unset=True)
    if ctx.role != Role.ADMIN:
        if agent_id != ctx.agent_id:
            raise Forbidden(
                "다른 상담원의 정보는 관리자만 바꿀 수 있습니다.", "Only an admin may change another agent."
            )
        if not changes.keys() <= SELF_SERVICE_FIELDS:
            raise Forbidden("상담원은 자신의 상태만 바꿀 수 있습니다.", "You may change only your own status.")
    for name in ("name", "role", "rank", "active", "status"):
        if name in changes and changes[name] is None:
            raise InputError(name, "값을 비워 둘 수 없습니다.", f"{name} may not be null.")
    if data.name is not None and not data.name.strip():
        raise InputError("name", "이름을 입력해 주세요.", "Please enter a name.")
    if data.role is not None and data.role not in {r.value for r in Role}:
        raise InputError("role", "알 수 없는 역할입니다.", f"Unknown role {data.role!r}.")
    if data.rank is not None and data.rank not in {r.value for r in Rank}:
        raise InputError("rank", "알 수 없는 직급입니다.", f"Unknown rank {data.rank!r}.")
    if data.status is not None and data.status not in {s.value for s in AgentStatus}:
        raise InputError(
            "status",
            "알 수 없는 상태입니다. available, after_call, break, offline 중 하나로 지정해 주세요.",
            f"Unknown status {data.status!r}.",
        )
    if data.capacity is not None:
        _check_capacity(data.capacity)
    email = normalize_email(data.email) if "email" in changes else None

    with db.transaction() as session:
        agent = _agent(session, agent_id)
        demoting_self = data.active is False or data.role not in (None, Role.ADMIN)
        if ctx.role == Role.ADMIN and agent.id == ctx.agent_id and demoting_self:
            raise Conflict(
                "자기 자신의 관리자 권한을 해제하거나 비활성화할 수 없습니다.",
                "You may not remove your own admin role or deactivate yourself.",
            )
        if data.name is not None:
            agent.name = data.name.strip()
        if "email" in changes:
            agent.email = email
        if data.role is not None:
            agent.role = data.role
        if data.rank is not None:
            agent.rank = data.rank
        if data.active is not None:
            agent.active = data.active
            if not data.active:  # a deactivated agent works no more: offers withdrawn, work requeued
                set_agent_status(session, agent.id, AgentStatus.OFFLINE, actor=_actor(ctx, ip))
        if "team" in changes:
            team_name = (data.team or "").strip()
            agent.team = (
                (
                    session.execute(select(Team).where(Team.name == team_name)).scalar_one_or_none()
                    or Team(name=team_name)
                )
                if team_name
                else None
            )
        if data.status is not None:  # through routing: offers withdrawn, work requeued when going offline
            set_agent_status(session, agent.id, data.status, actor=_actor(ctx, ip))
        if data.skills is not None:
            _set_skills(session, agent, data.skills)
        if data.capacity is not None:
            _set_capacity(agent, data.capacity)
        session.flush()
        record(session, _actor(ctx, ip), "agent.update", "agent", agent.id, fields=sorted(changes))
        queue_event(
            session,
            Event(
                "agent.updated",
                {
                    "agent_id": agent.id,
                    "status": agent.status,
                    "active": agent.active,
                    "fields": sorted(changes),
                },
            ),
        )
        session.refresh(agent)
        return _public(agent)


@router.post(
    "/agents/{agent_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiTokenPublic,
    summary="API 토큰 발급 (admin)",
)
def new_token(agent_id: int, data: ApiTokenCreate, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> ApiTokenPublic:
    """A token that acts as this agent, with the agent's role. Shown once; only its hash is kept."""
    name = data.name.strip()
    if not name:
        raise InputError("name", "토큰 이름을 입력해 주세요.", "Please name the token.")
    with db.transaction() as session:
        agent = _agent(session, agent_id)
        if not agent.active:
            raise Conflict(
                "비활성화된 상담원에게는 토큰을 발급할 수 없습니다.",
                "The agent is inactive.",
                field="agent_id",
            )
        token = issue_api_token(session, agent, name, actor=_actor(ctx, ip))
        return ApiTokenPublic(agent_id=agent.id, name=name, token=token)
