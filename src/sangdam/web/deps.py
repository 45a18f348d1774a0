"""Dependencies shared by every route, as ``Annotated`` aliases (one place, one meaning)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates

from sangdam.core.db import Database
from sangdam.core.errors import Forbidden, Unauthorized
from sangdam.core.settings import Settings
from sangdam.models.base import Role
from sangdam.routing.agents import agent_for_token
from sangdam.web.auth import SESSION_COOKIE, AgentContext, check_csrf, load_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
ClientDep = Annotated[str, Depends(client_address)]


def console_agent(request: Request, db: DbDep, settings: SettingsDep) -> AgentContext:
    """The agent signed in to the console by cookie (pages turn a refusal into the login page)."""
    with db.transaction() as session:
        return load_session(session, settings, request.cookies.get(SESSION_COOKIE))


bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="`sangdam agent token LOGIN`이 발급한 토큰 (an API token issued by `sangdam agent token LOGIN`)",
)


def api_agent(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> AgentContext:
    """An integration's bearer token, or the console's own cookie session (then writes need CSRF)."""
    if credentials is not None:
        token = credentials.credentials.strip()
        with db.transaction() as session:
            agent = agent_for_token(session, token)
            if agent is None:
                raise Unauthorized("인증 토큰이 올바르지 않습니다.", "The API token is invalid or revoked.")
            return AgentContext(agent.id, agent.login, agent.name, agent.role, agent.rank, None, "token")
    with db.transaction() as session:
        ctx = load_session(session, settings, request.cookies.get(SESSION_COOKIE))
    if request.method not in SAFE_METHODS:
        check_csrf(request, None, ctx.csrf_token)
    return ctx


ConsoleAgent = Annotated[AgentContext, Depends(console_agent)]
CurrentAgent = Annotated[AgentContext, Depends(api_agent)]


def require_role(ctx: AgentContext, *roles: str) -> None:
    if ctx.role not in roles:
        raise Forbidden("이 기능을 사용할 권한이 없습니다.", "Your role may not use this.")


def admin_agent(ctx: CurrentAgent) -> AgentContext:
    require_role(ctx, Role.ADMIN)
    return ctx


def supervisor_agent(ctx: CurrentAgent) -> AgentContext:
    require_role(ctx, Role.SUPERVISOR, Role.ADMIN)
    return ctx


AdminAgent = Annotated[AgentContext, Depends(admin_agent)]
SupervisorAgent = Annotated[AgentContext, Depends(supervisor_agent)]
