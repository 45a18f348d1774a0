"""conversations.actions: inquiries, the inbound road, replies, notes, assignment, status lifecycle."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sangdam.conversations import actions
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.conversations.schemas import InboundMessage, InquiryCreate
from sangdam.core.db import Database
from sangdam.core.errors import Conflict, Forbidden, InputError
from sangdam.core.settings import Settings
from sangdam.models import Agent, AuditEvent, Conversation, ConversationActivity, Customer, Message, Note
from sangdam.privacy.audit import Actor

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CARD = "4111 1111 1111 1111"  # Luhn-valid test number


def inquiry(**overrides: object) -> InquiryCreate:
    data: dict[str, object] = {
        "name": "홍길동",
        "phone": "010-2345-6789",
        "topic": "payment_billing",
        "subject": "이중 결제",
        "body": "같은 결제가 두 번 청구됐어요. 확인 부탁드립니다.",
        "consent": True,
    }
    data.update(overrides)
    return InquiryCreate(**data)  # type: ignore[arg-type]


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_create_inquiry_opens_a_queued_conversation_with_receipt_number(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(
            s, settings, inquiry(email="Hong@Example.COM"), [AttachmentUpload("영수증.png", PNG)]
        )
        cid, receipt = c.id, c.receipt_number
    with db.transaction() as s:
        c = s.get(Conversation, cid)
        assert c is not None
        assert c.status == "queued" and c.channel == "form"
        assert c.topic is not None and c.topic.code == "payment_billing"
        assert c.contact_phone == "+821023456789"
        assert c.contact_email == "Hong@example.com"
        assert c.consent_at is not None
        assert len(receipt) == 15 and receipt[8] == "-"
        [m] = c.messages
        assert m.sender_kind == "customer" and m.attachments[0].filename == "영수증.png"
        assert (settings.attachments_dir / m.attachments[0].storage_key).read_bytes() == PNG
        assert {cp.kind for cp in c.customer.contact_points} == {"phone", "email"}
        audit = s.execute(select(AuditEvent).where(AuditEvent.action == "conversation.create")).scalar_one()
        assert audit.customer_id == c.customer_id


def test_the_same_phone_finds_the_same_customer(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        a = actions.create_inquiry(s, settings, inquiry(phone="010-2345-6789"))
        b = actions.create_inquiry(s, settings, inquiry(phone="+82 10 2345 6789", name="홍길동"))
        assert a.customer_id == b.customer_id and a.id != b.id
    assert count(db, Customer) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"consent": False}, "consent", "동의"),
        ({"phone": "12345"}, "phone", "휴대폰 번호 형식"),
        ({"email": "not-an-email"}, "email", "이메일"),
        ({"topic": "no_such_topic"}, "topic", "문의 유형"),
        ({"body": "짧음"}, "body", "5자 이상"),
    ],
)
def test_bad_inquiries_are_refused_in_korean_and_nothing_is_written(
    db: Database, settings: Settings, overrides: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(InputError) as info, db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry(**overrides))
    assert info.value.field == field
    assert fragment in info.value.message
    assert count(db, Conversation) == 0 and count(db, Customer) == 0 and count(db, Message) == 0


def test_a_bad_attachment_refuses_the_whole_inquiry(db: Database, settings: Settings) -> None:
    exe = AttachmentUpload("virus.exe", b"MZ\x90\x00" + b"\x00" * 100)
    with pytest.raises(InputError) as info, db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry(), [AttachmentUpload("ok.png", PNG), exe])
    assert "올릴 수 없는 형식" in info.value.message
    assert count(db, Conversation) == 0
    assert not settings.attachments_dir.exists() or not any(settings.attachments_dir.rglob("*"))


def test_oversized_and_too_many_attachments(db: Database, settings: Settings) -> None:
    big = AttachmentUpload("big.png", PNG + b"\x00" * settings.max_attachment_bytes)
    with pytest.raises(InputError, match="너무 큽니다"), db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry(), [big])
    many = [AttachmentUpload(f"{i}.png", PNG) for i in range(settings.max_attachments + 1)]
    with pytest.raises(InputError, match="최대 5개"), db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry(), many)
    assert count(db, Conversation) == 0


def test_sensitive_data_is_masked_before_storage_and_the_customer_is_told(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(
            s, settings, inquiry(body=f"카드번호 {CARD} 이고 cvc 123 입니다. 결제 취소해 주세요")
        )
        cid = c.id
    with db.transaction() as s:
        stored = s.execute(select(Message).where(Message.conversation_id == cid).order_by(Message.id)).scalars().all()
        assert CARD not in stored[0].body and "1111 1111 1111" not in stored[0].body
        assert "123" not in stored[0].body
        assert "card_number" in stored[0].masked_kinds
        assert stored[1].sender_kind == "system" and "보내지 마세요" in stored[1].body


def test_a_redelivered_channel_message_is_stored_once(db: Database, settings: Settings) -> None:
    inbound = InboundMessage(
        channel="kakao",
        contact_kind="kakao",
        contact_value="botuser-1",
        body="카드를 잃어버렸어요",
        customer_name="카카오 고객",
        channel_message_id="kakao-msg-1",
        topic_code="lost_card",
    )
    with db.transaction() as s:
        first = actions.receive_inbound(s, settings, inbound, Actor.customer())
    with db.transaction() as s:
        again = actions.receive_inbound(s, settings, inbound, Actor.customer())
    assert not first.duplicate and again.duplicate
    assert again.message.id == first.message.id
    assert count(db, Message) == 1
    with db.transaction() as s:
        follow = actions.receive_inbound(
            s,
            settings,
            InboundMessage(
                channel="kakao",
                contact_kind="kakao",
                contact_value="botuser-1",
                body="빨리 정지해 주세요",
                channel_message_id="kakao-msg-2",
            ),
            Actor.customer(),
        )
        assert follow.conversation.id == first.conversation.id and not follow.created_conversation


def test_events_are_published_only_after_commit(db: Database, settings: Settings) -> None:
    seen = []
    db.bus._deliver_locally = seen.append  # type: ignore[method-assign]
    with pytest.raises(RuntimeError), db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry())
        raise RuntimeError("rolled back")
    assert seen == []
    with db.transaction() as s:
        actions.create_inquiry(s, settings, inquiry())
        assert seen == []
    kinds = [e.kind for e in seen]
    assert kinds[:2] == ["conversation.created", "message.created"]
    assert "routing.queued" in kinds  # the same transaction put it in its queue


def _agent(db: Database, login: str) -> Agent:
    with db.transaction() as s:
        agent = s.execute(select(Agent).where(Agent.login == login)).scalar_one()
        s.expunge(agent)
        return agent


def test_reply_sets_first_response_and_waits_on_customer(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry())
        pay = s.get(Agent, agents["pay"])
        assert pay is not None
        msg = actions.send_outbound(s, settings, c, pay, f"고객님 카드 {CARD} 확인했습니다", Actor("agent", pay.id))
        assert CARD not in msg.body
        assert c.assignee_id == pay.id and c.status == "waiting_customer" and c.first_response_at is not None
        follow = actions.customer_follow_up(s, settings, c, "감사합니다. 언제 환불되나요?", [], Actor.customer())
        assert follow.sender_kind == "customer" and c.status == "assigned"


def test_agents_cannot_reply_to_conversations_outside_their_skills(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry(topic="lost_card"))
        pay = s.get(Agent, agents["pay"])
        assert pay is not None
        with pytest.raises(Forbidden, match="권한이 없습니다"):
            actions.send_outbound(s, settings, c, pay, "답변", Actor("agent", pay.id))


def test_assign_transfer_and_only_supervisors_move_others_work(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry(topic="other"))
        pay, lost, sup = (s.get(Agent, agents[k]) for k in ("pay", "lost", "super"))
        assert pay and lost and sup
        actions.assign(s, c, pay, pay, Actor("agent", pay.id))
        assert c.status == "assigned" and c.assignee_id == pay.id
        with pytest.raises(Forbidden):
            actions.assign(s, c, lost, lost, Actor("agent", lost.id))
        actions.assign(s, c, lost, sup, Actor("agent", sup.id))
        assert c.assignee_id == lost.id
        kinds = (
            s.execute(select(ConversationActivity.kind).where(ConversationActivity.conversation_id == c.id))
            .scalars()
            .all()
        )
        assert kinds == ["created", "queued", "assigned", "transferred"]


def test_status_lifecycle_resolve_close_reopen(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry())
        sup = s.get(Agent, agents["super"])
        assert sup is not None
        actor = Actor("agent", sup.id)
        actions.change_status(s, c, "resolved", sup, actor)
        assert c.status == "resolved" and c.resolved_at is not None
        actions.change_status(s, c, "closed", sup, actor)
        assert c.status == "closed" and c.closed_at is not None
        with pytest.raises(Conflict):
            actions.send_outbound(s, settings, c, sup, "답변", actor)
        with pytest.raises(Conflict):
            actions.customer_follow_up(s, settings, c, "추가 문의", [], Actor.customer())
        actions.change_status(s, c, "queued", sup, actor)
        assert c.status == "queued" and c.closed_at is None and c.resolved_at is None
        with pytest.raises(InputError):
            actions.change_status(s, c, "exploded", sup, actor)


def test_a_customer_message_reopens_a_resolved_conversation(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry())
        sup = s.get(Agent, agents["super"])
        assert sup is not None
        actions.change_status(s, c, "resolved", sup, Actor("agent", sup.id))
        actions.customer_follow_up(s, settings, c, "아직 해결이 안 됐어요", [], Actor.customer())
        assert c.status == "queued" and c.resolved_at is None


def test_notes_are_masked_and_never_messages(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    with db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry())
        pay = s.get(Agent, agents["pay"])
        assert pay is not None
        note = actions.add_note(s, c, pay, f"고객이 {CARD} 불러줌", Actor("agent", pay.id))
        assert CARD not in note.body
        with pytest.raises(InputError):
            actions.add_note(s, c, pay, "   ", Actor("agent", pay.id))
    assert count(db, Note) == 1
    assert count(db, Message) == 1
