"""Browser test of live chat (issue #5), customer and agents in separate Chromium contexts.

A customer asks in Korean on ``/chat`` and gets the bot's answer from the FAQ, asks for an agent and
sees their place in the queue. An agent in another browser goes 상담가능 in the chat workspace
(``/console/chats``): the chat rings (badge) and its offer card shows the bot transcript and the
detected topic; the agent accepts. They exchange messages with typing indicators and read
receipts, the agent inserts a canned response with its variables filled and sends a file; the
customer reloads mid-conversation and keeps everything; the agent transfers the chat to a
colleague, who closes it with a summary; the customer rates it.

Reuses the browser fixtures of ``test_browser.py`` (Debian's Chromium, never a downloaded one).
Screenshots: ``test-artifacts/screenshots/chat_*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time as clock_time

import pytest
from sqlalchemy import select

from sangdam.channels.webchat import agent_actions
from sangdam.cli import prepare_database
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import Settings
from sangdam.knowledge.demo import load_demo_articles
from sangdam.models import Agent, Conversation, Message, Note
from sangdam.models.chat import CsatRating
from sangdam.models.schedule import BusinessHoursRule
from sangdam.privacy.audit import Actor
from sangdam.routing import queries as routing_queries
from tests.web.test_browser import (
    PASSWORD,
    TIMEOUT_MS,
    Contexts,
    LiveServer,
    _skip_reason,
    browser,
    contexts,
    serve_in_thread,
    shot,
    tiny_png,
)

__all__ = ["browser", "contexts"]  # fixtures shared with test_browser.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.timeout(240),
]

AGENT = "chat.agent"
AGENT_NAME = "정하은"
COLLEAGUE = "chat.colleague"
COLLEAGUE_NAME = "최이관"
QUESTION = "포인트를 현금으로 바꿀 수 있나요?"
WIDGET = "[data-sangdam-chat-root]"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from sangdam.routing.agents import create_agent

    data_dir = tmp_path_factory.mktemp("browser-chat") / "data"
    settings = Settings(
        data_dir=data_dir,
        secret_key="browser-chat-secret",
        database_url=None,
        redis_url=None,
        dispatch_interval_seconds=0.5,
    )
    db = Database(settings.resolved_database_url, EventBus())
    prepare_database(db)  # the schema, the topics and a routing queue per topic
    with db.transaction() as session:
        load_demo_articles(session)  # the bot answers from the demo FAQ
        for weekday in range(7):  # chat answered around the clock, whatever day the suite runs
            session.add(
                BusinessHoursRule(
                    channel="webchat",
                    weekday=weekday,
                    opens=clock_time(0),
                    closes=clock_time(0),
                    observe_holidays=False,
                )
            )
        skills = {"points_benefits": 4, "payment_billing": 3, "other": 2}
        agent = create_agent(
            session, login=AGENT, name=AGENT_NAME, password=PASSWORD, skills=skills, capacity={"webchat": 3}
        )
        colleague = create_agent(
            session, login=COLLEAGUE, name=COLLEAGUE_NAME, password=PASSWORD, skills=skills, capacity={"webchat": 3}
        )
        colleague.status = "break"  # reachable for a transfer, not offered new chats
        agent_actions.create_canned(
            session,
            agent,
            agent_actions.CannedInput(
                title="포인트 현금화 안내",
                body="{고객명}님, 접수번호 {접수번호} 건은 상담원 {상담원명}이 도와드리겠습니다.",
            ),
            Actor("agent", agent.id),
        )
    with serve_in_thread(db, settings, "uvicorn-chat") as server:
        yield server


def watch_frames(page) -> list[str]:  # type: ignore[no-untyped-def]
    """What the page's sockets send and receive (shown when an expectation fails)."""
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: (
            ws.on("framereceived", lambda payload: frames.append(f"<- {payload}"[:300])),
            ws.on("framesent", lambda payload: frames.append(f"-> {payload}"[:300])),
        ),
    )
    return frames


