"""Browser tests: the portal and the console in Debian's Chromium, driven by Playwright.

A real server (uvicorn, in a thread of this process, on a free port, over a fresh SQLite data
directory) serves both. The main scenario is the one from issue #2: an agent opens the inbox first,
a customer files an inquiry with attachments, the row appears in the agent's inbox live (over the
console's WebSocket, without a reload), the agent replies, and the customer reads the reply through
the receipt lookup. The refusals are checked in the browser too: a missing consent, a forged CSRF
token, an expired console session, and an open inbox whose session ends going back to the login page.

Screenshots go to ``test-artifacts/screenshots/`` (git-ignored) for people to look at.
Never downloads a browser: the tests skip, saying why, without ``/usr/bin/chromium`` or Playwright.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from sqlalchemy import delete, select, update

from sangdam.conversations.taxonomy import seed_taxonomy
from sangdam.core import migrate
from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import Settings
from sangdam.models import AgentSession, Conversation

try:
    from playwright.sync_api import expect, sync_playwright

    PLAYWRIGHT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    PLAYWRIGHT_ERROR = f"playwright is not importable: {exc}"

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

AGENT_LOGIN = "agent.browser"
PASSWORD = "browser-test-pass-2026"
TIMEOUT_MS = 15_000


def _skip_reason() -> str | None:
    if PLAYWRIGHT_ERROR:
        return PLAYWRIGHT_ERROR
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (install Debian's chromium: `make browser`)"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.timeout(180),
]


# --- files the customer attaches ---------------------------------------------------------------


def tiny_png(width: int = 32, height: int = 20) -> bytes:
    """A real PNG (a blue-to-red gradient), made here so the test needs no fixture files."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, 64, 255 - x * 255 // width)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def tiny_pdf() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- the server --------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    db: Database
    settings: Settings


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from sangdam.routing.agents import create_agent

    data_dir = tmp_path_factory.mktemp("browser") / "data"
    settings = Settings(data_dir=data_dir, secret_key="browser-test-secret", database_url=None, redis_url=None)
    db = Database(settings.resolved_database_url, EventBus())
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_taxonomy(session)
        create_agent(
            session,
            login=AGENT_LOGIN,
            name="정하은",
            password=PASSWORD,
            skills={"payment_billing": 4, "other": 2},
        )
        create_agent(session, login="lead.browser", name="김민정", password=PASSWORD, role="supervisor", rank="lead")
    with serve_in_thread(db, settings, "uvicorn-browser") as server:
        yield server


@contextlib.contextmanager
def serve_in_thread(db: Database, settings: Settings, name: str) -> Iterator[LiveServer]:
    """The real app on uvicorn, in a thread of this process, on a free port; stopped and disposed after."""
    from sangdam.web.app import create_app

    app = create_app(settings, database=db, run_migrations=False)
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", db, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        db.dispose()


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Contexts:
    """Browser contexts (separate cookie jars: a customer, an agent …) closed after the test."""

    browser: Browser
    base_url: str
    opened: list[BrowserContext]
    page_errors: list[str]

    def new(self) -> BrowserContext:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale="ko-KR",
            timezone_id="Asia/Seoul",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", self._watch)
        self.opened.append(context)
        return context

    def page(self) -> Page:
        return self.new().new_page()

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))


@pytest.fixture
def contexts(browser: Browser, live_server: LiveServer) -> Iterator[Contexts]:
    made = Contexts(browser, live_server.url, [], [])
    try:
        yield made
    finally:
        for context in made.opened:
            context.close()
    assert not made.page_errors, f"JavaScript errors on the pages: {made.page_errors}"


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- steps -------------------------------------------------------------------------------------


def log_in(page: Page, login: str = AGENT_LOGIN) -> None:
    page.goto("/console/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/console$"))
    expect(page.locator("#inbox-rows")).to_be_attached()


