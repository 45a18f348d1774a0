"""The conversation lifecycle kept in step with routing (conversations.actions → routing.lifecycle).

A conversation that needs a person is in its queue in the same transaction that opened, reopened or
unassigned it; resolving or closing frees the agent's slot; assigning, taking by a reply and
transferring by hand move the routing entry with the conversation so capacity is counted.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import delete, select, update

from sangdam.conversations import actions
from sangdam.conversations.schemas import InquiryCreate
from sangdam.core.db import Database
from sangdam.core.events import Event, EventBus
from sangdam.core.settings import Settings
from sangdam.models import Agent, AgentChannelCapacity, Conversation
from sangdam.models.routing import RoutingEntry, RoutingOffer, RoutingQueue, RoutingQueueTopic
from sangdam.privacy.audit import Actor
from sangdam.routing import actions as routing
from sangdam.routing import queries as routing_queries


def inquiry(topic: str = "payment_billing", phone: str = "010-2345-6789") -> InquiryCreate:
    return InquiryCreate(
        name="홍길동",
        phone=phone,
        topic=topic,
        subject="이중 결제",
        body="같은 결제가 두 번 청구됐어요. 확인 부탁드립니다.",
        consent=True,
    )


def file(db: Database, settings: Settings, topic: str = "payment_billing", phone: str = "010-2345-6789") -> int:
    with db.transaction() as s:
        return actions.create_inquiry(s, settings, inquiry(topic, phone)).id


def entry(db: Database, cid: int) -> RoutingEntry | None:
    with db.session() as s:
        return routing_queries.entry_for(s, cid)


def queue_code(db: Database, cid: int) -> str:
    with db.session() as s:
        found = routing_queries.entry_for(s, cid)
        assert found is not None
        queue = s.get(RoutingQueue, found.queue_id)
        assert queue is not None
        return queue.code


def agent(s, agents: dict[str, int], key: str) -> Agent:  # type: ignore[no-untyped-def]
    found = s.get(Agent, agents[key])
    assert found is not None
    return found


def conversation(s, cid: int) -> Conversation:  # type: ignore[no-untyped-def]
    found = s.get(Conversation, cid)
    assert found is not None
    return found


def available(db: Database, *agent_ids: int) -> None:
    with db.transaction() as s:
        for agent_id in agent_ids:
            routing.set_agent_status(s, agent_id, "available")


def dispatch(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as s:
        return [(o.conversation_id, o.agent_id) for o in routing.dispatch(s)]


@pytest.fixture
def events(bus: EventBus, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    published: list[Event] = []
    monkeypatch.setattr(bus, "publish", published.append)
    return published


def test_a_new_inquiry_is_queued_in_its_topics_queue_in_the_same_transaction(
    db: Database, settings: Settings, events: list[Event]
) -> None:
    with pytest.raises(RuntimeError), db.transaction() as s:
        c = actions.create_inquiry(s, settings, inquiry())
        assert routing_queries.entry_for(s, c.id) is not None  # already routed inside the transaction
        raise RuntimeError("rolled back")
    with db.session() as s:
        assert s.execute(select(RoutingEntry)).first() is None
    assert events == []

    cid = file(db, settings)
    found = entry(db, cid)
    assert found is not None and found.state == "waiting" and found.agent_id is None
    assert queue_code(db, cid) == "payment_billing"
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["conversation.created", "message.created"] and "routing.queued" in kinds
    queued = next(e for e in events if e.kind == "routing.queued")
    assert queued.data["queue"] == "payment_billing" and queued.conversation_id == cid


def test_lost_card_inquiries_jump_the_line(db: Database, settings: Settings) -> None:
    pay = file(db, settings)
    lost = file(db, settings, topic="lost_card", phone="010-3456-7890")
    pay_entry, lost_entry = entry(db, pay), entry(db, lost)
    assert pay_entry is not None and lost_entry is not None
    assert lost_entry.priority > 1000 > pay_entry.priority
    with db.session() as s:
        assert conversation(s, lost).priority == lost_entry.priority


def test_without_any_queue_an_inquiry_is_still_filed_unrouted(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with db.transaction() as s:
        s.execute(delete(RoutingQueueTopic))
        s.execute(delete(RoutingQueue))
    with caplog.at_level(logging.WARNING, logger="sangdam.routing.lifecycle"):
        cid = file(db, settings)
    assert entry(db, cid) is None
    with db.session() as s:
        assert conversation(s, cid).status == "queued"
    assert any("not routed" in r.getMessage() for r in caplog.records)


def test_resolving_and_closing_free_the_agents_slot(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    with db.transaction() as s:
        s.execute(
            update(AgentChannelCapacity)
            .where(AgentChannelCapacity.agent_id == agents["pay"], AgentChannelCapacity.channel == "form")
            .values(capacity=1)
        )
    first = file(db, settings)
    second = file(db, settings, phone="010-3456-7890")
    available(db, agents["pay"])
    assert dispatch(db) == [(first, agents["pay"])]
    with db.transaction() as s:
        routing.accept_offer(s, first, agents["pay"])
    assert dispatch(db) == []  # pay's one form slot is taken
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        actions.change_status(s, conversation(s, first), "resolved", pay, Actor("agent", pay.id))
    assert entry(db, first) is None
    assert dispatch(db) == [(second, agents["pay"])]
    with db.transaction() as s:
        routing.accept_offer(s, second, agents["pay"])
        pay = agent(s, agents, "pay")
        actions.change_status(s, conversation(s, second), "closed", pay, Actor("agent", pay.id))
    assert entry(db, second) is None


def test_a_pending_offer_is_withdrawn_when_the_conversation_is_closed(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    cid = file(db, settings)
    available(db, agents["pay"])
    assert dispatch(db) == [(cid, agents["pay"])]
    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.change_status(s, conversation(s, cid), "closed", sup, Actor("agent", sup.id))
    assert entry(db, cid) is None
    with db.session() as s:
        assert s.execute(select(RoutingOffer.outcome)).scalar_one() == "withdrawn"
        assert routing_queries.pending_offers(s, agents["pay"]) == []


def test_reopening_queues_again_or_goes_back_to_its_agent(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    # Resolved without an agent; the customer writes again: back in the queue.
    cid = file(db, settings)
    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.change_status(s, conversation(s, cid), "resolved", sup, Actor("agent", sup.id))
    assert entry(db, cid) is None
    with db.transaction() as s:
        actions.customer_follow_up(s, settings, conversation(s, cid), "아직 해결이 안 됐어요", [], Actor.customer())
    reopened = entry(db, cid)
    assert reopened is not None and reopened.state == "waiting"

    # Worked by pay and resolved; the customer writes again: back with pay, on pay's capacity.
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        c = conversation(s, cid)
        actions.send_outbound(s, settings, c, pay, "확인해 보겠습니다.", Actor("agent", pay.id))
        actions.change_status(s, c, "resolved", pay, Actor("agent", pay.id))
    assert entry(db, cid) is None
    with db.transaction() as s:
        actions.customer_follow_up(s, settings, conversation(s, cid), "한 번 더 여쭤볼게요", [], Actor.customer())
        assert conversation(s, cid).status == "assigned"
    back = entry(db, cid)
    assert back is not None and back.state == "assigned" and back.agent_id == agents["pay"]

    # An agent closes it and reopens it (다시 열기): it comes back to its agent, on their capacity.
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        c = conversation(s, cid)
        actions.change_status(s, c, "closed", pay, Actor("agent", pay.id))
        assert routing_queries.entry_for(s, cid) is None
        actions.change_status(s, c, "queued", pay, Actor("agent", pay.id))
        assert c.status == "assigned"
    again = entry(db, cid)
    assert again is not None and again.state == "assigned" and again.agent_id == agents["pay"]


def test_manual_assignment_transfer_and_unassignment_move_the_entry(
    db: Database, settings: Settings, agents: dict[str, int], events: list[Event]
) -> None:
    cid = file(db, settings, topic="other")
    enqueued_at = entry(db, cid).enqueued_at  # type: ignore[union-attr]
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        actions.assign(s, conversation(s, cid), pay, pay, Actor("agent", pay.id))
    taken = entry(db, cid)
    assert taken is not None and taken.state == "assigned" and taken.agent_id == agents["pay"]
    assigned = [e for e in events if e.kind == "routing.assigned"]
    assert assigned and assigned[-1].data["agent_id"] == agents["pay"]

    with db.transaction() as s:
        sup, lost = agent(s, agents, "super"), agent(s, agents, "lost")
        actions.assign(s, conversation(s, cid), lost, sup, Actor("agent", sup.id))
    moved = entry(db, cid)
    assert moved is not None and moved.state == "assigned" and moved.agent_id == agents["lost"]
    transfer = [e for e in events if e.kind == "routing.assigned"][-1]
    assert transfer.data["agent_id"] == agents["lost"] and transfer.data["from_agent_id"] == agents["pay"]

    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.assign(s, conversation(s, cid), None, sup, Actor("agent", sup.id))
        assert conversation(s, cid).status == "queued"
    back = entry(db, cid)
    assert back is not None and back.state == "waiting" and back.agent_id is None
    assert back.enqueued_at == enqueued_at  # keeps its place in the line
    assert str(agents["lost"]) in back.skipped  # not offered straight back to who had it
    requeued = [e for e in events if e.kind == "routing.requeued"][-1]
    assert requeued.data["from_agent_id"] == agents["lost"]


def test_manual_assignment_counts_against_capacity(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    with db.transaction() as s:
        s.execute(
            update(AgentChannelCapacity)
            .where(AgentChannelCapacity.agent_id == agents["pay"], AgentChannelCapacity.channel == "form")
            .values(capacity=1)
        )
    mine = file(db, settings)
    other = file(db, settings, phone="010-3456-7890")
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        actions.assign(s, conversation(s, mine), pay, pay, Actor("agent", pay.id))
    available(db, agents["pay"])
    assert dispatch(db) == []  # full
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        actions.change_status(s, conversation(s, mine), "resolved", pay, Actor("agent", pay.id))
    assert dispatch(db) == [(other, agents["pay"])]


def test_taking_a_ringing_conversation_by_hand_accepts_or_withdraws_the_offer(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    first = file(db, settings)
    available(db, agents["pay"])
    assert dispatch(db) == [(first, agents["pay"])]
    with db.transaction() as s:  # pay answers by taking it from the conversation view
        pay = agent(s, agents, "pay")
        actions.assign(s, conversation(s, first), pay, pay, Actor("agent", pay.id))
    with db.session() as s:
        assert s.execute(select(RoutingOffer.outcome).where(RoutingOffer.conversation_id == first)).scalar_one() == (
            "accepted"
        )

    second = file(db, settings, phone="010-3456-7890")
    assert dispatch(db) == [(second, agents["pay"])]
    with db.transaction() as s:  # while it rings at pay, a supervisor gives it to someone else
        sup, lost = agent(s, agents, "super"), agent(s, agents, "lost")
        actions.assign(s, conversation(s, second), lost, sup, Actor("agent", sup.id))
    with db.session() as s:
        outcome = s.execute(select(RoutingOffer.outcome).where(RoutingOffer.conversation_id == second)).scalar_one()
        assert outcome == "withdrawn"
        assert routing_queries.pending_offers(s, agents["pay"]) == []
    taken = entry(db, second)
    assert taken is not None and taken.state == "assigned" and taken.agent_id == agents["lost"]


def test_replying_to_a_waiting_conversation_takes_it(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    cid = file(db, settings)
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        actions.send_outbound(s, settings, conversation(s, cid), pay, "확인해 드리겠습니다.", Actor("agent", pay.id))
    taken = entry(db, cid)
    assert taken is not None and taken.state == "assigned" and taken.agent_id == agents["pay"]


def test_sending_back_to_the_queue_by_status(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    cid = file(db, settings)
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        c = conversation(s, cid)
        actions.assign(s, c, pay, pay, Actor("agent", pay.id))
        actions.change_status(s, c, "queued", pay, Actor("agent", pay.id))
    back = entry(db, cid)
    assert back is not None and back.state == "waiting" and back.agent_id is None


def test_a_topic_change_moves_a_waiting_conversation_to_its_new_queue(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    cid = file(db, settings)
    before = entry(db, cid)
    assert before is not None
    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.change_topic(s, conversation(s, cid), "lost_card", sup, Actor("agent", sup.id))
    after = entry(db, cid)
    assert after is not None and queue_code(db, cid) == "lost_card"
    assert after.enqueued_at == before.enqueued_at and after.priority > 1000

    # An offer for the old topic is withdrawn; the new topic's agent gets it.
    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.change_topic(s, conversation(s, cid), "payment_billing", sup, Actor("agent", sup.id))
    available(db, agents["pay"], agents["lost"])
    assert dispatch(db) == [(cid, agents["pay"])]
    with db.transaction() as s:
        sup = agent(s, agents, "super")
        actions.change_topic(s, conversation(s, cid), "lost_card", sup, Actor("agent", sup.id))
    assert dispatch(db) == [(cid, agents["lost"])]


def test_an_escalated_conversation_stays_with_the_supervisors_on_a_topic_change(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    cid = file(db, settings)
    with db.transaction() as s:
        pay = agent(s, agents, "pay")
        c = conversation(s, cid)
        actions.assign(s, c, pay, pay, Actor("agent", pay.id))
        routing.escalate_to_supervisor(s, c, pay)
        sup = agent(s, agents, "super")
        actions.change_topic(s, c, "points_benefits", sup, Actor("agent", sup.id))
    assert queue_code(db, cid) == "supervisor"
