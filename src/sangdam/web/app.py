"""The app factory: all wiring in one place."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sangdam import __version__
from sangdam.core.clock import format_seoul
from sangdam.core.db import Database
from sangdam.core.errors import SangdamError, TooManyRequests, Unauthorized
from sangdam.core.events import EventBus, make_bus
from sangdam.core.settings import Settings, get_settings
from sangdam.customers.contact import display_phone, mask_phone
from sangdam.models.base import (
    ACTIVITY_LABELS_KO,
    AGENT_STATUS_LABELS_KO,
    CHANNEL_LABELS_KO,
    RANK_LABELS_KO,
    ROLE_LABELS_KO,
    STATUS_LABELS_KO,
    TIER_LABELS_KO,
)
from sangdam.web.auth import CSRF_COOKIE, set_csrf_cookie

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

FIELD_LABELS_KO = {
    "name": "이름",
    "phone": "휴대폰 번호",
    "email": "이메일",
    "topic": "문의 유형",
    "subject": "제목",
    "body": "내용",
    "consent": "개인정보 수집·이용 동의",
    "receipt_number": "접수번호",
    "status": "상태",
    "assignee_id": "담당자",
    "login": "아이디",
    "password": "비밀번호",
}


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["seoul"] = format_seoul
    env.filters["phone"] = display_phone
    env.filters["masked_phone"] = mask_phone
    env.globals.update(
        STATUS_LABELS=STATUS_LABELS_KO,
        CHANNEL_LABELS=CHANNEL_LABELS_KO,
        RANK_LABELS=RANK_LABELS_KO,
        ROLE_LABELS=ROLE_LABELS_KO,
        AGENT_STATUS_LABELS=AGENT_STATUS_LABELS_KO,
        TIER_LABELS=TIER_LABELS_KO,
        ACTIVITY_LABELS=ACTIVITY_LABELS_KO,
        version=__version__,
    )
    return templates


class SecurityHeaders:
    """Pure ASGI middleware: security headers on every response, and the CSRF cookie a page asked for.

    (``@app.middleware("http")`` wraps each request in extra tasks and streams; this costs nothing.)
    """

    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
                state = scope.get("state") or {}
                new_csrf = state.get("new_csrf")
                cookies = Request(scope).cookies
                already_set = any(CSRF_COOKIE in value for value in headers.getlist("set-cookie"))
                if new_csrf and CSRF_COOKIE not in cookies and not already_set:
                    holder = Response()
                    set_csrf_cookie(holder, self.settings, new_csrf)
                    headers.append("set-cookie", holder.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    bus: EventBus | None = None,
    run_migrations: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    bus = bus or (database.bus if database else make_bus(settings.redis_url))
    db = database or Database(settings.resolved_database_url, bus)
    if run_migrations:
        from sangdam.cli import prepare_database

        prepare_database(db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        for hook in app.state.startup_hooks:
            await hook(app)
        if getattr(app.state, "freeze_gc", False):
            # The server's long-lived objects (modules, the knowledge index, mappers) leave the
            # collector's view: full collections then scan only what requests allocate, which
            # shortened the longest pauses of the chat benchmark.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            await bus.stop()

    app = FastAPI(
        title="Sangdam 상담 API",
        version=__version__,
        description=(
            "한빛카드 고객센터 API. 인증: `Authorization: Bearer <token>` (`sangdam agent token`으로 발급). "
            '오류 본문은 항상 `{"error": {"code", "message" (한국어), "message_en", "field"}}`.'
        ),
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.bus = bus
    app.state.templates = make_templates()
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    from sangdam.routing import worker as routing_worker

    routing_worker.register(app)  # the background dispatcher: offers, expiries, callbacks

    async def warm_up_knowledge(app: FastAPI) -> None:
        """Load the Korean analyzer and build the FAQ index before serving, in a thread (the loop stays free)."""
        import asyncio

        from sangdam.knowledge.sync import warm_up

        def build() -> None:
            with app.state.db.session() as session:
                warm_up(session)

        try:
            await asyncio.to_thread(build)
        except Exception:  # the index then builds on the first search instead
            log.exception("could not warm up the knowledge index")

    app.state.startup_hooks.append(warm_up_knowledge)

    async def start_pruning(app: FastAPI) -> None:
        """Old rate-limit hits go away hourly (each inquiry counts two)."""
        import asyncio

        from sangdam.core.ratelimit import prune_every

        app.state.prune_task = asyncio.create_task(prune_every(app.state.db), name="sangdam-prune-rate-limits")

    async def stop_pruning(app: FastAPI) -> None:
        import asyncio

        task = getattr(app.state, "prune_task", None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    app.state.startup_hooks.append(start_pruning)
    app.state.shutdown_hooks.append(stop_pruning)
    settings.attachments_dir.mkdir(parents=True, exist_ok=True)

    app.add_middleware(SecurityHeaders, settings=settings)

    @app.exception_handler(SangdamError)
    async def sangdam_error(request: Request, exc: SangdamError) -> Response:
        if isinstance(exc, Unauthorized) and not _wants_json(request) and request.url.path.startswith("/console"):
            target = f"/console/login?next={request.url.path}"
            if exc.code == "session_expired":
                target += "&expired=1"
            return RedirectResponse(target, status_code=303)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        if _wants_json(request):
            return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"error": exc}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", [])]
        if loc and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
            loc = loc[1:]
        field = loc[0] if loc else None
        label = FIELD_LABELS_KO.get(field or "", field or "입력값")
        body = {
            "error": {
                "code": "invalid_input",
                "message": f"{label}: 입력값이 올바르지 않습니다.",
                "message_en": f"{field or 'input'}: {first.get('msg', 'invalid')}",
                "field": field,
                "details": [
                    {"loc": [str(p) for p in e.get("loc", [])], "msg": e.get("msg"), "type": e.get("type")}
                    for e in exc.errors()
                ],
            }
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: ("페이지를 찾을 수 없습니다.", "Not found."),
            405: ("허용되지 않는 요청입니다.", "Method not allowed."),
        }
        ko, en = messages.get(exc.status_code, ("요청을 처리할 수 없습니다.", str(exc.detail)))
        error = SangdamError(ko, en, code="not_found" if exc.status_code == 404 else "http_error")
        error.status_code = exc.status_code
        return await sangdam_error(request, error)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from sangdam.routing import views as routing_views
    from sangdam.web import console, portal
    from sangdam.web.api import api_router

    # The JSON API first: routes are matched in order, and integrations post there most often.
    app.include_router(api_router)
    app.include_router(portal.router)
    app.include_router(console.router)
    app.include_router(routing_views.portal_router)
    app.include_router(routing_views.console_router)
    app.state.templates.env.globals["hours_notice"] = routing_views.hours_notice

    from sangdam.knowledge import api as knowledge_api
    from sangdam.knowledge import views as knowledge_views

    app.include_router(knowledge_views.portal_router)  # /faq, /faq/search, /faq/{slug}
    app.include_router(knowledge_views.console_router)  # /console/kb: FAQ editor, synonym dictionary
    app.include_router(knowledge_api.router)  # /api/v1/kb (the router carries its full prefix)

    from sangdam.channels.webchat import presence
    from sangdam.channels.webchat import views as chat_views
    from sangdam.channels.webchat import ws as chat_ws
    from sangdam.channels.webchat.agent import agent_router

    app.include_router(agent_router)  # the agent's chat workspace: /console/chats, /console/chat-ws
    app.include_router(chat_ws.router)  # the customer's chat socket /chat/ws
    app.include_router(chat_views.router)  # the portal's chat page /chat
    presence.register(app)  # agents' sockets; after the grace period their chats go back to the queue front

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "database": db.engine.dialect.name, "events": bus.kind}

    return app
