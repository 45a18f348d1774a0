"""Browser tests of the knowledge base: the portal FAQ search and the deflection flow of the inquiry form.

A real server (uvicorn in a thread, a fresh SQLite data directory with the demo FAQ) and Debian's
Chromium driven by Playwright, as in ``test_browser.py``:

- a customer searches the FAQ in their own words ("카드 잃어버렸어요 어떡해요"), sees the lost-card
  article first with the matched words highlighted, opens it and answers '도움이 되었나요?';
- on the inquiry form, typing "포인트 현금으로 받고 싶어요" brings up suggestions; opening one and
  clicking 해결됐어요 records the deflection as resolved (one row for the whole typing session);
- another customer types, ignores the suggestions and submits: the row is marked submitted with
  the new conversation's id;
- an admin rewords an article in the console and the customer's next search finds the new wording.

Screenshots go to ``test-artifacts/screenshots/kb_*.png``. Never downloads a browser: the tests skip,
saying why, without ``/usr/bin/chromium`` or Playwright.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import uvicorn
from sqlalchemy import func, select

from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import Settings
from sangdam.models import Conversation
from sangdam.models.knowledge import KbArticle, KbDeflection
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _skip_reason

with contextlib.suppress(ImportError):  # without playwright the module is skipped (see _skip_reason)
    from playwright.sync_api import expect, sync_playwright

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ADMIN_LOGIN = "kb.admin"
PASSWORD = "browser-kb-pass-2026"
TIMEOUT_MS = 15_000


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.timeout(180),
]


# --- the server and the browser ----------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    db: Database


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from sangdam.cli import prepare_database
    from sangdam.knowledge.demo import load_demo_articles
    from sangdam.routing.agents import create_agent
    from sangdam.web.app import create_app

    data_dir = tmp_path_factory.mktemp("browser-kb") / "data"
    settings = Settings(data_dir=data_dir, secret_key="browser-kb-secret", database_url=None, redis_url=None)
    db = Database(settings.resolved_database_url, EventBus())
    prepare_database(db)
    with db.transaction() as session:
        load_demo_articles(session)
        create_agent(session, login=ADMIN_LOGIN, name="박지원", password=PASSWORD, role="admin")
    app = create_app(settings, database=db, run_migrations=False)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-kb", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up builds the FAQ index (loads the Korean analyzer) first
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", db)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        db.dispose()


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
    """Browser contexts (separate cookie jars: two customers, an admin) closed after the test."""

    browser: Browser
    base_url: str
    opened: list[BrowserContext]
    page_errors: list[str]

    def page(self) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url, locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": 1100, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.opened.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        return page


@pytest.fixture
def contexts(browser: Browser, live_server: LiveServer) -> Iterator[Contexts]:
    made = Contexts(browser, live_server.url, [], [])
    try:
        yield made
    finally:
        for context in made.opened:
            context.close()
    assert not made.page_errors, f"JavaScript errors on the pages: {made.page_errors}"


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def article(db: Database, article_id: str) -> KbArticle:
    with db.session() as session:
        found = session.get(KbArticle, article_id)
        assert found is not None
        session.expunge(found)
        return found


def deflection(db: Database, deflection_id: int) -> KbDeflection:
    with db.session() as session:
        found = session.get(KbDeflection, deflection_id)
        assert found is not None
        session.expunge(found)
        return found


def deflection_count(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(select(func.count()).select_from(KbDeflection)).scalar_one())


def type_body(page: Page, text: str) -> None:
    """Type into the inquiry body key by key, as a customer does (input events, the debounce)."""
    page.locator("#inquiry-body").press_sequentially(text, delay=30)


# --- the FAQ -----------------------------------------------------------------------------------


def test_customer_finds_the_lost_card_article_in_their_own_words(contexts: Contexts, live_server: LiveServer) -> None:
    page = contexts.page()
    page.goto("/")
    page.fill("#faq-q", "카드 잃어버렸어요 어떡해요")
    page.press("#faq-q", "Enter")
    page.wait_for_url(re.compile(r"/faq/search\?q="))
    first = page.locator("#kb-results .kb-hit").first
    expect(first).to_have_attribute("data-id", "lost-card-report")
    marks = first.locator(".kb-q mark").all_inner_texts()
    assert "카드" in marks and "분실" in marks, marks  # 잃어버렸어요 found 분실 through the dictionary
    expect(first.locator(".kb-snippet mark", has_text="잃어버렸")).to_be_visible()
    expect(first.locator(".kb-matched")).to_contain_text("잃어버렸")
    shot(page, "kb_search")

    before = article(live_server.db, "lost-card-report")
    first.locator("a.kb-q").click()
    page.wait_for_url(re.compile(r"/faq/lost-card-report$"))
    expect(page.locator("#kb-article h1")).to_have_text("카드를 분실하거나 도난당했어요. 분실 신고는 어떻게 하나요?")
    expect(page.locator("#kb-article .kb-answer a[href='tel:1588-0001']")).to_be_visible()
    page.click("#kb-vote-form button[value=yes]")
    expect(page.locator("#kb-voted")).to_have_text("응답해 주셔서 감사합니다.")
    shot(page, "kb_article")
    page.goto("/faq/lost-card-report")
    expect(page.locator("#kb-voted")).to_contain_text("이미 응답하셨습니다")
    after = article(live_server.db, "lost-card-report")
    assert after.helpful_yes == before.helpful_yes + 1
    assert after.views == before.views + 2  # the page after the vote is not another visit


# --- deflection on the inquiry form ------------------------------------------------------------


def test_suggestion_resolves_the_question_before_an_inquiry(contexts: Contexts, live_server: LiveServer) -> None:
    rows_before = deflection_count(live_server.db)
    votes_before = article(live_server.db, "points-cashout").helpful_yes
    page = contexts.page()
    page.goto("/inquiry")
    box = page.locator("#kb-suggestions")
    expect(box).to_be_hidden()
    type_body(page, "포인트 현금")
    expect(box).to_be_visible()
    expect(box.locator("h2")).to_have_text("혹시 이 답변을 찾으셨나요?")
    row_id = page.locator("#deflection_id")
    expect(row_id).to_have_value(re.compile(r"^\d+$"))
    first_id = row_id.input_value()
    type_body(page, "으로 받고 싶어요")  # typing on refreshes the same row
    item = box.locator("li[data-id=points-cashout]")
    expect(item).to_be_visible()
    expect(item.locator("summary mark").first).to_be_visible()
    assert box.locator("li").count() <= 3
    page.wait_for_timeout(700)  # let the last debounced request land
    assert row_id.input_value() == first_id
    shot(page, "kb_suggest")

    item.locator("summary").click()
    expect(item.locator(".kb-answer")).to_contain_text("현금으로 전환")
    shot(page, "kb_suggest_open")
    item.locator(".kb-resolve").click()
    expect(page.locator("#kb-thanks")).to_contain_text("도움이 되어 다행입니다.")
    shot(page, "kb_resolved")

    assert deflection_count(live_server.db) == rows_before + 1  # one row for the whole typing session
    row = deflection(live_server.db, int(first_id))
    assert row.query == "포인트 현금으로 받고 싶어요"
    assert row.opened_article_id == "points-cashout" and "points-cashout" in row.shown_article_ids
    assert row.submitted is False and row.conversation_id is None
    assert article(live_server.db, "points-cashout").helpful_yes == votes_before + 1


def test_submitting_anyway_marks_the_suggestion_submitted(contexts: Contexts, live_server: LiveServer) -> None:
    page = contexts.page()
    page.goto("/inquiry")
    page.fill("input[name=name]", "이영희")
    page.fill("input[name=phone]", "010-3456-7890")
    page.select_option("select[name=topic]", "points_benefits")
    type_body(page, "포인트 현금으로 받고 싶어요. 계좌를 바꾸고 싶은데 방법이 따로 있나요?")
    expect(page.locator("#kb-suggestions li[data-id=points-cashout]")).to_be_visible()
    row_id = page.locator("#deflection_id")
    expect(row_id).to_have_value(re.compile(r"^\d+$"))
    page.wait_for_timeout(700)
    shown_id = int(row_id.input_value())
    page.check("input[name=consent]")
    shot(page, "kb_submit_anyway")
    page.click("#inquiry-form button[type=submit]")
    page.wait_for_url(re.compile(r"/inquiry/done\?r="))
    receipt = page.locator("#receipt-number").inner_text().strip()

    with live_server.db.session() as session:
        conversation_id = session.execute(
            select(Conversation.id).where(Conversation.receipt_number == receipt)
        ).scalar_one()
    row = deflection(live_server.db, shown_id)
    assert row.submitted is True and row.conversation_id == conversation_id
    assert row.opened_article_id is None


# --- the console -------------------------------------------------------------------------------


def test_admin_rewords_an_article_and_the_next_search_finds_it(contexts: Contexts, live_server: LiveServer) -> None:
    admin = contexts.page()
    admin.goto("/console/login?next=/console/kb")
    admin.fill("input[name=login]", ADMIN_LOGIN)
    admin.fill("input[name=password]", PASSWORD)
    admin.click("#login-form button[type=submit]")
    admin.wait_for_url(re.compile(r"/console/kb$"))
    admin.fill("#kb-filters input[name=q]", "연회비")
    admin.click("#kb-filters button[type=submit]")
    admin.locator("#kb-rows tr[data-id=annual-fee] a").click()
    admin.wait_for_url(re.compile(r"/console/kb/articles/annual-fee"))
    admin.fill("#kb-editor input[name=question]", "연회비는 언제 빠져나가고, 첫해 면제 이벤트도 있나요?")
    admin.click("#kb-save")
    expect(admin.locator("#done")).to_contain_text("저장했습니다")
    shot(admin, "kb_console_edit")

    customer = contexts.page()
    customer.goto("/faq")
    customer.fill("#faq-q", "첫해 면제 이벤트")
    customer.press("#faq-q", "Enter")
    first = customer.locator("#kb-results .kb-hit").first
    expect(first).to_have_attribute("data-id", "annual-fee")
    expect(first.locator(".kb-q")).to_contain_text("첫해 면제 이벤트도 있나요?")
    expect(first.locator(".kb-q mark", has_text="이벤트")).to_be_visible()  # a word only the new wording has
