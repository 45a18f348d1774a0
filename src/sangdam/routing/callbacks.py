"""Callback requests (콜백 예약): left while a line is closed, released as queued conversations when it opens.

* :func:`request_callback` checks the Korean phone number (stored in E.164) and schedules the
  request for the next opening of the line it belongs to (now, if the line is open).
* :func:`release_due_callbacks` runs periodically: each request whose time has come becomes a
  queued conversation through a conversation-opening function: one passed in, else the
  conversations feature's ``open_callback_conversation(session, callback) -> int`` when it has one,
  else :func:`open_through_inbound` (``receive_inbound`` on the voice channel).

Both only change the session; events are queued and go out after the caller commits.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import cast

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core.clock import SEOUL, as_utc, now
from sangdam.core.db import queue_event
from sangdam.core.errors import Conflict, InputError, NotFound, SangdamError
from sangdam.core.events import Event
from sangdam.customers.contact import mask_phone, normalize_phone
from sangdam.models import Customer, Topic
from sangdam.models.base import ContactKind
from sangdam.models.schedule import CallbackRequest, CallbackStatus
from sangdam.routing.hours import Calendar, format_opening_ko, load_calendar

CALLBACK_CHANNEL = "voice"

log = logging.getLogger(__name__)

OpenConversation = Callable[[Session, CallbackRequest], int]
"""Opens a queued conversation for a released callback and returns its id."""

_CALLABLE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.VOIP,
}


def normalize_korean_phone(raw: str) -> str:
    """``010-1234-5678`` → ``+821012345678``: a valid Korean mobile, landline or 070 number.

    Raises :class:`InputError` (field ``phone``) for anything else: foreign, toll-free (080),
    premium (060) or representative (1588-) numbers cannot be called back.
    """
    e164 = normalize_phone(raw, "KR")
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) != "KR" or phonenumbers.number_type(number) not in _CALLABLE_TYPES:
        raise InputError(
            "phone",
            "콜백은 국내 휴대폰 또는 일반 전화번호로만 예약할 수 있습니다.",
            "Callbacks go to Korean mobile or landline numbers only.",
        )
    return e164


def request_callback(
    session: Session,
    *,
    customer_id: int,
    phone: str,
    topic_id: int | None = None,
    queue: str | None = None,
    conversation_id: int | None = None,
    at: datetime | None = None,
    calendar: Calendar | None = None,
) -> CallbackRequest:
    """Book a callback for the next opening of ``queue``'s phone line.

    ``queue`` defaults to the topic's queue (the routing feature names a topic's queue after its
    code), so a lost-card callback is due at once, the line being open around the clock. A
    customer's pending request for the same number is reused (and its topic updated), so a double
    submission books one call.
    """
    at = as_utc(at or now())
    e164 = normalize_korean_phone(phone)
    if topic_id is not None:
        topic = session.get(Topic, topic_id)
        if topic is None or not topic.active:
            raise InputError("topic", "문의 유형을 선택해 주세요.", "Please choose a valid topic.")
        queue = queue or topic.code
    calendar = calendar or load_calendar(session, at.astimezone(SEOUL).date())
    opening = calendar.next_opening(at, queue, CALLBACK_CHANNEL)
    if opening is None:
        raise Conflict(
            "상담 재개 일정이 정해지지 않아 콜백을 예약할 수 없습니다.",
            "The line does not reopen within a year; no callback can be booked.",
        )
    existing = session.scalars(
        select(CallbackRequest).where(
            CallbackRequest.customer_id == customer_id,
            CallbackRequest.phone == e164,
            CallbackRequest.status == CallbackStatus.PENDING.value,
        )
    ).first()
    if existing is not None:
        existing.topic_id = topic_id if topic_id is not None else existing.topic_id
        existing.conversation_id = conversation_id if conversation_id is not None else existing.conversation_id
        existing.updated_at = at
        return existing
    callback = CallbackRequest(
        customer_id=customer_id,
        conversation_id=conversation_id,
        phone=e164,
        topic_id=topic_id,
        queue=queue,
        requested_at=at,
        scheduled_for=as_utc(opening),
        status=CallbackStatus.PENDING.value,
        updated_at=at,
    )
    session.add(callback)
    session.flush()
    queue_event(session, _event("callback.requested", callback))
    return callback


def cancel_callback(session: Session, callback_id: int, at: datetime | None = None) -> CallbackRequest:
    """Cancel a pending request (the customer no longer needs the call)."""
    callback = session.get(CallbackRequest, callback_id)
    if callback is None:
        raise NotFound("콜백 예약을 찾을 수 없습니다.", f"No callback request {callback_id}.")
    if callback.status != CallbackStatus.PENDING.value:
        raise Conflict("이미 처리된 콜백 예약입니다.", f"The callback request is already {callback.status}.")
    callback.status = CallbackStatus.CANCELLED.value
    callback.updated_at = as_utc(at or now())
    queue_event(session, _event("callback.cancelled", callback))
    return callback


def release_due_callbacks(
    session: Session,
    at: datetime | None = None,
    open_conversation: OpenConversation | None = None,
    calendar: Calendar | None = None,
    limit: int = 200,
) -> list[CallbackRequest]:
    """Turn the pending requests due at ``at`` into queued conversations; returns the released ones.

    A request whose line turns out closed (a closure added after booking) moves to the next opening;
    one the opener refuses (a :class:`SangdamError`) stays pending for the next run. Rows are locked
    with ``SKIP LOCKED`` so two workers never release the same request.
    """
    at = as_utc(at or now())
    opener = open_conversation or _default_opener()
    calendar = calendar or load_calendar(session, at.astimezone(SEOUL).date())
    due = session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.status == CallbackStatus.PENDING.value, CallbackRequest.scheduled_for <= at)
        .order_by(CallbackRequest.scheduled_for, CallbackRequest.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    released = []
    for callback in due:
        opening = calendar.next_opening(at, callback.queue, CALLBACK_CHANNEL)
        if opening is None or opening > at:
            if opening is not None:
                callback.scheduled_for = as_utc(opening)
                callback.updated_at = at
            continue
        try:
            with session.begin_nested():
                conversation_id = opener(session, callback)
        except SangdamError as exc:  # e.g. no queue takes it: stays pending, retried next run
            log.warning("callback %s not released: %s", callback.id, exc.message_en)
            continue
        callback.conversation_id = conversation_id
        callback.status = CallbackStatus.QUEUED.value
        callback.released_at = at
        callback.updated_at = at
        queue_event(session, _event("callback.released", callback))
        released.append(callback)
    return released


def _default_opener() -> OpenConversation:
    actions = importlib.import_module("sangdam.conversations.actions")
    opener = getattr(actions, "open_callback_conversation", None)
    return cast(OpenConversation, opener) if opener is not None else open_through_inbound


def open_through_inbound(session: Session, callback: CallbackRequest) -> int:
    """Open (or reopen) the customer's conversation on the voice channel and put it in its queue.

    The request becomes the conversation's message (the number masked; the agent finds it on the
    callback request). The customer is found by the conversation the request came from, else by
    their own phone contact point (the callback number when they have none).
    """
    from sangdam.conversations.actions import receive_inbound
    from sangdam.conversations.schemas import InboundMessage
    from sangdam.core.settings import get_settings
    from sangdam.privacy.audit import Actor
    from sangdam.routing.actions import enqueue

    customer = session.get(Customer, callback.customer_id)
    if customer is None:
        raise NotFound("고객을 찾을 수 없습니다.", f"No customer {callback.customer_id}.")
    topic_code = callback_topic_code(session, callback)
    body = (
        f"[콜백 예약] {mask_phone(callback.phone)} 번호로 전화 요청 (예약 {format_opening_ko(callback.requested_at)})"
    )
    result = receive_inbound(
        session,
        get_settings(),
        InboundMessage(
            channel=CALLBACK_CHANNEL,
            contact_kind=ContactKind.PHONE,
            contact_value=customer.contact(ContactKind.PHONE) or callback.phone,
            customer_name=customer.name,
            body=body,
            topic_code=topic_code,
            subject="콜백 예약",
            language=customer.language,
            new_conversation=callback.conversation_id is None,
            conversation_id=callback.conversation_id,
        ),
        Actor.system(),
    )
    enqueue(session, result.conversation)
    return result.conversation.id


def callback_topic_code(session: Session, callback: CallbackRequest) -> str | None:
    if callback.topic_id is None:
        return None
    topic = session.get(Topic, callback.topic_id)
    return topic.code if topic is not None and topic.active else None


def _event(kind: str, callback: CallbackRequest) -> Event:
    return Event(
        kind=kind,
        data={
            "callback_id": callback.id,
            "customer_id": callback.customer_id,
            "queue": callback.queue,
            "status": callback.status,
            "scheduled_for": as_utc(callback.scheduled_for).isoformat(),
        },
        conversation_id=callback.conversation_id,
    )
