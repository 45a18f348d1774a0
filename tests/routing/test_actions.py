"""The persisted routing service: the database is the truth, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sangdam.conversations.taxonomy import seed_taxonomy
from sangdam.core import migrate
from sangdam.core.db import Database
from sangdam.core.errors import Conflict
from sangdam.core.events import Event, EventBus
from sangdam.models import (
    Agent,
    AgentChannelCapacity,
    AgentSkill,
    Conversation,
    ConversationActivity,
    Customer,
    Skill,
    Topic,
)
from sangdam.models.routing import EntryState, RoutingEntry, RoutingOffer, RoutingQueue
from sangdam.routing import actions, queries
from tests.conftest import POSTGRES_URL, drop_postgres_database, make_postgres_database, needs_postgres

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 10:00 in Seoul


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_agent(
    session: Session,
    login: str,
    skills: dict[str, int],
    capacity: dict[str, int] | None = None,
    rank: str = "agent",
    status: str = "available",
) -> int:
    skill_ids = {s.code: s.id for s in session.execute(select(Skill)).scalars()}
    agent = Agent(login=login, name=login, password_hash="-", rank=rank, status=status, status_changed_at=T0)
    agent.skills = [AgentSkill(skill_id=skill_ids[code], level=level) for code, level in skills.items()]
    agent.capacities = [AgentChannelCapacity(channel=ch, capacity=n) for ch, n in (capacity or {"webchat": 1}).items()]
    session.add(agent)
    session.flush()
    return agent.id


def make_conversation(session: Session, topic: str, tier: str = "general", channel: str = "webchat") -> int:
    topic_id = session.execute(select(Topic.id).where(Topic.code == topic)).scalar_one()
    customer = Customer(name="고객", tier=tier)
    conversation = Conversation(
        receipt_number=f"T-{uuid.uuid4().hex[:12]}",
        customer=customer,
        channel=channel,
        topic_id=topic_id,
        status="bot",
    )
    session.add(conversation)
    session.flush()
    return conversation.id


def enqueue(db: Database, topic: str, when: float, tier: str = "general", channel: str = "webchat") -> int:
    with db.transaction() as session:
        cid = make_conversation(session, topic, tier, channel)
        actions.enqueue(session, session.get(Conversation, cid), now=at(when))  # type: ignore[arg-type]
        return cid


def dispatch(db: Database, when: float) -> list[tuple[int, int]]:
    with db.transaction() as session:
        return [(o.conversation_id, o.agent_id) for o in actions.dispatch(session, now=at(when))]


def entry(db: Database, cid: int) -> RoutingEntry:
    with db.session() as session:
        found = queries.entry_for(session, cid)
        assert found is not None
        return found


@pytest.fixture
def routed(db: Database) -> Database:
    with db.transaction() as session:
        actions.seed_queues(session)
    return db


@pytest.fixture
def events(bus: EventBus, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    published: list[Event] = []
    monkeypatch.setattr(bus, "publish", published.append)
    return published


def test_seeded_queues(routed: Database) -> None:
    with routed.session() as session:
        queues = {q.code: q for q in session.execute(select(RoutingQueue)).scalars()}
        assert "lost_card" in queues and "payment_billing" in queues
        supervisor = queues["supervisor"]
        assert supervisor.is_supervisor_queue and supervisor.min_rank == "senior"
        assert queues["other"].is_default
        pay = queues["payment_billing"]
        assert len(pay.required_skill_ids) == 1 and len(pay.secondary_skill_ids) == 2
        assert pay.overflow_after_s == 60
        assert actions.seed_queues(session) == 0


def test_priority_order_lost_card_and_fraud_first_then_tier(routed: Database, events: list[Event]) -> None:
    with routed.transaction() as session:
        skills = {"payment_billing": 3, "lost_card": 3, "fraud_security": 3}
        make_agent(session, "all", skills, {"webchat": 1}, status="offline")
    pay_general = enqueue(routed, "payment_billing", 0)
    pay_vip = enqueue(routed, "payment_billing", 5, tier="vip")
    fraud = enqueue(routed, "fraud_security", 10)
    lost = enqueue(routed, "lost_card", 20)
    prio = {cid: entry(routed, cid).priority for cid in (pay_general, pay_vip, fraud, lost)}
    assert prio[lost] > prio[fraud] > prio[pay_vip] > prio[pay_general]
    assert prio[fraud] > 1000 > prio[pay_vip] == 65
    with routed.session() as session:
        assert queries.position(session, pay_vip) == 1  # first in its own queue
        assert queries.position(session, pay_general) == 2
        conversation = session.get(Conversation, lost)
        assert conversation is not None and conversation.status == "queued"
        assert conversation.priority == prio[lost]
    assert [e.kind for e in events].count("routing.queued") == 4

    with routed.transaction() as session:
        agent_id = session.execute(select(Agent.id)).scalar_one()
        actions.set_agent_status(session, agent_id, "available", now=at(30))
    order = []
    for step in range(4):
        (offer,) = dispatch(routed, 31 + step)
        order.append(offer[0])
        with routed.transaction() as session:
            actions.accept_offer(session, offer[0], offer[1], now=at(31 + step))
            actions.release(session, offer[0], now=at(31 + step))
    assert order == [lost, fraud, pay_vip, pay_general]


def test_best_level_then_longest_idle_and_accept(routed: Database, events: list[Event]) -> None:
    with routed.transaction() as session:
        junior = make_agent(session, "junior", {"payment_billing": 2})
        expert = make_agent(session, "expert", {"payment_billing": 5})
        other = make_agent(session, "other", {"points_benefits": 5})
    first = enqueue(routed, "payment_billing", 0)
    second = enqueue(routed, "payment_billing", 1)
    third = enqueue(routed, "payment_billing", 2)
    assert dispatch(routed, 10) == [(first, expert), (second, junior)]
    with routed.session() as session:
        assert queries.position(session, first) == 0
        assert queries.position(session, third) == 1
        assert [e.conversation_id for e in queries.pending_offers(session, expert)] == [first]
    with routed.transaction() as session:
        actions.accept_offer(session, first, expert, now=at(12))
    with routed.session() as session:
        conversation = session.get(Conversation, first)
        assert conversation is not None and (conversation.status, conversation.assignee_id) == (
            "assigned",
            expert,
        )
        assert queries.position(session, first) is None
        offer = session.execute(select(RoutingOffer).where(RoutingOffer.conversation_id == first)).scalar_one()
        assert (offer.outcome, offer.level, offer.waited_s) == ("accepted", 5, 10.0)
    kinds = [e.kind for e in events]
    assert kinds.count("routing.offered") == 2 and "routing.assigned" in kinds
    assert other  # never offered: no payment skill
    with routed.transaction() as session, pytest.raises(Conflict):
        actions.accept_offer(session, third, other, now=at(13))


def test_capacity_is_respected_and_release_frees_a_slot(routed: Database) -> None:
    with routed.transaction() as session:
        agent_id = make_agent(session, "chat", {"payment_billing": 3}, {"webchat": 2, "voice": 1})
    chats = [enqueue(routed, "payment_billing", i) for i in range(3)]
    call = enqueue(routed, "payment_billing", 3, channel="voice")
    email = enqueue(routed, "payment_billing", 4, channel="email")
    offers = dispatch(routed, 10)
    assert sorted(offers) == sorted([(chats[0], agent_id), (chats[1], agent_id), (call, agent_id)])
    with routed.transaction() as session:
        for cid, _ in offers:
            actions.accept_offer(session, cid, agent_id, now=at(11))
    assert dispatch(routed, 12) == []
    with routed.transaction() as session:
        assert actions.release(session, chats[0], now=at(20))
        assert not actions.release(session, chats[0], now=at(20))
    assert dispatch(routed, 21) == [(chats[2], agent_id)]
    assert entry(routed, email).state == EntryState.WAITING


def test_offer_timeout_moves_on_and_keeps_the_place(routed: Database) -> None:
    with routed.transaction() as session:
        slow = make_agent(session, "slow", {"payment_billing": 5})
        quick = make_agent(session, "quick", {"payment_billing": 2}, status="break")
    first = enqueue(routed, "payment_billing", 0)
    assert dispatch(routed, 1) == [(first, slow)]
    assert entry(routed, first).offer_expires_at == at(21)
    with routed.transaction() as session:
        assert actions.expire_offers(session, now=at(20)) == []
        assert actions.expire_offers(session, now=at(21)) == [first]
    second = enqueue(routed, "payment_billing", 22)
    with routed.session() as session:
        assert queries.position(session, first) == 1
        assert queries.position(session, second) == 2
    assert dispatch(routed, 23) == [(second, slow)]  # slow is skipped for the first conversation
    with routed.transaction() as session:
        actions.set_agent_status(session, quick, "available", now=at(24))
    assert dispatch(routed, 24) == [(first, quick)]
    with routed.transaction() as session, pytest.raises(Conflict) as excinfo:
        actions.accept_offer(session, second, slow, now=at(44))
    assert excinfo.value.code == "offer_expired"
    with routed.session() as session:
        outcomes = session.execute(
            select(RoutingOffer.agent_id, RoutingOffer.outcome)
            .where(RoutingOffer.conversation_id == first)
            .order_by(RoutingOffer.id)
        ).all()
        assert [tuple(o) for o in outcomes] == [(slow, "expired"), (quick, "pending")]


def test_rejection_requeues_in_place_and_skips_the_agent(routed: Database) -> None:
    with routed.transaction() as session:
        a = make_agent(session, "a", {"payment_billing": 5})
    first = enqueue(routed, "payment_billing", 0)
    second = enqueue(routed, "payment_billing", 1)
    assert dispatch(routed, 2) == [(first, a)]
    with routed.transaction() as session:
        actions.reject_offer(session, first, a, now=at(3))
        with pytest.raises(Conflict):
            actions.reject_offer(session, first, a, now=at(3))
    rejected = entry(routed, first)
    assert rejected.state == EntryState.WAITING and rejected.enqueued_at == at(0)
    assert rejected.skipped == {str(a): pytest.approx(at(3).timestamp() + actions.SKIP_FOR_S)}
    assert dispatch(routed, 4) == [(second, a)]
    with routed.transaction() as session:
        actions.reject_offer(session, second, a, now=at(5))
    assert dispatch(routed, 6) == []
    assert dispatch(routed, 3 + actions.SKIP_FOR_S + 1) == [(first, a)]


def test_overflow_to_secondary_skills(routed: Database) -> None:
    with routed.transaction() as session:
        helper = make_agent(session, "limits", {"limit_approval": 4})
    cid = enqueue(routed, "payment_billing", 0)
    assert dispatch(routed, 59) == []
    assert dispatch(routed, 60) == [(cid, helper)]
    with routed.session() as session:
        offer = session.execute(select(RoutingOffer)).scalar_one()
        assert offer.via_overflow and offer.level == 4


def test_break_withdraws_offers_and_offline_requeues_assigned(routed: Database, events: list[Event]) -> None:
    with routed.transaction() as session:
        a = make_agent(session, "a", {"payment_billing": 3}, {"webchat": 2})
    first = enqueue(routed, "payment_billing", 0)
    second = enqueue(routed, "payment_billing", 1)
    dispatch(routed, 2)
    with routed.transaction() as session:
        actions.accept_offer(session, first, a, now=at(3))
        assert actions.set_agent_status(session, a, "break", now=at(4)) == [second]
    assert entry(routed, first).state == EntryState.ASSIGNED
    assert entry(routed, second).state == EntryState.WAITING
    with routed.transaction() as session:
        assert actions.agent_went_offline(session, a, now=at(5)) == [first]
        assert actions.set_agent_status(session, a, "offline", now=at(6)) == []
    with routed.session() as session:
        conversation = session.get(Conversation, first)
        assert conversation is not None and (conversation.status, conversation.assignee_id) == (
            "queued",
            None,
        )
        assert queries.position(session, first) == 1  # its original place
        assert queries.position(session, second) == 2
        assert session.get(Agent, a).status == "offline"  # type: ignore[union-attr]
        assert queries.waiting_counts(session)["payment_billing"] == 2
    statuses = [e.data["status"] for e in events if e.kind == "agent.status"]
    assert statuses == ["break", "offline"]


def test_supervisor_escalation_by_agent_and_by_customer(routed: Database, events: list[Event]) -> None:
    with routed.transaction() as session:
        senior = make_agent(session, "senior", {"payment_billing": 4}, {"webchat": 2}, rank="senior")
        lead = make_agent(session, "lead", {}, {"webchat": 2}, rank="lead", status="offline")
    cid = enqueue(routed, "payment_billing", 0)
    assert dispatch(routed, 1) == [(cid, senior)]
    with routed.transaction() as session:
        actions.accept_offer(session, cid, senior, now=at(2))
        conversation = session.get(Conversation, cid)
        assert conversation is not None
        asking = session.get(Agent, senior)
        escalated = actions.escalate_to_supervisor(session, conversation, asking, now=at(30), reason="고객 요청")
        assert escalated.escalated and escalated.escalated_by_agent_id == senior
    moved = entry(routed, cid)
    with routed.session() as session:
        queue = session.get(RoutingQueue, moved.queue_id)
        assert queue is not None and queue.code == "supervisor"
        assert (moved.state, moved.enqueued_at, moved.agent_id) == ("waiting", at(30), None)
        conversation = session.get(Conversation, cid)
        assert conversation is not None and (conversation.status, conversation.assignee_id) == (
            "queued",
            None,
        )
        kinds = session.execute(
            select(ConversationActivity.kind)
            .where(ConversationActivity.conversation_id == cid)
            .order_by(ConversationActivity.id)
        ).scalars()
        assert list(kinds) == ["queued", "assigned", "escalated"]  # the history stays with it
    assert dispatch(routed, 31) == []  # the senior who asked is never offered it back
    with routed.transaction() as session:
        actions.set_agent_status(session, lead, "available", now=at(32))
    assert dispatch(routed, 33) == [(cid, lead)]
    assert any(e.kind == "routing.escalated" for e in events)

    other = enqueue(routed, "points_benefits", 40)
    with routed.transaction() as session:
        conversation = session.get(Conversation, other)
        assert conversation is not None
        actions.escalate_to_supervisor(session, conversation, None, now=at(41))  # the customer asks
    assert dispatch(routed, 42) == [(other, senior)]  # idle longer than the lead, and did not ask


def test_routing_state_survives_a_restart(database_url: str, bus: EventBus) -> None:
    first = Database(database_url, bus)
    migrate.upgrade(first.engine)
    with first.transaction() as session:
        seed_taxonomy(session)
        actions.seed_queues(session)
        agent_id = make_agent(session, "a", {"payment_billing": 3})
    offered = enqueue(first, "payment_billing", 0)
    waiting = enqueue(first, "payment_billing", 1)
    assert dispatch(first, 2) == [(offered, agent_id)]
    first.dispose()

    second = Database(database_url, bus)  # a new process: nothing but the database
    try:
        with second.session() as session:
            assert queries.position(session, offered) == 0
            assert queries.position(session, waiting) == 1
        with second.transaction() as session:
            actions.accept_offer(session, offered, agent_id, now=at(5))
            actions.release(session, offered, now=at(6))
        assert dispatch(second, 7) == [(waiting, agent_id)]
    finally:
        second.dispose()


@needs_postgres
@pytest.mark.postgres
def test_two_workers_never_offer_the_same_conversation(bus: EventBus) -> None:
    assert POSTGRES_URL
    url = make_postgres_database()
    try:
        _race(url, bus)
    finally:
        drop_postgres_database(url)


def _race(url: str, bus: EventBus) -> None:
    setup = Database(url, bus)
    migrate.upgrade(setup.engine)
    conversations = 240
    with setup.transaction() as session:
        seed_taxonomy(session)
        actions.seed_queues(session)
        for i in range(60):
            make_agent(session, f"a{i}", {"payment_billing": 1 + i % 5, "limit_approval": 3}, {"webchat": 3})
        for i in range(conversations):
            cid = make_conversation(session, "payment_billing" if i % 3 else "limit_approval")
            actions.enqueue(session, session.get(Conversation, cid), now=at(i / 100))  # type: ignore[arg-type]
    setup.dispose()

    made: dict[str, list[int]] = {"w1": [], "w2": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        worker_db = Database(url, bus)  # its own engine and connection pool, as another server would have
        try:
            start.wait()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with worker_db.transaction() as session:
                    offers = actions.dispatch(session, now=at(10), per_queue=7)
                made[name].extend(o.conversation_id for o in offers)
                if not offers:  # done once every slot (60 agents x 3 chats) holds an offer
                    with worker_db.session() as session:
                        offered_now = session.execute(
                            select(func.count())
                            .select_from(RoutingEntry)
                            .where(RoutingEntry.state == EntryState.OFFERED)
                        ).scalar_one()
                    if offered_now >= 180:
                        return
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            worker_db.dispose()

    threads = [threading.Thread(target=worker, args=(name,)) for name in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    offered = made["w1"] + made["w2"]
    assert len(offered) == len(set(offered)) == 180  # 60 agents x 3 chats, each conversation once
    check = Database(url, bus)
    try:
        with check.session() as session:
            per_conversation = session.execute(
                select(RoutingOffer.conversation_id, func.count())
                .group_by(RoutingOffer.conversation_id)
                .having(func.count() > 1)
            ).all()
            assert per_conversation == []
            per_agent = session.execute(
                select(RoutingEntry.agent_id, func.count())
                .where(RoutingEntry.state == EntryState.OFFERED)
                .group_by(RoutingEntry.agent_id)
            ).all()
            assert len(per_agent) == 60 and all(n == 3 for _, n in per_agent)
            assert (
                queries.waiting_counts(session)["payment_billing"] + queries.waiting_counts(session)["limit_approval"]
                == conversations - 180
            )
    finally:
        check.dispose()