def fill_inquiry(page: Page, *, name: str, phone: str, subject: str, body: str, consent: bool = True) -> None:
    page.goto("/inquiry")
    page.fill("input[name=name]", name)
    page.fill("input[name=phone]", phone)
    page.fill("input[name=email]", "customer@example.com")
    page.select_option("select[name=topic]", "payment_billing")
    page.fill("input[name=subject]", subject)
    page.fill("#inquiry-body", body)
    if consent:
        page.check("input[name=consent]")


def watch_live(page: Page) -> list[str]:
    """Collects what the console's WebSocket receives (to wait for its greeting, and to explain failures)."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames


def wait_for_greeting(page: Page, frames: list[str]) -> None:
    """The server says hello only once this socket is subscribed to events: from then on nothing is missed."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not any('"kind":"hello"' in frame.replace(" ", "") for frame in frames):
        assert time.monotonic() < deadline, "the console's live connection never said hello"
        page.wait_for_timeout(50)
    expect(page.locator("#live-label")).to_have_text("실시간")
    expect(page.locator("#live-dot")).to_have_class(re.compile(r"\bon\b"))


def session_token_hash(context: BrowserContext) -> str:
    token = next(c["value"] for c in context.cookies() if c["name"] == "sangdam_session")
    return hashlib.sha256(token.encode()).hexdigest()


# --- the scenario of issue #2 ------------------------------------------------------------------


def test_inquiry_appears_live_in_console_and_reply_reaches_customer(
    contexts: Contexts, live_server: LiveServer
) -> None:
    png, pdf = tiny_png(), tiny_pdf()
    reply_text = "안녕하세요, 한빛카드 정하은입니다. 중복 청구된 4,500원은 3영업일 안에 취소 처리됩니다."

    # 1. The agent signs in first and keeps the inbox open; the live connection comes up.
    agent = contexts.page()
    frames = watch_live(agent)
    log_in(agent)
    wait_for_greeting(agent, frames)
    agent.evaluate("window.__sangdamNoReload = true")
    rows_before = agent.locator("#inbox-rows tr[data-id]").count()
    shot(agent, "console-inbox-before")

    # 2. The customer, in another browser context, files an inquiry with two attachments.
    customer_context = contexts.new()
    customer = customer_context.new_page()
    fill_inquiry(
        customer,
        name="홍길동",
        phone="010-2345-6789",
        subject="같은 결제가 두 번 청구됐어요",
        body="11월 18일 편의점에서 4,500원을 결제했는데 명세서에 두 번 찍혀 있습니다. 확인 부탁드립니다.",
    )
    customer.set_input_files(
        "input[name=attachments]",
        [
            {"name": "영수증.png", "mimeType": "image/png", "buffer": png},
            {"name": "명세서.pdf", "mimeType": "application/pdf", "buffer": pdf},
        ],
    )
    shot(customer, "portal-inquiry-filled")
    customer.click("#inquiry-form button[type=submit]")
    customer.wait_for_url(re.compile(r"/inquiry/done\?r="))
    receipt = customer.locator("#receipt-number").inner_text().strip()
    assert re.fullmatch(r"\d{8}-\d{6}", receipt), receipt
    shot(customer, "portal-inquiry-done")

    # 3. The new row shows up in the agent's open inbox without a reload.
    row = agent.locator("#inbox-rows tr[data-id]", has_text=receipt)
    try:
        expect(row).to_be_visible(timeout=10_000)
    except AssertionError as exc:
        shot(agent, "console-inbox-live-row-missing")
        raise AssertionError(f"{exc}\nthe console's WebSocket received: {frames}") from None
    expect(row).to_contain_text("홍길동")
    expect(row).to_contain_text("같은 결제가 두 번 청구됐어요")
    assert agent.evaluate("window.__sangdamNoReload === true"), "the inbox page was reloaded"
    expect(agent.locator("#inbox-total")).to_have_text(f"{rows_before + 1}건")
    shot(agent, "console-inbox-live-row")

    # 4. The agent opens it, sees and fetches the attachments, and replies.
    row.locator("a").first.click()
    agent.wait_for_url(re.compile(r"/console/conversations/\d+$"))
    thread = agent.locator("#thread")
    expect(thread).to_contain_text("명세서에 두 번 찍혀 있습니다")
    png_link = thread.locator("a.file", has_text="영수증.png")
    expect(png_link).to_be_visible()
    expect(thread.locator("a.file", has_text="명세서.pdf")).to_be_visible()
    fetched = agent.context.request.get(png_link.get_attribute("href") or "")
    assert fetched.status == 200
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.body() == png
    shot(agent, "console-conversation")
    agent.fill("#reply-form textarea[name=body]", reply_text)
    agent.click("#reply-form button.primary")
    expect(agent.locator(".flash")).to_have_text("답변을 보냈습니다.")
    expect(agent.locator("#thread .msg.from-agent")).to_contain_text(reply_text)
    shot(agent, "console-conversation-replied")

    # 5. The customer, on another device (a fresh context), looks it up by receipt and phone.
    lookup = contexts.page()
    lookup.goto("/lookup")
    lookup.fill("input[name=receipt_number]", receipt)
    lookup.fill("input[name=phone]", "01023456789")
    lookup.click("#lookup-form button[type=submit]")
    lookup.wait_for_url(re.compile(r"/lookup/view$"))
    expect(lookup.locator("#receipt-number")).to_have_text(receipt)
    expect(lookup.locator("#thread .msg.from-agent")).to_contain_text(reply_text)
    expect(lookup.locator("#thread .msg.from-customer a.file", has_text="영수증.png")).to_be_visible()
    expect(lookup.locator("#no-reply")).to_have_count(0)
    shot(lookup, "portal-lookup-reply")

    with live_server.db.transaction() as session:
        status = session.execute(select(Conversation.status).where(Conversation.receipt_number == receipt)).scalar_one()
    assert status != "queued"  # the reply moved it on


