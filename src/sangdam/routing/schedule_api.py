"""JSON routes for business hours, closures (임시 휴무) and a queue's status now.

Any signed-in agent (or API token) may read; changing hours and closures is for admins.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from sangdam.conversations.schemas import ErrorBody
from sangdam.core import clock
from sangdam.core.clock import SEOUL
from sangdam.models.schedule import BusinessHoursRule
from sangdam.models.schedule import Closure as ClosureRow
from sangdam.privacy.audit import Actor
from sangdam.routing import dashboard
from sangdam.routing.estimates import wait_phrase
from sangdam.routing.hours import BusinessHours, default_hours, load_calendar
from sangdam.routing.schedule_actions import (
    BusinessHoursSet,
    ClosureCreate,
    add_closure,
    format_clock,
    remove_closure,
    reset_business_hours,
    set_business_hours,
    upcoming_closures,
)
from sangdam.web.auth import AgentContext
from sangdam.web.deps import AdminAgent, ClientDep, CurrentAgent, DbDep

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "인증 필요 / not signed in or bad token"},
    403: {"model": ErrorBody, "description": "권한 없음 / forbidden"},
    404: {"model": ErrorBody, "description": "없음 / not found"},
    422: {"model": ErrorBody, "description": "입력 오류 / invalid input"},
}

router = APIRouter(tags=["business hours"], responses=ERRORS)


class PeriodPublic(BaseModel):
    weekday: int = Field(description="0 = Monday … 6 = Sunday")
    opens: str = Field(examples=["09:00"])
    closes: str = Field(examples=["18:00"], description='"24:00" closes at midnight')


class BusinessHoursPublic(BaseModel):
    """The weekly hours of one scope (Seoul time)."""

    queue: str | None
    channel: str | None
    source: str = Field(description="default (built in) or custom (set by an admin)")
    always_open: bool
    observe_holidays: bool
    periods: list[PeriodPublic]
    summary: str = Field(examples=["월–금 09:00–18:00, 공휴일 휴무"])
    summary_en: str


class ClosurePublic(BaseModel):
    id: int
    first_day: date
    last_day: date
    reason: str
    queue: str | None
    channel: str | None
    created_by_id: int | None
    created_at: datetime


class QueueStatusPublic(BaseModel):
    """A queue now: open or not, waiting, the wait a newcomer can expect."""

    queue: str
    name: str
    channel: str | None
    open: bool
    next_opening: datetime | None = Field(description="now when open; None if it does not reopen within a year")
    closes_at: datetime | None
    message: str | None = Field(description="what to tell a customer while closed (Korean)")
    message_en: str | None
    waiting: int
    offered: int
    assigned: int
    oldest_wait_s: float | None
    staffed_slots: int
    estimated_wait_s: float | None = Field(description="for someone joining now; None while closed or unknown")
    estimated_wait: str | None = Field(examples=["약 3분"])
    estimated_wait_en: str | None


def _actor(ctx: AgentContext, ip: str) -> Actor:
    return Actor("api" if ctx.via == "token" else "agent", ctx.agent_id, ip, ctx.role)


def _hours_public(queue: str | None, channel: str | None, hours: BusinessHours, custom: bool) -> BusinessHoursPublic:
    periods = [] if hours.always_open else sorted(hours.periods, key=lambda p: (p.weekday, p.opens))
    return BusinessHoursPublic(
        queue=queue,
        channel=channel,
        source="custom" if custom else "default",
        always_open=hours.always_open,
        observe_holidays=hours.observe_holidays,
        periods=[
            PeriodPublic(weekday=p.weekday, opens=format_clock(p.opens), closes=format_clock(p.closes, closing=True))
            for p in periods
        ],
        summary=hours.summary("ko"),
        summary_en=hours.summary("en"),
    )


def _closure_public(row: ClosureRow) -> ClosurePublic:
    return ClosurePublic(
        id=row.id,
        first_day=row.first_day,
        last_day=row.last_day,
        reason=row.reason,
        queue=row.queue,
        channel=row.channel,
        created_by_id=row.created_by_id,
        created_at=row.created_at,
    )


@router.get("/business-hours", response_model=list[BusinessHoursPublic], summary="상담 시간 목록")
def list_business_hours(ctx: CurrentAgent, db: DbDep) -> list[BusinessHoursPublic]:
    """Every scope's weekly hours: the built-in ones and those set by admins."""
    with db.transaction() as session:
        calendar = load_calendar(session)
        custom = {(r.queue, r.channel) for r in session.scalars(select(BusinessHoursRule))}
    scopes = sorted(set(default_hours()) | custom, key=lambda s: (s[0] or "", s[1] or ""))
    return [_hours_public(q, c, calendar.hours[(q, c)], (q, c) in custom) for q, c in scopes]


