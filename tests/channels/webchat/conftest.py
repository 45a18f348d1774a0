"""Fixtures of the web chat tests: a bus that records, the demo FAQ, opening hours, an SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, time, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import delete

from sangdam.channels.webchat import service
from sangdam.core.clock import now, to_seoul
from sangdam.core.db import Database
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.knowledge.demo import load_demo_articles
from sangdam.models.schedule import BusinessHoursRule


class RecordingBus(EventBus):
    """The in-process bus, keeping every published event for the test to inspect."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def publish(self, item: Event) -> None:
        self.events.append(item)
        super().publish(item)

    def kinds(self, conversation_id: int | None = None) -> list[str]:
        return [e.kind for e in self.events if conversation_id is None or e.conversation_id == conversation_id]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def kb(db: Database) -> Database:
    with db.transaction() as session:
        load_demo_articles(session)
    return db


def _set_chat_hours(db: Database, rows: list[tuple[int, time, time]]) -> None:
    with db.transaction() as session:
        session.execute(delete(BusinessHoursRule).where(BusinessHoursRule.channel == service.CHANNEL))
        for weekday, opens, closes in rows:
            session.add(
                BusinessHoursRule(
                    queue=None,
                    channel=service.CHANNEL,
                    weekday=weekday,
                    opens=opens,
                    closes=closes,
                    observe_holidays=False,
                )
            )


@pytest.fixture
def open_hours(kb: Database) -> Database:
    """Chat answered around the clock."""
    _set_chat_hours(kb, [(d, time(0), time(0)) for d in range(7)])
    return kb


@pytest.fixture
def closed_hours(kb: Database) -> date:
    """Chat answered only three days from now (Seoul), 10:00–11:00; returns that day."""
    day = to_seoul(now()).date() + timedelta(days=3)
    _set_chat_hours(kb, [(day.weekday(), time(10), time(11))])
    return day


def new_handle(settings: Settings, language: str = "ko") -> service.ChatHandle:
    token, visitor = service.new_token(settings)
    return service.ChatHandle(token, visitor, language)


def post(
    db: Database, settings: Settings, handle: service.ChatHandle, client_id: str, body: str = "", **kw: object
) -> service.PostResult:
    with db.transaction() as session:
        return service.post_message(session, settings, handle, client_id, body, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox(MessageHandler):
    """An aiosmtpd handler keeping the e-mail it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[EmailMessage] = []

    def handle_message(self, message: EmailMessage) -> None:  # type: ignore[override]
        self.received.append(message)


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on a free local port."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()
