"""Routing's pages.

* ``portal_router``: the callback booking page (콜백 예약, ``/callback``) and, through the
  :func:`hours_notice` template global, the business-hours notice the portal shows while the center
  is closed (``templates/routing/_hours_notice.html``).
* ``console_router``: the supervisor page (``/console/supervisor``: queues, agents, today's service,
  the staffing outlook, the best time to contact) and the admin page for business hours and closures
  (``/console/admin/hours``).

Views parse, check access, call an action or a read, and render; the rules live in
``schedule_actions`` and ``dashboard``. "Now" is :func:`sangdam.core.clock.now`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core import clock, ratelimit, signing
from sangdam.core.clock import SEOUL, as_utc
from sangdam.core.errors import Forbidden, InputError, SangdamError, TooManyRequests
from sangdam.models import Topic
from sangdam.models.base import CHANNEL_LABELS_KO, Role
from sangdam.models.routing import RoutingQueue
from sangdam.models.schedule import BusinessHoursRule, CallbackRequest
from sangdam.privacy.audit import Actor
from sangdam.routing import dashboard
from sangdam.routing.callbacks import CALLBACK_CHANNEL
from sangdam.routing.estimates import wait_phrase
from sangdam.routing.hours import (
    LOST_CARD_QUEUE,
    WEEKDAYS_KO,
    HolidayCalendar,
    default_hours,
    format_opening_en,
    format_opening_ko,
    load_calendar,
)
from sangdam.routing.schedule_actions import (
    BusinessHoursSet,
    CallbackBooking,
    ClosureCreate,
    add_closure,
    book_callback,
    format_clock,
    parse_day,
    remove_closure,
    reset_business_hours,
    set_business_hours,
    upcoming_closures,
)
from sangdam.web.auth import AgentContext, check_csrf, csrf_for_page
from sangdam.web.deps import ClientDep, ConsoleAgent, DbDep, SettingsDep, TemplatesDep
from sangdam.web.i18n import translator
from sangdam.web.portal import language, render

portal_router = APIRouter(include_in_schema=False)
console_router = APIRouter(prefix="/console", include_in_schema=False)

CALLBACK_TTL = 30 * 60
CALLBACK_LIMIT = 5  # bookings per address per window (SANGDAM_LOOKUP_WINDOW_SECONDS)
HOLIDAY_LOOKAHEAD_DAYS = 120
CHECKED = ("on", "true", "1", "yes")

EN: dict[str, str] = {
    "콜백 예약": "Book a callback",
    "상담 시간이 아닐 때 남겨 주시면 다음 상담 시간에 상담원이 먼저 전화드립니다.": (
        "Leave your number and an agent will call you back when we next open."
    ),
    "전화 상담 시간": "Phone hours",
    "예약하기": "Book the call",
    "콜백 예약이 접수되었습니다": "Your callback is booked",
    "예약 시간": "Scheduled for",
    "연락받을 번호": "We will call",
    "처음으로": "Home",
    "지금은 상담 시간이 아닙니다": "We are closed now",
    "카드 분실·도난 신고는 24시간 접수합니다.": "Lost or stolen cards can be reported 24 hours a day.",
    "문의를 남기시면 상담 시간에 순서대로 답변드립니다.": "Leave an inquiry and we will answer in turn when we open.",
    "전화 상담을 원하시면 콜백을 예약해 주세요.": "Prefer a phone call? Book a callback.",
    "상담 시간": "Opening hours",
    "카드 분실·도난 신고는 기다리지 마시고 지금 바로 전화해 주세요.": (
        "For a lost or stolen card, do not wait: call us now."
    ),
}

CALLBACK_CONSENT_KO = (
    "수집 항목: 이름, 휴대폰 번호, 문의 유형 · 이용 목적: 콜백(전화 상담) 예약과 연락 · "
    "보유 기간: 상담 종료 후 3년(전자상거래 등에서의 소비자보호에 관한 법률) · "
    "동의를 거부할 수 있으나, 거부 시 콜백 예약이 제한됩니다."
)
CALLBACK_CONSENT_EN = (
    "Collected: name, mobile number, topic · Purpose: booking and making the callback · "
    "Kept: 3 years after the conversation closes · You may refuse, but then we cannot book the call."
)


def _translator(lang: str) -> Callable[[str], str]:
    fallback = translator(lang)
    if lang != "en":
        return fallback
    return lambda text: EN.get(text) or fallback(text)


def _portal(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return render(templates, request, name, {"_": _translator(language(request)), **context}, status_code)


def _console(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"lang": "ko", "csrf_token": csrf_for_page(request)}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _actor(ctx: AgentContext, client: str) -> Actor:
    return Actor("agent", ctx.agent_id, client, ctx.role)


M = TypeVar("M", bound=BaseModel)


def _model(cls: type[M], **values: Any) -> M:
    """A form's values as an action's input; a value the model refuses becomes a Korean message."""
    try:
        return cls(**values)
    except ValidationError as exc:
        errors = exc.errors()
        field = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else None
        raise InputError(
            field, "입력 내용을 확인해 주세요. 너무 길거나 올바르지 않은 항목이 있습니다.", str(exc)
        ) from exc


# ---------------------------------------------------------------------------- portal: the hours notice


@dataclass(frozen=True, slots=True)
class HoursNotice:
    """What the portal says while the center is closed."""

    message: str
    hours: str
    lost_card_phone: str


def hours_notice(request: Request, lang: str = "ko", channel: str | None = None) -> HoursNotice | None:
    """Template global: the closed-center notice for the portal (None while open)."""
    at = clock.now()
    with request.app.state.db.transaction() as session:
        calendar = load_calendar(session, at.astimezone(SEOUL).date())
    status = calendar.status(at, None, channel)
    message = status.message(lang)
    if message is None:
        return None
    return HoursNotice(
        message=message,
        hours=calendar.hours_for(None, channel).summary(lang),
        lost_card_phone=request.app.state.settings.lost_card_phone,
    )


# ---------------------------------------------------------------------------- portal: 콜백 예약


def _active_topics(session: Session) -> list[Topic]:
    return list(session.execute(select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order)).scalars())


def _callback_form(
    request: Request,
    templates: Any,
    db: DbDep,
    settings: SettingsDep,
    form: dict[str, Any],
    error: SangdamError | None = None,
    status_code: int = 200,
) -> Response:
    lang = language(request)
    at = clock.now()
    with db.transaction() as session:
        topics = _active_topics(session)
        calendar = load_calendar(session, at.astimezone(SEOUL).date())
    line = calendar.status(at, None, CALLBACK_CHANNEL)
    context = {
        "topics": topics,
        "form": form,
        "error": error,
        "settings": settings,
        "line_open": line.is_open,
        "line_message": line.message(lang),
        "phone_hours": calendar.hours_for(None, CALLBACK_CHANNEL).summary(lang),
        "lost_card_hours": calendar.hours_for(LOST_CARD_QUEUE, CALLBACK_CHANNEL).summary(lang),
        "consent_text": CALLBACK_CONSENT_EN if lang == "en" else CALLBACK_CONSENT_KO,
    }
    return _portal(templates, request, "routing/callback.html", context, status_code)


@portal_router.get("/callback")
def callback_form(request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    return _callback_form(request, templates, db, settings, {"topic": request.query_params.get("topic", "")})


@portal_router.post("/callback")
async def callback_submit(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    bucket = f"callback:ip:{client}"
    try:
        check_csrf(request, values.get("csrf_token"))
        data = _model(
            CallbackBooking,
            name=values.get("name", ""),
            phone=values.get("phone", ""),
            topic=values.get("topic", ""),
            consent=values.get("consent") in CHECKED,
            language=language(request),
        )
        with db.transaction() as session:
            if ratelimit.exceeded(session, [bucket], CALLBACK_LIMIT, settings.lookup_window_seconds):
                raise TooManyRequests(
                    "콜백 예약 요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
                    "Too many callback requests. Please try again later.",
                    retry_after=settings.lookup_window_seconds,
                )
            callback = book_callback(session, data, Actor.customer(None, client), at=clock.now())
            ratelimit.hit(session, bucket)
            callback_id = callback.id
    except SangdamError as error:
        status = 400 if error.status_code == 422 else error.status_code
        return _callback_form(request, templates, db, settings, values, error, status)
    token = signing.sign(settings.resolved_secret_key(), "callback", str(callback_id), CALLBACK_TTL)
    return RedirectResponse(f"/callback/done?{urlencode({'t': token})}", status_code=303)


@portal_router.get("/callback/done")
def callback_done(request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    value = signing.unsign(settings.resolved_secret_key(), "callback", request.query_params.get("t"))
    if value is None or not value.isdigit():
        return RedirectResponse("/callback", status_code=303)
    with db.transaction() as session:
        callback = session.get(CallbackRequest, int(value))
        if callback is None:
            return RedirectResponse("/callback", status_code=303)
        topic = session.get(Topic, callback.topic_id) if callback.topic_id is not None else None
        scheduled = as_utc(callback.scheduled_for)
        context = {
            "settings": settings,
            "scheduled_ko": format_opening_ko(scheduled),
            "scheduled_en": format_opening_en(scheduled),
            "scheduled_iso": scheduled.astimezone(SEOUL).isoformat(),
            "soon": scheduled <= clock.now() + timedelta(minutes=1),
            "phone": callback.phone,
            "topic": topic,
            "lost_card": callback.queue == LOST_CARD_QUEUE,
        }
    return _portal(templates, request, "routing/callback_done.html", context)


# ---------------------------------------------------------------------------- console: supervisor


def duration(seconds: float | None, short: bool = False) -> str:
    """``45초``, ``3분 5초``, ``1시간 10분`` (``short``: ``3분``); ``–`` when unknown."""
    if seconds is None:
        return "–"
    if not math.isfinite(seconds):
        return "예측 불가"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}시간" + (f" {minutes}분" if minutes and not short else "")
    if minutes:
        return f"{minutes}분" + (f" {secs}초" if secs and not short else "")
    return f"{secs}초"


SUPERVISORS_ONLY = (
    "상담 현황은 관리자(슈퍼바이저)만 볼 수 있습니다.",
    "Only supervisors and admins may open this page.",
)
ADMINS_ONLY = ("상담 시간 관리는 시스템 관리자만 할 수 있습니다.", "Only admins may manage business hours.")


def _require(ctx: AgentContext, roles: tuple[str, ...], refusal: tuple[str, str]) -> None:
    if ctx.role not in roles:
        raise Forbidden(*refusal)


@console_router.get("/supervisor")
def supervisor_page(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    _require(ctx, (Role.SUPERVISOR, Role.ADMIN), SUPERVISORS_ONLY)
    queue = request.query_params.get("queue") or None
    with db.transaction() as session:
        overview = dashboard.supervisor_overview(session, clock.now(), queue)
    at = overview.at
    context = {
        "me": ctx,
        "o": overview,
        "wait_phrase": wait_phrase,
        "duration": duration,
        "since": lambda then: (at - as_utc(then)).total_seconds(),
        "timedelta": timedelta,
    }
    return _console(templates, request, "routing/supervisor.html", context)


# ---------------------------------------------------------------------------- console: business hours, closures


def _scope_label(queue: str | None, channel: str | None, names: dict[str, str]) -> str:
    queue_label = names.get(queue, queue) if queue else "모든 대기열"
    channel_label = CHANNEL_LABELS_KO.get(channel, channel) if channel else "모든 채널"
    return f"{queue_label} · {channel_label}"


def _hours_context(
    session: Session,
    ctx: AgentContext,
    queue: str | None,
    channel: str | None,
    form: dict[str, Any] | None = None,
) -> dict[str, Any]:
    at = clock.now()
    today = at.astimezone(SEOUL).date()
    queues = list(session.execute(select(RoutingQueue).order_by(RoutingQueue.id)).scalars())
    names = {q.code: q.name for q in queues}
    queue = queue if queue in names else None
    channel = channel if channel in CHANNEL_LABELS_KO else None
    calendar = load_calendar(session, today)
    custom = {(r.queue, r.channel) for r in session.scalars(select(BusinessHoursRule))}
    scopes = []
    for scope in sorted(set(default_hours()) | custom, key=lambda s: (s[0] or "", s[1] or "")):
        hours = calendar.hours[scope]
        scopes.append(
            {
                "queue": scope[0] or "",
                "channel": scope[1] or "",
                "label": _scope_label(scope[0], scope[1], names),
                "summary": hours.summary("ko"),
                "custom": scope in custom,
                "open_now": calendar.is_open(at, scope[0], scope[1]),
            }
        )
    effective = calendar.hours_for(queue, channel)
    if form is None:
        days = {
            d: ", ".join(
                f"{format_clock(p.opens)}-{format_clock(p.closes, closing=True)}"
                for p in sorted(effective.periods, key=lambda p: p.opens)
                if p.weekday == d
            )
            for d in range(7)
        }
        form = {
            "days": days,
            "observe_holidays": effective.observe_holidays,
            "always_open": effective.always_open,
        }
    status = calendar.status(at, queue, channel)
    return {
        "me": ctx,
        "queues": queues,
        "queue_names": names,
        "channels": CHANNEL_LABELS_KO,
        "weekdays": WEEKDAYS_KO,
        "scopes": scopes,
        "scope": {"queue": queue or "", "channel": channel or "", "label": _scope_label(queue, channel, names)},
        "scope_custom": (queue, channel) in custom,
        "scope_summary": effective.summary("ko"),
        "scope_status": status.message("ko") or "지금 상담 중입니다.",
        "scope_open": status.is_open,
        "form": form,
        "closures": upcoming_closures(session, today),
        "holidays": HolidayCalendar().between(today, today + timedelta(days=HOLIDAY_LOOKAHEAD_DAYS)),
        "holiday_days": HOLIDAY_LOOKAHEAD_DAYS,
        "today": today,
        "error": None,
        "closure_form": {},
        "flash": None,
    }


def _hours_page(
    request: Request,
    templates: Any,
    db: DbDep,
    ctx: AgentContext,
    queue: str | None,
    channel: str | None,
    *,
    form: dict[str, Any] | None = None,
    closure_form: dict[str, Any] | None = None,
    error: SangdamError | None = None,
) -> Response:
    with db.transaction() as session:
        context = _hours_context(session, ctx, queue, channel, form)
    context["flash"] = request.query_params.get("done")
    context["error"] = error
    context["closure_form"] = closure_form or {}
    status = 200 if error is None else (400 if error.status_code == 422 else error.status_code)
    return _console(templates, request, "routing/admin_hours.html", context, status)


def _back_to_hours(done: str, queue: str | None = None, channel: str | None = None) -> Response:
    query = {"done": done, **({"queue": queue} if queue else {}), **({"channel": channel} if channel else {})}
    return RedirectResponse(f"/console/admin/hours?{urlencode(query)}", status_code=303)


async def _admin_form(request: Request, ctx: AgentContext) -> dict[str, str]:
    _require(ctx, (Role.ADMIN,), ADMINS_ONLY)
    form = await request.form(max_files=0, max_fields=40)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get("csrf_token"), ctx.csrf_token)
    return values


@console_router.get("/admin/hours")
def hours_page(request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep) -> Response:
    _require(ctx, (Role.ADMIN,), ADMINS_ONLY)
    q = request.query_params
    return _hours_page(request, templates, db, ctx, q.get("queue") or None, q.get("channel") or None)


@console_router.post("/admin/hours")
async def hours_save(
    request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    values = await _admin_form(request, ctx)
    queue, channel = values.get("queue") or None, values.get("channel") or None
    days = {d: values.get(f"day_{d}", "") for d in range(7)}
    observe_holidays = values.get("observe_holidays") in CHECKED
    always_open = values.get("always_open") in CHECKED
    form = {"days": days, "observe_holidays": observe_holidays, "always_open": always_open}
    try:
        periods = [] if always_open else [p for d in range(7) for p in parse_day(d, days[d])]
        data = _model(
            BusinessHoursSet,
            queue=queue,
            channel=channel,
            periods=periods,
            observe_holidays=observe_holidays,
            always_open=always_open,
        )
        with db.transaction() as session:
            set_business_hours(session, data, _actor(ctx, client))
    except SangdamError as error:
        return _hours_page(request, templates, db, ctx, queue, channel, form=form, error=error)
    return _back_to_hours("상담 시간을 저장했습니다.", queue, channel)


@console_router.post("/admin/hours/reset")
async def hours_reset(
    request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    values = await _admin_form(request, ctx)
    queue, channel = values.get("queue") or None, values.get("channel") or None
    with db.transaction() as session:
        removed = reset_business_hours(session, queue, channel, _actor(ctx, client))
    done = "기본 상담 시간으로 되돌렸습니다." if removed else "이미 기본 상담 시간입니다."
    return _back_to_hours(done, queue, channel)


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InputError(field, "날짜를 2026-01-31처럼 입력해 주세요.", "Dates look like 2026-01-31.") from exc


@console_router.post("/admin/closures")
async def closure_add(
    request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    values = await _admin_form(request, ctx)
    try:
        first = _day(values.get("first_day", ""), "first_day")
        last = _day(values.get("last_day", "") or values.get("first_day", ""), "last_day")
        data = _model(
            ClosureCreate,
            first_day=first,
            last_day=last,
            reason=values.get("reason", ""),
            queue=values.get("queue") or None,
            channel=values.get("channel") or None,
        )
        with db.transaction() as session:
            add_closure(session, data, _actor(ctx, client))
    except SangdamError as error:
        return _hours_page(request, templates, db, ctx, None, None, closure_form=values, error=error)
    return _back_to_hours("휴무 일정을 등록했습니다.")


@console_router.post("/admin/closures/{closure_id}/delete")
async def closure_delete(
    closure_id: int, request: Request, ctx: ConsoleAgent, db: DbDep, templates: TemplatesDep, client: ClientDep
) -> Response:
    await _admin_form(request, ctx)
    try:
        with db.transaction() as session:
            remove_closure(session, closure_id, _actor(ctx, client))
    except SangdamError as error:
        return _hours_page(request, templates, db, ctx, None, None, error=error)
    return _back_to_hours("휴무 일정을 삭제했습니다.")