@router.put("/business-hours", response_model=BusinessHoursPublic, summary="상담 시간 설정 (admin)")
def put_business_hours(data: BusinessHoursSet, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> BusinessHoursPublic:
    """Replace a scope's weekly hours as a whole (queue and/or channel; neither: the whole center)."""
    with db.transaction() as session:
        rows = set_business_hours(session, data, _actor(ctx, ip))
        scope = (rows[0].queue, rows[0].channel)  # never empty: set_business_hours refuses no periods
        calendar = load_calendar(session)
    return _hours_public(scope[0], scope[1], calendar.hours[scope], True)


@router.delete("/business-hours", status_code=status.HTTP_204_NO_CONTENT, summary="상담 시간 기본값으로 (admin)")
def delete_business_hours(
    ctx: AdminAgent,
    db: DbDep,
    ip: ClientDep,
    queue: Annotated[str | None, Query(max_length=64, description="queue code; omit for every queue")] = None,
    channel: Annotated[str | None, Query(max_length=16, description="channel; omit for every channel")] = None,
) -> Response:
    """Drop a scope's hours: the built-in (or a wider scope's) hours apply again."""
    with db.transaction() as session:
        reset_business_hours(session, queue, channel, _actor(ctx, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/closures", response_model=list[ClosurePublic], summary="임시 휴무 목록")
def list_closures(
    ctx: CurrentAgent,
    db: DbDep,
    include_past: Annotated[bool, Query(description="also list closures that have ended")] = False,
) -> list[ClosurePublic]:
    today = clock.now().astimezone(SEOUL).date()
    with db.transaction() as session:
        return [_closure_public(c) for c in upcoming_closures(session, today, include_past)]


@router.post(
    "/closures", status_code=status.HTTP_201_CREATED, response_model=ClosurePublic, summary="임시 휴무 등록 (admin)"
)
def post_closure(data: ClosureCreate, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> ClosurePublic:
    """Close a queue and/or channel (neither: every line that observes holidays) for whole days."""
    with db.transaction() as session:
        return _closure_public(add_closure(session, data, _actor(ctx, ip)))


@router.delete("/closures/{closure_id}", status_code=status.HTTP_204_NO_CONTENT, summary="임시 휴무 삭제 (admin)")
def delete_closure(closure_id: int, ctx: AdminAgent, db: DbDep, ip: ClientDep) -> Response:
    with db.transaction() as session:
        remove_closure(session, closure_id, _actor(ctx, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/queues/{code}/status", response_model=QueueStatusPublic, summary="대기열 현황")
def get_queue_status(
    code: str,
    ctx: CurrentAgent,
    db: DbDep,
    channel: Annotated[
        str | None, Query(max_length=16, description="count this channel's capacity and its hours (e.g. voice)")
    ] = None,
) -> QueueStatusPublic:
    """Open now? When it opens next, how many wait, and the wait someone joining now can expect."""
    with db.transaction() as session:
        snap = dashboard.queue_status(session, code, clock.now(), channel)
    seconds = snap.estimate.seconds if snap.estimate is not None else None
    known = seconds is not None and math.isfinite(seconds)
    return QueueStatusPublic(
        queue=snap.code,
        name=snap.name,
        channel=channel,
        open=snap.is_open,
        next_opening=snap.status.opens_at,
        closes_at=snap.status.closes_at,
        message=snap.status.message("ko"),
        message_en=snap.status.message("en"),
        waiting=snap.waiting,
        offered=snap.offered,
        assigned=snap.assigned,
        oldest_wait_s=snap.oldest_wait_s,
        staffed_slots=snap.staffed_slots,
        estimated_wait_s=seconds if known else None,
        estimated_wait=wait_phrase(seconds, "ko") if seconds is not None else None,
        estimated_wait_en=wait_phrase(seconds, "en") if seconds is not None else None,
    )
