"""Browser test of routing (issue #4): the agent goes 상담가능, a customer files an inquiry on the
portal, the background dispatcher offers it, the agent's console rings (badge, banner with the
topic, channel, customer and a countdown, and a Web Audio beep), and the agent accepts and lands
in the conversation.

Reuses the browser fixtures of ``test_browser.py`` (Debian's Chromium, never a downloaded one);
the server here differs in having routing queues seeded and its dispatcher running every 0.5 s.
The screenshot goes to ``test-artifacts/screenshots/console_offer.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from sangdam.cli import prepare_database
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import Settings
from sangdam.models import Agent, Conversation
from sangdam.routing import queries as routing_queries
from tests.web.test_browser import (
    AGENT_LOGIN,
    PASSWORD,
    Contexts,
    LiveServer,
    _skip_reason,
    browser,
    contexts,
    fill_inquiry,
    log_in,
    serve_in_thread,
    shot,
    wait_for_greeting,
    watch_live,
)

__all__ = ["browser", "contexts"]  # fixtures shared with test_browser.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.timeout(180),
]

AGENT_NAME = "정하은"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from sangdam.routing.agents import create_agent

    data_dir = tmp_path_factory.mktemp("browser-routing") / "data"
    settings = Settings(
        data_dir=data_dir,
        secret_key="browser-routing-secret",
        database_url=None,
        redis_url=None,
        dispatch_interval_seconds=0.5,
    )
    db = Database(settings.resolved_database_url, EventBus())
    prepare_database(db)  # the schema, the topics and a routing queue per topic
    with db.transaction() as session:
        create_agent(
            session, login=AGENT_LOGIN, name=AGENT_NAME, password=PASSWORD, skills={"payment_billing": 4, "other": 2}
        )
    with serve_in_thread(db, settings, "uvicorn-routing") as server:
        yield server


def test_console_rings_for_an_offer_and_the_agent_accepts(contexts: Contexts, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    # 1. The agent signs in (오프라인 by default) and goes 상담가능 from the console bar.
    agent = contexts.page()
    frames = watch_live(agent)
    log_in(agent)
    expect(agent.locator("#agent-status")).to_have_value("offline")
    frames.clear()
    with agent.expect_navigation(url=re.compile(r"/console$")):
        agent.select_option("#agent-status", "available")
    expect(agent.locator("#agent-status")).to_have_value("available")
    wait_for_greeting(agent, frames)
    assert agent.locator("#offers .offer-banner").count() == 0
    assert agent.locator("#offer-badge").is_hidden()
    with live_server.db.session() as session:
        status = session.execute(select(Agent.status).where(Agent.login == AGENT_LOGIN)).scalar_one()
    assert status == "available"

    # 2. A customer files an inquiry on the portal.
    customer = contexts.page()
    fill_inquiry(
        customer,
        name="홍길동",
        phone="010-2345-6789",
        subject="결제가 두 번 됐어요",
        body="어제 온라인 쇼핑몰에서 12,000원 결제가 두 번 승인됐습니다. 확인 부탁드립니다.",
    )
    customer.click("#inquiry-form button[type=submit]")
    customer.wait_for_url(re.compile(r"/inquiry/done\?r="))
    receipt = customer.locator("#receipt-number").inner_text().strip()

    # 3. The dispatcher offers it to the agent: the console rings without a reload.
    banner = agent.locator("#offers .offer-banner")
    try:
        expect(banner).to_be_visible(timeout=20_000)
    except AssertionError as exc:
        shot(agent, "console_offer_missing")
        raise AssertionError(f"{exc}\nthe console's WebSocket received: {frames}") from None
    expect(banner).to_contain_text("새 상담 연결 요청")
    expect(banner.locator(".offer-topic")).to_have_text("결제/청구")
    expect(banner.locator(".offer-channel")).to_have_text("문의 접수")
    expect(banner.locator(".offer-customer")).to_have_text("홍길동")
    expect(banner).to_contain_text(receipt)
    expect(banner.locator(".offer-countdown")).to_contain_text(re.compile(r"\d+초 남음"))
    expect(agent.locator("#offer-badge")).to_have_text("1")
    expect(agent.locator("#offer-badge")).to_be_visible()
    assert agent.evaluate("window.__sangdamRings") >= 1, "the offer did not ring"
    first = int(banner.locator(".offer-seconds").inner_text())
    agent.wait_for_function(
        "first => Number(document.querySelector('#offers .offer-seconds').textContent) < first", arg=first
    )  # the countdown counts down
    expect(agent).to_have_title(re.compile(r"^\(1\) 연결 요청"))
    shot(agent, "console_offer")

    # 4. 수락: the agent lands in the conversation, assigned to them.
    banner.locator(".offer-accept button").click()
    agent.wait_for_url(re.compile(r"/console/conversations/\d+\?"))
    expect(agent.locator(".flash")).to_have_text("상담이 연결되었습니다.")
    expect(agent.locator("#conv-assignee")).to_have_text(AGENT_NAME)
    expect(agent.locator("#thread")).to_contain_text("12,000원 결제가 두 번 승인됐습니다")
    expect(agent.locator("#offers .offer-banner")).to_have_count(0)
    shot(agent, "console_offer_accepted")

    with live_server.db.session() as session:
        conversation = session.execute(select(Conversation).where(Conversation.receipt_number == receipt)).scalar_one()
        agent_id = session.execute(select(Agent.id).where(Agent.login == AGENT_LOGIN)).scalar_one()
        entry = routing_queries.entry_for(session, conversation.id)
    assert conversation.assignee_id == agent_id and conversation.status == "assigned"
    assert entry is not None and entry.state == "assigned" and entry.agent_id == agent_id
