"""Console sessions (secure cookies, server-side rows) and CSRF protection.

- The session cookie holds a random token; the database keeps only its SHA-256, the agent, the
  CSRF token bound to it, and an expiry that slides with activity (``SANGDAM_SESSION_HOURS``).
- CSRF: a double-submit token. Every page gets an HttpOnly ``sangdam_csrf`` cookie; forms carry the
  same value in ``csrf_token`` (or the ``X-CSRF-Token`` header for fetch calls). After login the
  token is rotated and bound to the session, so a form must match both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from sangdam.core.clock import now
from sangdam.core.errors import Forbidden, Unauthorized
from sangdam.core.settings import Settings
from sangdam.models import Agent, AgentSession

SESSION_COOKIE = "sangdam_session"
CSRF_COOKIE = "sangdam_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class AgentContext:
    """Who is signed in for this request (plain values, usable outside the session that loaded them)."""

    agent_id: int
    login: str
    name: str
    role: str
    rank: str
    csrf_token: str | None
    via: str  # "session" or "token"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def start_session(session: Session, settings: Settings, agent: Agent, request: Request) -> tuple[str, str]:
    """A new session row; returns (cookie token, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = new_csrf_token()
    at = now()
    session.add(
        AgentSession(
            token_hash=_digest(token),
            agent_id=agent.id,
            csrf_token=csrf,
            created_at=at,
            last_seen_at=at,
            expires_at=at + timedelta(hours=settings.session_hours),
            ip=request.client.host if request.client else None,
            user_agent=(request.headers.get("user-agent") or "")[:300],
        )
    )
    return token, csrf


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(AgentSession).where(AgentSession.token_hash == _digest(token)))


class SessionExpired(Unauthorized):
    code = "session_expired"


def load_session(session: Session, settings: Settings, token: str | None) -> AgentContext:
    """The signed-in agent for a cookie token; refuses a missing, unknown or expired session."""
    if not token:
        raise Unauthorized("로그인이 필요합니다.", "Please sign in.")
    row = session.get(AgentSession, _digest(token))
    at = now()
    if row is None:
        raise SessionExpired(
            "세션이 만료되었습니다. 다시 로그인해 주세요.", "Your session has expired. Please sign in."
        )
    if row.expires_at <= at or not row.agent.active:
        session.delete(row)
        raise SessionExpired(
            "세션이 만료되었습니다. 다시 로그인해 주세요.", "Your session has expired. Please sign in."
        )
    # Slide the expiry, but write at most once a minute.
    if (at - row.last_seen_at).total_seconds() > 60:
        row.last_seen_at = at
        row.expires_at = at + timedelta(hours=settings.session_hours)
    agent = row.agent
    return AgentContext(agent.id, agent.login, agent.name, agent.role, agent.rank, row.csrf_token, "session")


def set_session_cookies(response: Response, settings: Settings, token: str, csrf: str) -> None:
    max_age = int(settings.session_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=settings.cookie_secure, samesite="lax", path="/"
    )
    set_csrf_cookie(response, settings, csrf)


def set_csrf_cookie(response: Response, settings: Settings, csrf: str) -> None:
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, secure=settings.cookie_secure, samesite="lax", path="/")


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def csrf_for_page(request: Request) -> str:
    """The token to put in this page's forms (set as a cookie by the middleware if new)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = new_csrf_token()
        request.state.new_csrf = token
    return token


def check_csrf(request: Request, submitted: str | None, bound: str | None = None) -> None:
    """Refuse a form whose token does not match the cookie (and the session's, when signed in)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    value = submitted or request.headers.get(CSRF_HEADER)
    ok = bool(cookie and value and hmac.compare_digest(cookie, value))
    if ok and bound is not None:
        ok = hmac.compare_digest(bound, value or "")
    if not ok:
        raise Forbidden(
            "보안 토큰이 올바르지 않습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.",
            "The security token is invalid. Reload the page and try again.",
            code="csrf_failed",
        )
