"""Agent accounts: creation, passwords (argon2), skills, per-channel capacity, API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.core.errors import Conflict, InputError
from sangdam.models import Agent, AgentChannelCapacity, AgentSkill, ApiToken, Skill, Team
from sangdam.models.base import Rank, Role
from sangdam.privacy.audit import Actor, record


def _make_hasher() -> PasswordHasher:
    """RFC 9106's low-memory profile (argon2id, 64 MiB, t=3) in service; a cheap one only for tests."""
    if os.environ.get("SANGDAM_ARGON2_PROFILE") == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


_hasher = _make_hasher()
# A hash to verify against when the login is unknown, so the time taken does not reveal it.
_DUMMY_HASH = _hasher.hash("sangdam-no-such-agent")

DEFAULT_CAPACITY = {"voice": 1, "webchat": 3, "kakao": 3, "email": 5, "form": 5}
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            "password",
            f"비밀번호는 {MIN_PASSWORD_LENGTH}자 이상이어야 합니다.",
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters.",
        )
    return _hasher.hash(password)


def create_agent(
    session: Session,
    *,
    login: str,
    name: str,
    password: str,
    role: str = Role.AGENT,
    rank: str = Rank.AGENT,
    team: str | None = None,
    email: str | None = None,
    skills: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    actor: Actor | None = None,
) -> Agent:
    """A new agent; ``skills`` maps skill codes to levels 1–5."""
    login = login.strip().lower()
    if not login or not login.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InputError("login", "아이디는 영문·숫자로 입력해 주세요.", "The login must be letters and digits.")
    if role not in {r.value for r in Role}:
        raise InputError("role", "알 수 없는 역할입니다.", f"Unknown role {role!r}.")
    if rank not in {r.value for r in Rank}:
        raise InputError("rank", "알 수 없는 직급입니다.", f"Unknown rank {rank!r}.")
    if session.execute(select(Agent.id).where(Agent.login == login)).first():
        raise Conflict("이미 있는 아이디입니다.", f"The login {login!r} is taken.", field="login")
    agent = Agent(
        login=login, name=name.strip(), email=email, password_hash=hash_password(password), role=role, rank=rank
    )
    if team:
        agent.team = session.execute(select(Team).where(Team.name == team)).scalar_one_or_none() or Team(name=team)
    session.add(agent)
    for code, level in (skills or {}).items():
        skill = session.execute(select(Skill).where(Skill.code == code)).scalar_one_or_none()
        if skill is None:
            raise InputError("skills", f"알 수 없는 스킬입니다: {code}", f"Unknown skill {code!r}.")
        if not 1 <= level <= 5:
            raise InputError("skills", "스킬 수준은 1~5입니다.", "Skill levels are 1 to 5.")
        agent.skills.append(AgentSkill(skill=skill, level=level))
    for channel, cap in (capacity or DEFAULT_CAPACITY).items():
        agent.capacities.append(AgentChannelCapacity(channel=channel, capacity=cap))
    session.flush()
    record(session, actor or Actor.system(), "agent.create", "agent", agent.id, login=login, role=role)
    return agent


def authenticate(session: Session, login: str, password: str) -> Agent | None:
    agent = session.execute(select(Agent).where(Agent.login == login.strip().lower())).scalar_one_or_none()
    if agent is None or not agent.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(agent.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(agent.password_hash):
        agent.password_hash = _hasher.hash(password)
    agent.last_login_at = now()
    return agent


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, agent: Agent, name: str, actor: Actor | None = None) -> str:
    """A new integration token acting as ``agent``; the clear token is returned once, only its hash kept."""
    token = "sgd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_digest(token), agent_id=agent.id))
    session.flush()
    record(session, actor or Actor.system(), "api_token.issue", "agent", agent.id, name=name)
    return token


def agent_for_token(session: Session, token: str) -> Agent | None:
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or not row.agent.active:
        return None
    row.last_used_at = now()
    return row.agent