# --- refusals ----------------------------------------------------------------------------------


def test_missing_consent_is_refused_in_korean_and_keeps_the_form(contexts: Contexts) -> None:
    page = contexts.page()
    fill_inquiry(
        page,
        name="김영희",
        phone="010-3456-7890",
        subject="포인트 현금화",
        body="포인트 32,000점을 계좌로 받을 수 있나요?",
        consent=False,
    )
    with page.expect_response(lambda r: r.url.endswith("/inquiry") and r.request.method == "POST") as answer:
        page.click("#inquiry-form button[type=submit]")
    assert answer.value.status == 400
    expect(page.locator("#form-error")).to_contain_text("개인정보 수집·이용에 동의해 주셔야")
    expect(page.locator("input[name=name]")).to_have_value("김영희")
    expect(page.locator("input[name=phone]")).to_have_value("010-3456-7890")
    expect(page.locator("input[name=email]")).to_have_value("customer@example.com")
    expect(page.locator("select[name=topic]")).to_have_value("payment_billing")
    expect(page.locator("input[name=subject]")).to_have_value("포인트 현금화")
    expect(page.locator("#inquiry-body")).to_have_value("포인트 32,000점을 계좌로 받을 수 있나요?")
    expect(page.locator("input[name=consent]")).not_to_be_checked()
    shot(page, "portal-inquiry-no-consent")

    # Agreeing and sending again goes through.
    page.check("input[name=consent]")
    page.click("#inquiry-form button[type=submit]")
    page.wait_for_url(re.compile(r"/inquiry/done\?r=\d{8}-\d{6}$"))


def test_forged_csrf_token_is_refused_on_the_portal(contexts: Contexts, live_server: LiveServer) -> None:
    page = contexts.page()
    fill_inquiry(page, name="이철수", phone="010-4567-8901", subject="위조", body="보안 토큰을 바꿔치기한 요청입니다.")
    page.evaluate("document.querySelector('#inquiry-form input[name=csrf_token]').value = 'forged-token'")
    with page.expect_response(lambda r: r.url.endswith("/inquiry") and r.request.method == "POST") as answer:
        page.click("#inquiry-form button[type=submit]")
    assert answer.value.status == 403
    expect(page.locator("#form-error")).to_contain_text("보안 토큰이 올바르지 않습니다")
    shot(page, "portal-inquiry-forged-csrf")
    with live_server.db.transaction() as session:
        filed = session.execute(select(Conversation.id).where(Conversation.subject == "위조")).first()
    assert filed is None


