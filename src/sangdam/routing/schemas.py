"""Inputs and outputs of the routing feature's REST API: agents, their skills, capacities and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SkillLevelPublic(BaseModel):
    code: str
    name: str
    level: int = Field(description="1 (learning) … 5 (expert)")


class AgentPublic(BaseModel):
    """An agent as the API shows it; the password hash never leaves the server."""

    id: int
    login: str
    name: str
    email: str | None
    role: str = Field(description="agent, supervisor, admin")
    rank: str = Field(description="agent (상담원), senior (선임), lead (팀장)")
    status: str = Field(description="available, after_call, break, offline")
    status_changed_at: datetime
    active: bool
    team: str | None
    skills: list[SkillLevelPublic]
    capacities: dict[str, int] = Field(description="contacts handled at once, per channel")
    created_at: datetime
    last_login_at: datetime | None


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=64, description="letters, digits, . _ -")
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(max_length=200, description="10 characters or more; never returned")
    role: str = Field(default="agent", description="agent, supervisor, admin")
    rank: str = Field(default="agent", description="agent, senior, lead")
    team: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    skills: dict[str, int] = Field(default_factory=dict, description="skill code → level 1–5")
    capacity: dict[str, int] | None = Field(default=None, description="channel → capacity; default per channel")


class AgentUpdate(BaseModel):
    """Admins may change anything; an agent may change only their own ``status``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    role: str | None = None
    rank: str | None = None
    active: bool | None = None
    team: str | None = Field(default=None, max_length=100, description="team name; empty string for none")
    status: str | None = Field(default=None, description="available, after_call, break, offline")
    skills: dict[str, int] | None = Field(default=None, description="the full set: skill code → level 1–5")
    capacity: dict[str, int] | None = Field(default=None, description="channels to change: channel → capacity")


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="what the token is for, e.g. ARS 연동")


class ApiTokenPublic(BaseModel):
    """The new token, shown once: only its hash is kept."""

    agent_id: int
    name: str
    token: str = Field(description="send as `Authorization: Bearer <token>`")