def sign_in(page, login: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in and open the chat workspace, its live connection up."""
    from playwright.sync_api import expect

    page.goto("/console/login?next=/console/chats")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/console/chats$"))
    expect(page.locator("#chat-live-label")).to_have_text("채팅 실시간")


def test_chat_from_bot_to_agent_transfer_and_rating(contexts: Contexts, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    db = live_server.db

    # 1. The customer asks in Korean and the bot answers from the FAQ.
    customer = contexts.page()
    customer.goto("/chat")
    frames = watch_frames(customer)
    compose = customer.locator(f"{WIDGET} form.compose textarea")
    expect(customer.locator(f"{WIDGET} .greeting")).to_be_visible()  # the widget's welcome has arrived
    compose.fill(QUESTION)
    compose.press("Enter")
    bot_answer = customer.locator(f"{WIDGET} .row.bot[data-id] .bubble").last
    expect(bot_answer).to_contain_text("포인트", timeout=30_000), frames
    expect(bot_answer).to_contain_text("도움이 되셨나요?")
    shot(customer, "chat_01_bot_answer")

    # 2. They ask for an agent; nobody is available yet, so they see their place in the queue.
    customer.locator(f'{WIDGET} .chips button[data-value="agent"]').click()
    queue_box = customer.locator(f"{WIDGET} .queue")
    expect(queue_box).to_be_visible()
    expect(queue_box).to_contain_text("대기 순서 1번째")
    with db.session() as session:
        conversation = session.execute(select(Conversation).where(Conversation.channel == "webchat")).scalar_one()
        cid, receipt = conversation.id, conversation.receipt_number
        assert conversation.status == "queued" and conversation.topic is not None
        assert conversation.topic.code == "points_benefits"
        assert routing_queries.position(session, cid) == 1
    shot(customer, "chat_02_queue_position")

    # 3. The agent, in another browser, goes 상담가능: the chat rings with the transcript and the topic.
    agent = contexts.page()
    sign_in(agent, AGENT)
    with agent.expect_navigation():
        agent.select_option("#agent-status", "available")
    expect(agent.locator("#chat-live-label")).to_have_text("채팅 실시간")
    offer = agent.locator(".chat-offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".chat-offer-topic")).to_have_text("포인트/혜택")
    expect(offer.locator(".chat-offer-transcript")).to_contain_text(QUESTION)
    expect(offer.locator(".chat-offer-transcript")).to_contain_text("챗봇")
    expect(offer).to_contain_text("고객이 상담원 연결 요청")
    expect(agent.locator("#offer-badge")).to_have_text("1")  # the console's ring: badge …
    assert agent.evaluate("window.__sangdamRings || 0") >= 1  # … and beep
    shot(agent, "chat_03_agent_offer")
    offer.locator(".chat-accept button").click()
    panel = agent.locator(f"#chat-{cid}")
    expect(panel).to_be_visible()
    expect(agent.locator(".chat-offer")).to_have_count(0)
    expect(agent.locator("#chat-load-count")).to_have_text("1")
    expect(panel.locator(".chat-topic")).to_have_text("포인트/혜택")
    expect(panel.locator(".chat-away")).to_be_hidden()  # the customer is connected
    expect(queue_box).to_be_hidden()

    # 4. They talk: typing indicators both ways, read receipts, a canned response, a file.
    text = panel.locator(".chat-compose textarea")
    text.press_sequentially("안녕하세요", delay=40)
    expect(customer.locator(f"{WIDGET} .typing")).to_be_visible()
    panel.locator(".chat-canned").select_option(label="포인트 현금화 안내")
    expect(text).to_have_value(re.compile(rf"안녕하세요채팅 고객님, 접수번호 {receipt} 건은 상담원 {AGENT_NAME}이"))
    text.fill(f"안녕하세요. 채팅 고객님, 접수번호 {receipt} 건은 상담원 {AGENT_NAME}이 도와드리겠습니다.")
    text.press("Enter")
    agent_bubble = customer.locator(f"{WIDGET} .row.agent .bubble").last
    expect(agent_bubble).to_contain_text(f"접수번호 {receipt} 건은 상담원 {AGENT_NAME}이")
    expect(customer.locator(f"{WIDGET} .row.agent .who").last).to_have_text(f"상담원 {AGENT_NAME}")
    expect(customer.locator(f"{WIDGET} .typing")).to_be_hidden()
    expect(panel.locator('li[data-sender="agent"] .read-mark').last).to_be_visible()  # 읽음: the customer saw it

    compose.press_sequentially("네 10만 포인트가 있어요", delay=40)
    expect(panel.locator(".chat-typing")).to_be_visible()
    compose.press("Enter")
    expect(panel.locator('li[data-sender="customer"] .body').last).to_have_text("네 10만 포인트가 있어요")
    expect(customer.locator(f"{WIDGET} .row.customer .meta").last).to_contain_text("읽음")  # the agent saw it

    panel.locator(".chat-compose input[type=file]").set_input_files(
        files=[{"name": "포인트안내.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    text.fill("포인트 현금화 방법을 그림으로 보내 드립니다.")
    panel.locator(".chat-send").click()
    expect(customer.locator(f"{WIDGET} .row.agent .bubble").last).to_contain_text("📎 포인트안내.png")
    expect(panel.locator("a.file").last).to_contain_text("포인트안내.png")
    shot(agent, "chat_04_agent_conversation")
    shot(customer, "chat_04_customer_conversation")

    # 5. The customer reloads mid-conversation and keeps everything.
    before = customer.locator(f"{WIDGET} .row[data-id]").count()
    customer.reload()
    expect(customer.locator(f"{WIDGET} .row[data-id]")).to_have_count(before)
    expect(customer.locator(f"{WIDGET} .row.agent .bubble").last).to_contain_text("📎 포인트안내.png")
    expect(customer.locator(f"{WIDGET} header small")).to_have_text(receipt)
    expect(customer.locator(f"{WIDGET} form.compose")).to_be_visible()
    compose = customer.locator(f"{WIDGET} form.compose textarea")
    compose.fill("새로고침 했어요, 계속 이어서 할게요")
    compose.press("Enter")
    expect(panel.locator('li[data-sender="customer"] .body').last).to_have_text("새로고침 했어요, 계속 이어서 할게요")
    shot(customer, "chat_05_customer_after_reload")

    # 6. The agent transfers the chat to a colleague, with a note.
    panel.locator(".chat-actions summary").click()
    with db.session() as session:
        colleague_id = session.execute(select(Agent.id).where(Agent.login == COLLEAGUE)).scalar_one()
    target = panel.locator(".chat-transfer select[name=target]")
    expect(target.locator(f'option[value="agent:{colleague_id}"]')).to_have_text(f"{COLLEAGUE_NAME} (휴식 · 채팅 0/3)")
    target.select_option(f"agent:{colleague_id}")
    panel.locator(".chat-transfer input[name=note]").fill("현금화 절차 마무리 부탁드립니다")
    panel.locator(".chat-transfer button[type=submit]").click()
    expect(agent.locator(".chat-panel")).to_have_count(0)
    expect(agent.locator("#chat-flash")).to_contain_text(f"{COLLEAGUE_NAME} 상담원에게 이관했습니다")
    expect(customer.locator(f"{WIDGET} .row.system .bubble").last).to_contain_text(
        f"{COLLEAGUE_NAME} 상담원이 이어서 상담해 드립니다"
    )
    shot(agent, "chat_06_agent_after_transfer")

    colleague = contexts.page()
    sign_in(colleague, COLLEAGUE)
    taken = colleague.locator(f"#chat-{cid}")
    expect(taken).to_be_visible()
    expect(taken.locator(".chat-thread")).to_contain_text(QUESTION)  # the whole history came along
    expect(taken.locator(".chat-notes")).to_contain_text("[이관 메모] 현금화 절차 마무리 부탁드립니다")
    taken.locator(".chat-compose textarea").fill(f"{COLLEAGUE_NAME}입니다. 현금화 신청을 마쳤습니다.")
    taken.locator(".chat-compose textarea").press("Enter")
    expect(customer.locator(f"{WIDGET} .row.agent .who").last).to_have_text(f"상담원 {COLLEAGUE_NAME}")
    shot(colleague, "chat_06_colleague_took_over")

    # 7. The colleague closes with a summary; the customer rates the chat.
    taken.locator(".chat-actions summary").click()
    taken.locator(".chat-close textarea[name=summary]").fill("포인트 10만점 현금화 신청 완료")
    taken.locator(".chat-close button[type=submit]").click()
    expect(colleague.locator(".chat-panel")).to_have_count(0)
    stars = customer.locator(f"{WIDGET} .stars")
    expect(stars).to_be_visible()
    stars.locator('button[data-score="5"]').click()
    customer.locator(f"{WIDGET} .sheet textarea[name=comment]").fill("빠르고 친절했어요")
    customer.locator(f"{WIDGET} .sheet button.primary").click()
    expect(customer.locator(f"{WIDGET} .sheet .note")).to_have_text("소중한 의견 감사합니다.")
    shot(customer, "chat_07_rated")

    with db.session() as session:
        conversation = session.get(Conversation, cid)
        assert conversation is not None and conversation.status == "closed"
        assert conversation.assignee_id == colleague_id
        rating = session.execute(select(CsatRating).where(CsatRating.conversation_id == cid)).scalar_one()
        assert rating.score == 5 and rating.comment == "빠르고 친절했어요"
        notes = list(session.execute(select(Note.body).where(Note.conversation_id == cid)).scalars())
        assert notes == ["[이관 메모] 현금화 절차 마무리 부탁드립니다", "[상담 요약] 포인트 10만점 현금화 신청 완료"]
        senders = [
            m.sender_kind for m in session.execute(select(Message).where(Message.conversation_id == cid)).scalars()
        ]
        assert senders[:2] == ["customer", "bot"] and "agent" in senders
        assert routing_queries.entry_for(session, cid) is None  # the slot is free
