"""Web chat actions: the bot stage, hand-off rules, exactly-once posting and ordered history, leaving a
message out of hours, closing, CSAT and the transcript e-mail (to a real local SMTP server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from sangdam.channels.base import ChannelAdapter, DeliveryResult, OutboundMessage
from sangdam.channels.webchat import service
from sangdam.conversations.actions import send_outbound
from sangdam.conversations.queries import lookup_by_receipt
from sangdam.core.db import Database
from sangdam.core.errors import Conflict, InputError, NotFound
from sangdam.core.settings import Settings
from sangdam.models import Agent, Conversation, Message
from sangdam.models.chat import ChatConversation, ChatSession, CsatRating
from sangdam.models.routing import RoutingEntry
from sangdam.privacy.audit import Actor
from sangdam.routing.hours import load_calendar
from tests.channels.webchat.conftest import (
    RecordingBus,
    new_handle,
    post,
)


def conversation_of(db: Database, conversation_id: int) -> Conversation:
    with db.transaction() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        session.expunge(conversation)
        return conversation


def routed(db: Database, conversation_id: int) -> RoutingEntry | None:
    with db.transaction() as session:
        return session.execute(
            select(RoutingEntry).where(RoutingEntry.conversation_id == conversation_id)
        ).scalar_one_or_none()


def bodies(db: Database, conversation_id: int) -> list[tuple[str, str]]:
    with db.transaction() as session:
        return [(m.sender_kind, m.body) for m in service.history(session, conversation_id)]


# ------------------------------------------------------------------------------ start / resume


def test_opening_the_widget_stores_nothing_until_the_first_message(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    with db.transaction() as session:
        opened = service.open_chat(session, settings, None)
    assert opened.conversation is None and not opened.resumed
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(ChatSession)).scalar_one() == 0
        again = service.open_chat(session, settings, opened.handle.token)
    assert again.resumed and again.conversation is None and again.handle.visitor == opened.handle.visitor


def test_resume_finds_the_same_conversation_and_only_a_hash_of_the_token_is_stored(
    settings: Settings, open_hours: Database
) -> None:
    db = open_hours
    handle = new_handle(settings)
    first = post(db, settings, handle, "c1", "포인트를 현금으로 바꿀 수 있나요?")
    with db.transaction() as session:
        row = session.execute(select(ChatSession)).scalar_one()
        assert row.token_sha256 == service.hash_token(handle.token) and handle.token not in row.token_sha256
        opened = service.open_chat(session, settings, handle.token)
    assert opened.resumed and opened.conversation is not None
    assert opened.conversation.id == first.conversation.id
    assert opened.handle.conversation_id == first.conversation.id


def test_a_forged_or_foreign_token_starts_a_new_chat(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    forged = handle.token[:-3] + ("AAA" if not handle.token.endswith("AAA") else "BBB")
    other = Settings(data_dir=settings.data_dir, secret_key="another-secret")
    with db.transaction() as session:
        assert not service.open_chat(session, settings, forged).resumed
        assert not service.open_chat(session, other, handle.token).resumed


def test_two_tabs_sending_their_first_message_share_one_conversation(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    twin = service.ChatHandle(handle.token, handle.visitor)
    a = post(db, settings, handle, "tab-a", "연회비가 얼마예요?")
    b = post(db, settings, twin, "tab-b", "포인트 현금화는요?")
    assert a.conversation.id == b.conversation.id
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(ChatSession)).scalar_one() == 1


# -------------------------------------------------------------------------------------- the bot


def test_the_bot_answers_from_the_knowledge_base_with_quick_replies(
    settings: Settings, open_hours: Database, bus: RecordingBus
) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings), "c1", "포인트를 현금으로 바꿀 수 있나요?")
    assert not result.duplicate and result.handoff is None
    assert [m.sender_kind for m in result.replies] == ["bot"]
    assert "포인트" in result.replies[0].body and "도움이 되셨나요?" in result.replies[0].body
    conversation = conversation_of(db, result.conversation.id)
    assert conversation.status == "bot" and conversation.channel == "webchat"
    assert conversation.topic_id is not None  # detected: points_benefits
    with db.transaction() as session:
        assert service.quick_replies_for(session, session.get(Conversation, conversation.id)) == (
            "helpful",
            "other",
            "agent",
        )
    kinds = bus.kinds(conversation.id)
    assert kinds[:2] == ["conversation.created", "message.created"]
    assert [e.data["sender_kind"] for e in bus.of("message.created")] == ["customer", "bot"]
    assert routed(db, conversation.id) is None  # the bot has it: not in any queue


def test_helpful_and_another_question_keep_the_bot(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    helpful = post(db, settings, handle, "c2", quick_reply="helpful")
    assert helpful.message.body == "도움이 됐어요" and "기쁩니다" in helpful.replies[0].body
    other = post(db, settings, handle, "c3", quick_reply="other")
    assert other.message.body == "다른 질문" and other.handoff is None
    assert conversation_of(db, helpful.conversation.id).status == "bot"
    with pytest.raises(InputError):
        post(db, settings, handle, "c4", quick_reply="nonsense")


def test_picking_a_topic_lists_its_questions(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings), "c1", topic_code="payment_billing")
    assert result.message.body == "결제/청구"
    assert "자주 찾는 질문" in result.replies[0].body and "•" in result.replies[0].body
    assert conversation_of(db, result.conversation.id).status == "bot"


def test_english_chat_gets_english_answers(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings, "en"), "c1", quick_reply="agent")
    assert result.message.body == "Talk to an agent"
    assert "Connecting you to an agent" in result.replies[0].body


# ------------------------------------------------------------------------------- hand-off rules


def test_asking_for_an_agent_hands_off_with_the_detected_topic(
    settings: Settings, open_hours: Database, bus: RecordingBus
) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    result = post(db, settings, handle, "c2", quick_reply="agent")
    assert result.handoff == "requested"
    conversation = conversation_of(db, result.conversation.id)
    assert conversation.status == "queued"
    entry = routed(db, conversation.id)
    assert entry is not None and entry.state == "waiting"
    handoff = bus.of("chat.handoff")[-1]
    assert handoff.data["reason"] == "requested" and handoff.data["topic_code"] == "points_benefits"
    assert "routing.queued" in bus.kinds(conversation.id)
    with db.transaction() as session:
        chat = session.get(ChatConversation, conversation.id)
        assert chat is not None and chat.handoff_reason == "requested" and chat.handed_off_at is not None
        info = service.queue_info(session, conversation.id)
    assert info is not None and info.position == 1 and "대기 순서 1번째" in info.text


@pytest.mark.parametrize("text", ["상담원 연결해 주세요", "사람이랑 얘기하고 싶어요", "상담원"])
def test_asking_for_an_agent_in_words(settings: Settings, open_hours: Database, text: str) -> None:
    result = post(open_hours, settings, new_handle(settings), "c1", text)
    assert result.handoff == "requested"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("카드를 잃어버렸어요", "lost_card"),
        ("누가 제 카드를 몰래 썼어요", "fraud_security"),
        ("결제 건에 이의 제기하고 싶어요", "payment_billing"),
    ],
)
def test_sensitive_topics_go_to_a_person_at_once(
    settings: Settings, open_hours: Database, bus: RecordingBus, text: str, topic: str
) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings), "c1", text)
    assert result.handoff == "sensitive"
    assert bus.of("chat.handoff")[-1].data["topic_code"] == topic
    assert conversation_of(db, result.conversation.id).status == "queued"
    if topic == "lost_card":
        assert settings.lost_card_phone in result.replies[0].body
        assert routed(db, result.conversation.id).priority >= 1000  # type: ignore[union-attr]


def test_a_sensitive_topic_picked_from_the_list_hands_off(settings: Settings, open_hours: Database) -> None:
    result = post(open_hours, settings, new_handle(settings), "c1", topic_code="fraud_security")
    assert result.handoff == "sensitive"


def test_low_confidence_hands_off(settings: Settings, open_hours: Database) -> None:
    result = post(open_hours, settings, new_handle(settings), "c1", "앱이 안 열려요")
    assert result.handoff == "low_confidence"
    assert conversation_of(open_hours, result.conversation.id).status == "queued"


def test_the_second_failed_answer_hands_off(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    first = post(db, settings, handle, "c1", "안녕하세요")
    assert first.handoff is None and first.replies[0].body == service.FAILED_KO
    with db.transaction() as session:
        assert service.quick_replies_for(session, session.get(Conversation, first.conversation.id)) == ("agent",)
    second = post(db, settings, handle, "c2", "오늘 날씨 어때")
    assert second.handoff == "repeated_failure"


def test_after_the_hand_off_the_bot_is_silent(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", quick_reply="agent")
    later = post(db, settings, handle, "c2", "연회비가 얼마예요?")
    assert later.replies == [] and later.handoff is None


# ------------------------------------------------------------------- exactly once, in order


def test_a_resent_client_id_is_stored_once_and_the_bot_answers_once(
    settings: Settings, open_hours: Database, bus: RecordingBus
) -> None:
    db = open_hours
    handle = new_handle(settings)
    first = post(db, settings, handle, "same", "연회비가 얼마예요?")
    events = len(bus.events)
    again = post(db, settings, handle, "same", "연회비가 얼마예요?")
    assert again.duplicate and again.message.id == first.message.id and again.replies == []
    assert len(bus.events) == events  # nothing published for a duplicate
    assert [k for k, _ in bodies(db, first.conversation.id)] == ["customer", "bot"]


def test_client_ids_are_per_browser(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    a = post(db, settings, new_handle(settings), "1", "연회비가 얼마예요?")
    b = post(db, settings, new_handle(settings), "1", "연회비가 얼마예요?")
    assert not b.duplicate and a.conversation.id != b.conversation.id


def test_history_after_an_id_is_complete_and_ordered_across_reconnects(
    settings: Settings, open_hours: Database, agents: dict[str, int]
) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "m0", quick_reply="agent")
    sent: list[int] = []
    outbox = [f"m{i}" for i in range(1, 9)]
    # The widget resends its whole outbox after each reconnect; the server stores each id once.
    for attempt in range(3):
        for client_id in outbox[: 3 + attempt * 3]:
            result = post(db, settings, handle, client_id, f"메시지 {client_id}")
            if not result.duplicate:
                sent.append(result.message.id)
        with db.transaction() as session:
            conversation = session.get(Conversation, handle.conversation_id)
            agent = session.get(Agent, agents["admin"])
            send_outbound(session, settings, conversation, agent, f"답변 {attempt}", Actor("agent", agent.id))
    with db.transaction() as session:
        everything = service.history(session, handle.conversation_id)  # type: ignore[arg-type]
        customer = [m for m in everything if m.sender_kind == "customer"]
        assert [m.body for m in customer[1:]] == [f"메시지 m{i}" for i in range(1, 9)]
        assert [m.id for m in everything] == sorted(m.id for m in everything)
        cursor = everything[5].id
        after = service.history(session, handle.conversation_id, cursor)  # type: ignore[arg-type]
        assert [m.id for m in after] == [m.id for m in everything[6:]]
        assert [service.client_id_of(m, handle.visitor) for m in customer[1:]] == outbox
    assert len(sent) == len(set(sent)) == 8


def test_a_closed_chat_takes_no_more_messages(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    with db.transaction() as session:
        service.close_by_customer(session, handle)
    with pytest.raises(Conflict) as caught:
        post(db, settings, handle, "c2", "하나 더요")
    assert caught.value.code == "chat_ended"


def test_card_numbers_are_masked_before_storing(settings: Settings, open_hours: Database) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings), "c1", "카드번호 4111 1111 1111 1111 결제일 알려 주세요")
    assert "4111 1111 1111 1111" not in result.message.body
    assert "card_number" in result.message.masked_kinds


# --------------------------------------------------------------------------------- read markers


def test_read_markers_only_move_forward(settings: Settings, open_hours: Database, bus: RecordingBus) -> None:
    db = open_hours
    handle = new_handle(settings)
    result = post(db, settings, handle, "c1", "연회비가 얼마예요?")
    bot = result.replies[0]
    with db.transaction() as session:
        conversation = session.get(Conversation, result.conversation.id)
        assert service.mark_read(session, conversation, "agent", bot.id, agent_id=1) == bot.id
        assert service.mark_read(session, conversation, "agent", result.message.id) == bot.id
        assert service.mark_read(session, conversation, "customer", bot.id) == bot.id
        with pytest.raises(InputError):
            service.mark_read(session, conversation, "robot", bot.id)
    other = post(db, settings, new_handle(settings), "c1", "연회비가 얼마예요?")
    with db.transaction() as session, pytest.raises(NotFound):
        service.mark_read(session, session.get(Conversation, result.conversation.id), "agent", other.message.id)
    reads = bus.of("chat.read")
    assert [(e.data["side"], e.data["message_id"]) for e in reads] == [("agent", bot.id), ("customer", bot.id)]
    with db.transaction() as session:
        assert service.read_markers(session, result.conversation.id) == (bot.id, bot.id)


def test_typing_is_published_without_storing(settings: Settings, open_hours: Database, bus: RecordingBus) -> None:
    db = open_hours
    result = post(db, settings, new_handle(settings), "c1", "연회비가 얼마예요?")
    ref = service.ConversationRef.of(result.conversation)
    service.publish_typing(bus, ref, "customer", True)
    event = bus.of("chat.typing")[-1]
    assert event.conversation_id == ref.id
    assert event.data["side"] == "customer" and event.data["typing"] is True
    assert {"assignee_id", "topic_id", "status"} <= set(event.data)


# ------------------------------------------------------------------------------- out of hours


def test_out_of_hours_the_bot_says_when_agents_are_back(settings: Settings, closed_hours: object, kb: Database) -> None:
    db = kb
    handle = new_handle(settings)
    result = post(db, settings, handle, "c1", quick_reply="agent")
    assert result.handoff is None and result.offline is not None and not result.offline.is_open
    assert "상담을 시작합니다" in result.replies[0].body and "메시지를 남겨" in result.replies[0].body
    assert conversation_of(db, result.conversation.id).status == "bot"
    assert routed(db, result.conversation.id) is None
    with db.transaction() as session:
        line = service.line_status(session, None)
    assert not line.is_open and line.opens_at is not None


def test_lost_cards_are_answered_around_the_clock(settings: Settings, closed_hours: object, kb: Database) -> None:
    result = post(kb, settings, new_handle(settings), "c1", "카드를 잃어버렸어요")
    assert result.handoff == "sensitive" and result.offline is None
    assert routed(kb, result.conversation.id) is not None


def test_leaving_a_message_turns_the_chat_into_an_inquiry(
    settings: Settings, closed_hours: object, kb: Database, bus: RecordingBus
) -> None:
    db = kb
    handle = new_handle(settings)
    post(db, settings, handle, "c1", quick_reply="agent")
    with db.transaction() as session:
        left = service.leave_message(
            session,
            settings,
            handle,
            "leave-1",
            name="홍길동",
            phone="010-1234-5678",
            email="hong@example.com",
            body="결제일을 25일로 바꾸고 싶습니다. 연락 주세요.",
            consent=True,
        )
    assert not left.duplicate
    conversation = conversation_of(db, handle.conversation_id)  # type: ignore[arg-type]
    assert left.receipt_number == conversation.receipt_number
    assert conversation.status == "queued" and conversation.contact_phone == "+821012345678"
    assert conversation.consent_at is not None and conversation.topic_id is not None
    assert bus.of("chat.left_message")[-1].conversation_id == conversation.id
    with db.transaction() as session:
        again = service.leave_message(
            session, settings, handle, "leave-1", name="홍길동", phone="010-1234-5678", body="...", consent=True
        )
        assert again.duplicate and again.receipt_number == left.receipt_number
        found = lookup_by_receipt(session, settings, left.receipt_number, "01012345678", "127.0.0.1")
        assert found.id == conversation.id
        assert session.get(ChatConversation, conversation.id).handoff_reason == "left_message"  # type: ignore[union-attr]
    assert [k for k, _ in bodies(db, conversation.id)].count("customer") == 2


def test_leaving_a_message_without_chatting_first(settings: Settings, closed_hours: object, kb: Database) -> None:
    handle = new_handle(settings)
    with kb.transaction() as session:
        left = service.leave_message(
            session,
            settings,
            handle,
            "l1",
            name="김고객",
            phone="01099998888",
            body="연회비 환불 문의드립니다.",
            consent=True,
        )
    assert conversation_of(kb, handle.conversation_id).receipt_number == left.receipt_number  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"consent": False}, "consent"),
        ({"name": " "}, "name"),
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"body": "짧음"}, "body"),
    ],
)
def test_leave_message_validation(
    settings: Settings, closed_hours: object, kb: Database, fields: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "name": "홍길동",
        "phone": "010-1234-5678",
        "email": None,
        "body": "결제일 변경 문의입니다.",
        "consent": True,
    }
    values.update(fields)
    with kb.transaction() as session, pytest.raises(InputError) as caught:
        service.leave_message(session, settings, new_handle(settings), "l1", **values)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_calendar_fixture_is_closed_now(closed_hours: object, kb: Database) -> None:
    with kb.transaction() as session:
        calendar = load_calendar(session)
    assert not calendar.is_open(datetime.now(UTC), channel="webchat")
    assert calendar.is_open(datetime.now(UTC), queue="lost_card", channel="webchat")


# ----------------------------------------------------------------------------- close and CSAT


def test_closing_frees_the_agent_slot(settings: Settings, open_hours: Database, bus: RecordingBus) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", quick_reply="agent")
    assert routed(db, handle.conversation_id) is not None  # type: ignore[arg-type]
    with db.transaction() as session:
        service.close_by_customer(session, handle)
        service.close_by_customer(session, handle)  # idempotent
    assert conversation_of(db, handle.conversation_id).status == "closed"  # type: ignore[arg-type]
    assert routed(db, handle.conversation_id) is None  # type: ignore[arg-type]
    closed = [e for e in bus.of("conversation.updated") if e.data.get("closed_by") == "customer"]
    assert len(closed) == 1


@pytest.mark.parametrize("score", [0, 6, "5", True, 4.5, None])
def test_csat_scores_are_1_to_5(settings: Settings, open_hours: Database, score: object) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    with db.transaction() as session:
        service.close_by_customer(session, handle)
    with db.transaction() as session, pytest.raises(InputError):
        service.rate(session, handle, score)


def test_csat_once_per_chat_after_it_ends(settings: Settings, open_hours: Database, bus: RecordingBus) -> None:
    db = open_hours
    handle = new_handle(settings)
    post(db, settings, handle, "c1", "연회비가 얼마예요?")
    with db.transaction() as session, pytest.raises(Conflict):
        service.rate(session, handle, 5)
    with db.transaction() as session:
        service.close_by_customer(session, handle)
    with db.transaction() as session:
        rating = service.rate(session, handle, 5, "친절했어요. 카드 4111-1111-1111-1111")
        assert "4111-1111-1111-1111" not in rating.comment
    with db.transaction() as session:
        assert service.rate(session, handle, 5, "친절했어요. 카드 4111-1111-1111-1111").id == rating.id
        with pytest.raises(Conflict):
            service.rate(session, handle, 1, "다시")
        assert session.execute(select(func.count()).select_from(CsatRating)).scalar_one() == 1
    assert [e.data["score"] for e in bus.of("chat.rated")] == [5]


# ------------------------------------------------------------------------------- transcript


def test_the_transcript_is_emailed(settings: Settings, open_hours: Database, smtp_server: tuple[int, object]) -> None:
    port, mailbox = smtp_server
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    db = open_hours
    handle = new_handle(settings)
    post(db, configured, handle, "c1", "연회비가 얼마예요? 제 카드는 4111 1111 1111 1111 입니다")
    with pytest.raises(Conflict):
        service.email_transcript(db, configured, handle, "me@example.com")  # not ended yet
    with db.transaction() as session:
        service.close_by_customer(session, handle)
    with pytest.raises(InputError):
        service.email_transcript(db, configured, handle, "not an address")
    assert service.email_transcript(db, configured, handle, "me@example.com")
    received = mailbox.received  # type: ignore[attr-defined]
    assert len(received) == 1
    mail = received[0]
    receipt = conversation_of(db, handle.conversation_id).receipt_number  # type: ignore[arg-type]
    assert mail["To"] == "me@example.com" and receipt in str(mail["Subject"])
    text = mail.get_payload(decode=True).decode(mail.get_content_charset() or "utf-8")
    assert "고객:" in text and "챗봇:" in text and "연회비" in text
    assert "4111 1111 1111 1111" not in text
    with db.transaction() as session:
        chat = session.get(ChatConversation, handle.conversation_id)
        assert chat is not None and chat.transcript_email == "me@example.com" and chat.transcript_sent_at is not None


def test_no_smtp_server_no_email(settings: Settings, open_hours: Database) -> None:
    handle = new_handle(settings)
    post(open_hours, settings, handle, "c1", "연회비가 얼마예요?")
    with open_hours.transaction() as session:
        service.close_by_customer(session, handle)
    with pytest.raises(Conflict) as caught:
        service.email_transcript(open_hours, settings, handle, "me@example.com")
    assert caught.value.code == "email_unavailable"


def test_an_unreachable_smtp_server_reports_failure(settings: Settings, open_hours: Database) -> None:
    from tests.channels.webchat.conftest import free_port

    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    handle = new_handle(settings)
    post(open_hours, configured, handle, "c1", "연회비가 얼마예요?")
    with open_hours.transaction() as session:
        service.close_by_customer(session, handle)
    assert service.email_transcript(open_hours, configured, handle, "me@example.com") is False


# --------------------------------------------------------------------------- the adapter protocol


def test_outbound_messages_fit_the_adapter_protocol(settings: Settings, open_hours: Database) -> None:
    result = post(open_hours, settings, new_handle(settings), "c1", "연회비가 얼마예요?")

    class Recorder:
        name = "webchat"

        def __init__(self) -> None:
            self.sent: list[OutboundMessage] = []

        async def send(self, outbound: OutboundMessage) -> DeliveryResult:
            self.sent.append(outbound)
            return DeliveryResult(True)

    recorder = Recorder()
    assert isinstance(recorder, ChannelAdapter)
    with open_hours.transaction() as session:
        message = session.get(Message, result.replies[0].id)
        outbound = OutboundMessage.from_message(message, ("helpful",))  # type: ignore[arg-type]
    assert outbound.sender_kind == "bot" and outbound.receipt_number == result.conversation.receipt_number
    assert outbound.quick_replies == ("helpful",)
