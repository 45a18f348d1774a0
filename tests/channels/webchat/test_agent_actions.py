"""channels.webchat.agent_actions: the agent's side of chat, on SQLite and PostgreSQL.

Canned responses with variables, offers within the chat capacity, replies with files, read
markers and typing, transfer to an agent or a queue, escalation, and close with a summary.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sangdam.channels.webchat import agent_actions as chat
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.core.db import Database
from sangdam.core.errors import Conflict, Forbidden, InputError
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.models import Attachment, Conversation, Message, Note
from sangdam.models.chat import ChatConversation
from sangdam.models.routing import EntryState, RoutingEntry, RoutingQueue
from sangdam.routing import actions as routing
from sangdam.routing import queries as routing_queries
from tests.channels.webchat.agent_helpers import (
    actor,
    agent,
    dispatch,
    held_chat,
    make_agent,
    queued_chat,
    tiny_png,
)


@pytest.fixture
def events(bus: EventBus, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    published: list[Event] = []
    monkeypatch.setattr(bus, "publish", published.append)
    return published


def entry_of(db: Database, cid: int) -> RoutingEntry | None:
    with db.session() as session:
        return routing_queries.entry_for(session, cid)


# ---------------------------------------------------------------------------- 상용구


def test_render_fills_the_three_variables_and_leaves_other_braces() -> None:
    text = "{고객명}님, 접수번호 {접수번호}로 {상담원명}이 확인했습니다. {모름} {}"
    out = chat.render(text, customer_name="김하나", receipt_number="20261122-000001", agent_name="정하은")
    assert out == "김하나님, 접수번호 20261122-000001로 정하은이 확인했습니다. {모름} {}"


def test_canned_responses_crud_topic_filter_and_permissions(db: Database) -> None:
    with db.transaction() as s:
        author = make_agent(s, "author")
        other = make_agent(s, "other")
        lead = make_agent(s, "lead", role="supervisor", rank="lead")
        greeting = chat.create_canned(
            s, agent(s, author), chat.CannedInput(title="첫 인사", body="안녕하세요 {고객명}님"), actor(author)
        )
        lost = chat.create_canned(
            s,
            agent(s, author),
            chat.CannedInput(title="분실 안내", body="분실신고가 접수되었습니다.", topic_code="lost_card"),
            actor(author),
        )
        greeting_id, lost_id = greeting.id, lost.id
    cid = queued_chat(db)
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        titles = [r.title for r in chat.list_canned(s, conversation)]
        assert titles == ["첫 인사"]  # the lost-card one is for another topic
        assert {r.id for r in chat.list_canned(s)} == {greeting_id, lost_id}
        with pytest.raises(Forbidden):
            chat.update_canned(s, agent(s, other), greeting_id, chat.CannedInput(title="x", body="y"), actor(other))
    with db.transaction() as s:
        chat.update_canned(
            s, agent(s, lead), greeting_id, chat.CannedInput(title="인사", body="{상담원명}입니다"), actor(lead)
        )
        chat.deactivate_canned(s, agent(s, author), lost_id, actor(author))
    with db.session() as s:
        assert [(r.title, r.body) for r in chat.list_canned(s)] == [("인사", "{상담원명}입니다")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{고객님} 안녕하세요", "알 수 없는 변수입니다: {고객님}"),
        ("카드번호 4111-1111-1111-1111로 확인", "민감정보"),
        ("   ", "상용구 내용을 입력해 주세요"),
    ],
)
def test_canned_response_refusals(db: Database, body: str, message: str) -> None:
    with db.transaction() as s:
        author = make_agent(s, "author")
        with pytest.raises(InputError) as caught:
            chat.create_canned(s, agent(s, author), chat.CannedInput(title="t", body=body), actor(author))
    assert message in caught.value.message


def test_render_canned_for_a_chat(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me", name="정하은")
        canned_id = chat.create_canned(
            s,
            agent(s, me),
            chat.CannedInput(title="확인", body="{고객명}님, 접수번호 {접수번호} 확인했습니다. 상담원 {상담원명}"),
            actor(me),
        ).id
    cid = queued_chat(db, customer="박고객")
    with db.session() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        text = chat.render_canned(s, canned_id, conversation, agent(s, me))
    assert text == f"박고객님, 접수번호 {conversation.receipt_number} 확인했습니다. 상담원 정하은"


# ---------------------------------------------------------------------------- capacity, offers


def test_an_agent_holds_chats_up_to_their_chat_capacity(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me", chat_capacity=2)
    chats = [queued_chat(db) for _ in range(3)]
    offered = dispatch(db)
    assert [cid for cid, _ in offered] == chats[:2]  # two slots: the first two, in queue order
    assert dispatch(db) == []  # full: offers count against the capacity too
    with db.transaction() as s:
        for cid in chats[:2]:
            chat.accept(s, agent(s, me), cid)
        assert [c.id for c in chat.my_chats(s, agent(s, me))] == chats[:2]
        assert chat.chat_load(s, me) == 2
    assert dispatch(db) == []
    assert entry_of(db, chats[2]).state == EntryState.WAITING  # type: ignore[union-attr]
    with db.transaction() as s:
        conversation = s.get(Conversation, chats[0])
        assert conversation is not None
        chat.close(s, conversation, agent(s, me), "이중 결제 취소 안내 완료", actor(me))
    assert dispatch(db) == [(chats[2], me)]  # a slot freed: the third is offered


def test_offered_chat_shows_to_its_agent_even_without_the_topic_skill(db: Database) -> None:
    """An overflow offer may reach an agent of a related skill: they must see the transcript first."""
    with db.transaction() as s:
        me = make_agent(s, "me", skills={"limit_approval": 3})
        stranger = make_agent(s, "stranger", skills={"lost_card": 3}, status="offline")
    cid = queued_chat(db)
    with db.transaction() as s:
        entry = routing_queries.entry_for(s, cid)
        assert entry is not None
        entry.state, entry.agent_id = EntryState.OFFERED, me  # as dispatch does after overflow
    with db.transaction() as s:
        conversation = chat.open_chat(s, agent(s, me), cid, actor(me))
        assert [o.conversation.id for o in chat.my_offers(s, agent(s, me))] == [cid]
        assert conversation.topic is not None and conversation.topic.code == "payment_billing"
    with pytest.raises(Forbidden), db.transaction() as s:
        chat.open_chat(s, agent(s, stranger), cid, actor(stranger))


def test_reject_puts_the_chat_back_and_skips_the_agent(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = queued_chat(db)
    assert dispatch(db) == [(cid, me)]
    with db.transaction() as s:
        chat.reject(s, agent(s, me), cid)
    assert entry_of(db, cid).state == EntryState.WAITING  # type: ignore[union-attr]
    assert dispatch(db) == []  # not offered again to the same agent at once


# ---------------------------------------------------------------------------- messages, reads, typing


def test_reply_with_a_file_marks_read_and_reaches_the_bus(
    db: Database, settings: Settings, events: list[Event]
) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    events.clear()
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        message = chat.reply(
            s,
            settings,
            conversation,
            agent(s, me),
            "확인했습니다. 카드번호 4111-1111-1111-1111는 가려집니다.",
            actor(me),
            [AttachmentUpload("안내.png", tiny_png(), "image/png")],
        )
        message_id = message.id
    with db.session() as s:
        stored = s.get(Message, message_id)
        assert stored is not None and stored.sender_kind == "agent" and "4111-1111-1111-1111" not in stored.body
        files = s.execute(select(Attachment).where(Attachment.message_id == message_id)).scalars().all()
        assert [(f.filename, f.content_type) for f in files] == [("안내.png", "image/png")]
        marker = s.get(ChatConversation, cid)
        assert marker is not None and marker.agent_last_read_message_id == message_id
    kinds = [e.kind for e in events]
    assert "message.created" in kinds and "chat.read" in kinds
    read = next(e for e in events if e.kind == "chat.read")
    assert read.data["side"] == "agent" and read.data["message_id"] == message_id and read.data["agent_id"] == me


def test_reply_refuses_a_file_that_is_not_what_it_claims(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    with pytest.raises(InputError) as caught, db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.reply(
            s, settings, conversation, agent(s, me), "첨부", actor(me), [AttachmentUpload("x.png", b"MZ\x90\x00")]
        )
    assert "올릴 수 없는 형식" in caught.value.message
    with db.session() as s:
        assert s.execute(select(Message).where(Message.sender_kind == "agent")).first() is None


def test_only_the_holder_replies(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
        other = make_agent(s, "other", status="offline")
    cid = held_chat(db, me)
    with pytest.raises(Forbidden), db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.reply(s, settings, conversation, agent(s, other), "제가 할게요", actor(other))


def test_read_markers_move_forward_only(db: Database, events: list[Event]) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    with db.session() as s:
        ids = list(s.execute(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)).scalars())
    events.clear()
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        assert chat.mark_read(s, conversation, agent(s, me), ids[-1]) == ids[-1]
        assert chat.mark_read(s, conversation, agent(s, me), ids[0]) == ids[-1]
    assert [e.data["message_id"] for e in events if e.kind == "chat.read"] == [ids[-1]]


def test_typing_goes_to_the_bus_only_for_the_holder(db: Database, events: list[Event], bus: EventBus) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
        other = make_agent(s, "other", status="offline")
    cid = held_chat(db, me)
    events.clear()
    with db.session() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.publish_typing(bus, conversation, agent(s, me), True)
        chat.publish_typing(bus, conversation, agent(s, other), True)
    typing = [e for e in events if e.kind == "chat.typing"]
    assert len(typing) == 1
    assert typing[0].data == {**typing[0].data, "side": "agent", "typing": True, "agent_id": me, "conversation_id": cid}


# ---------------------------------------------------------------------------- transfer, escalate, close


def test_transfer_to_an_agent_with_a_free_slot(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
        colleague = make_agent(s, "colleague", chat_capacity=1, status="break", name="최이관")
    cid = held_chat(db, me)
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.transfer_to_agent(s, conversation, agent(s, me), colleague, actor(me), note="한도 문의로 넘깁니다")
    entry = entry_of(db, cid)
    assert entry is not None and entry.state == EntryState.ASSIGNED and entry.agent_id == colleague
    with db.session() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.assignee_id == colleague
        assert chat.chat_load(s, me) == 0 and chat.chat_load(s, colleague) == 1
        last = s.execute(select(Message).where(Message.conversation_id == cid).order_by(Message.id.desc())).scalar()
        assert last is not None and last.sender_kind == "system" and "최이관 상담원이 이어서" in last.body
        notes = [n.body for n in s.execute(select(Note).where(Note.conversation_id == cid)).scalars()]
        assert notes == ["[이관 메모] 한도 문의로 넘깁니다"]


def test_transfer_to_an_agent_refused_when_full_or_offline(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me", chat_capacity=3)
        full = make_agent(s, "full", chat_capacity=1, skills={"lost_card": 3})
        away = make_agent(s, "away", status="offline")
    held_chat(db, full, topic="lost_card")
    cid = held_chat(db, me)
    with pytest.raises(Conflict) as caught, db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.transfer_to_agent(s, conversation, agent(s, me), full, actor(me))
    assert caught.value.code == "capacity_full" and "가득 찼습니다" in caught.value.message
    with pytest.raises(Conflict) as caught, db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.transfer_to_agent(s, conversation, agent(s, me), away, actor(me))
    assert caught.value.code == "agent_offline"
    assert entry_of(db, cid).agent_id == me  # type: ignore[union-attr]


def test_transfer_to_a_queue_keeps_the_place_and_never_comes_back(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me", skills={"payment_billing": 4, "limit_approval": 4})
    cid = held_chat(db, me)
    before = entry_of(db, cid)
    assert before is not None
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.transfer_to_queue(s, conversation, agent(s, me), "limit_approval", actor(me), note="한도 상향 건")
    after = entry_of(db, cid)
    with db.session() as s:
        queue = s.execute(select(RoutingQueue).where(RoutingQueue.code == "limit_approval")).scalar_one()
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.status == "queued" and conversation.assignee_id is None
        assert chat.my_chats(s, agent(s, me)) == []
    assert after is not None and after.queue_id == queue.id and after.state == EntryState.WAITING
    assert after.enqueued_at == before.enqueued_at
    assert after.skipped.get(str(me), "absent") is None  # for good
    assert dispatch(db) == []  # the agent who sent it away is not offered it back


def test_escalate_to_supervisor_with_reason(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
        make_agent(s, "lead", role="supervisor", rank="lead", status="offline")
    cid = held_chat(db, me)
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.escalate(s, conversation, agent(s, me), "고객이 책임자 연결 요청", actor(me))
    entry = entry_of(db, cid)
    with db.session() as s:
        queue = s.get(RoutingQueue, entry.queue_id)  # type: ignore[union-attr]
        notes = [n.body for n in s.execute(select(Note).where(Note.conversation_id == cid)).scalars()]
    assert queue is not None and queue.is_supervisor_queue and entry.escalated  # type: ignore[union-attr]
    assert notes == ["[상급자 연결 사유] 고객이 책임자 연결 요청"]


def test_close_needs_a_summary_and_frees_the_slot(db: Database, events: list[Event]) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
    cid = held_chat(db, me)
    with pytest.raises(InputError), db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.close(s, conversation, agent(s, me), " ", actor(me))
    events.clear()
    with db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.close(s, conversation, agent(s, me), "이중 결제 건, 승인 취소 안내", actor(me))
    with db.session() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None and conversation.status == "closed" and conversation.closed_at is not None
        notes = [n.body for n in s.execute(select(Note).where(Note.conversation_id == cid)).scalars()]
        assert notes == ["[상담 요약] 이중 결제 건, 승인 취소 안내"]
        assert chat.chat_load(s, me) == 0
    assert entry_of(db, cid) is None
    assert any(e.kind == "conversation.updated" and e.data["status"] == "closed" for e in events)
    assert any(e.kind == "routing.released" for e in events)
    with pytest.raises(Conflict), db.transaction() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        chat.close(s, conversation, agent(s, me), "다시", actor(me))


def test_transfer_targets_show_load_and_capacity(db: Database) -> None:
    with db.transaction() as s:
        me = make_agent(s, "me")
        make_agent(s, "b", chat_capacity=3, skills={"lost_card": 2})
        make_agent(s, "gone", status="offline")
    with db.session() as s:
        rows = [(a.login, held, cap) for a, held, cap in chat.transfer_targets(s, agent(s, me))]
        assert rows == [("b", 0, 3)]
        codes = {q.code for q in chat.transfer_queues(s)}
    assert "payment_billing" in codes and "supervisor" not in codes


def test_routing_entry_counts_match_for_a_transfer_chain(db: Database) -> None:
    """A chat passed along keeps exactly one routing entry, always counted for its holder."""
    with db.transaction() as s:
        a = make_agent(s, "a")
        b = make_agent(s, "b", status="break")
        c = make_agent(s, "c", status="break")
    cid = held_chat(db, a)
    for by, to in ((a, b), (b, c)):
        with db.transaction() as s:
            conversation = s.get(Conversation, cid)
            assert conversation is not None
            chat.transfer_to_agent(s, conversation, agent(s, by), to, actor(by))
    with db.session() as s:
        assert [chat.chat_load(s, x) for x in (a, b, c)] == [0, 0, 1]
        assert s.execute(select(RoutingEntry).where(RoutingEntry.conversation_id == cid)).scalars().all()
    with db.transaction() as s:
        routing.set_agent_status(s, c, "offline")
    assert entry_of(db, cid).state == EntryState.WAITING  # type: ignore[union-attr]