def test_forged_csrf_token_is_refused_in_the_console(contexts: Contexts, live_server: LiveServer) -> None:
    # Something to reply to, filed through the portal.
    customer = contexts.page()
    fill_inquiry(customer, name="박지민", phone="010-5678-9012", subject="한도 문의", body="한도를 올리고 싶습니다.")
    customer.click("#inquiry-form button[type=submit]")
    customer.wait_for_url(re.compile(r"/inquiry/done"))
    receipt = customer.locator("#receipt-number").inner_text().strip()

    agent = contexts.page()
    log_in(agent)
    agent.locator("#inbox-rows tr[data-id]", has_text=receipt).locator("a").first.click()
    agent.wait_for_url(re.compile(r"/console/conversations/\d+$"))
    agent.fill("#reply-form textarea[name=body]", "위조된 토큰으로 보내는 답변")
    agent.evaluate("document.querySelector('#reply-form input[name=csrf_token]').value = 'forged-token'")
    with agent.expect_response(lambda r: r.url.endswith("/reply") and r.request.method == "POST") as answer:
        agent.click("#reply-form button.primary")
    assert answer.value.status == 403
    expect(agent.locator("#action-error")).to_contain_text("보안 토큰이 올바르지 않습니다")
    expect(agent.locator("#thread .msg.from-agent")).to_have_count(0)
    shot(agent, "console-reply-forged-csrf")


@pytest.mark.parametrize("how", ["expired", "deleted"])
def test_expired_console_session_goes_back_to_login(contexts: Contexts, live_server: LiveServer, how: str) -> None:
    context = contexts.new()
    page = context.new_page()
    log_in(page)
    token_hash = session_token_hash(context)
    with live_server.db.transaction() as session:
        if how == "expired":
            session.execute(
                update(AgentSession)
                .where(AgentSession.token_hash == token_hash)
                .values(expires_at=now() - timedelta(minutes=1))
            )
        else:
            session.execute(delete(AgentSession).where(AgentSession.token_hash == token_hash))

    page.goto("/console")
    page.wait_for_url(re.compile(r"/console/login\?"))
    expect(page.locator(".login .notice")).to_contain_text("세션이 만료되었습니다")
    expect(page.locator("#login-form input[name=next]")).to_have_value("/console")
    shot(page, f"console-session-{how}")

    # Signing in again lands back on the inbox.
    page.fill("input[name=login]", AGENT_LOGIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/console$"))
    expect(page.locator("#inbox-rows")).to_be_attached()


def test_open_inbox_goes_to_login_when_its_session_ends(contexts: Contexts, live_server: LiveServer) -> None:
    """The inbox stays open while its session ends; the next live refresh must lead to the login page."""
    context = contexts.new()
    page = context.new_page()
    frames = watch_live(page)
    log_in(page)
    wait_for_greeting(page, frames)
    with live_server.db.transaction() as session:
        session.execute(delete(AgentSession).where(AgentSession.token_hash == session_token_hash(context)))

    customer = contexts.page()
    fill_inquiry(customer, name="최수진", phone="010-6789-0123", subject="재발급", body="카드가 휘었습니다.")
    customer.click("#inquiry-form button[type=submit]")
    customer.wait_for_url(re.compile(r"/inquiry/done"))

    try:
        page.wait_for_url(re.compile(r"/console/login\?"), timeout=10_000)
    finally:
        shot(page, "console-inbox-session-ended-live")
    expect(page.locator(".login .notice")).to_contain_text("세션이 만료되었습니다")
