"""The in-memory assignment core: order, eligibility, offers, overflow, escalation, and its invariants."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sangdam.models.base import AgentStatus, Rank
from sangdam.routing.engine import (
    ASSIGNED,
    AVAILABLE,
    BREAK,
    OFFERED,
    OFFLINE,
    RANK_ORDER,
    STATUSES,
    WAITING,
    AgentSpec,
    InvalidState,
    OfferExpired,
    QueueSpec,
    RoutingEngine,
    UnknownQueue,
)

PAY, LOST, LIMIT, OTHER = 1, 2, 3, 4


def engine_with(*queues: QueueSpec) -> RoutingEngine:
    engine = RoutingEngine(skip_for_s=120.0)
    for q in queues or (QueueSpec("pay", frozenset({PAY})),):
        engine.add_queue(q)
    return engine


def agent(
    agent_id: int,
    skills: dict[int, int],
    capacity: dict[str, int] | None = None,
    idle_since: float = 0.0,
    rank: str = "agent",
    status: str = AVAILABLE,
) -> AgentSpec:
    return AgentSpec(agent_id, skills, capacity or {"voice": 1}, status, idle_since, rank)


def test_vocabularies_match_the_models() -> None:
    assert {s.value for s in AgentStatus} == STATUSES
    assert set(RANK_ORDER) == {r.value for r in Rank}


def test_highest_priority_first_then_oldest() -> None:
    engine = engine_with()
    engine.enqueue(1, "pay", "voice", 50, enqueued_at=10.0)
    engine.enqueue(2, "pay", "voice", 60, enqueued_at=20.0)
    engine.enqueue(3, "pay", "voice", 50, enqueued_at=5.0)
    engine.enqueue(4, "pay", "voice", 1100, enqueued_at=30.0)  # lost card: above everything
    assert [engine.position(c) for c in (4, 2, 3, 1)] == [1, 2, 3, 4]
    order = []
    for i, now in enumerate((40.0, 41.0, 42.0, 43.0)):
        engine.upsert_agent(agent(100 + i, {PAY: 3}))
        offers = engine.dispatch(now)
        assert len(offers) == 1
        order.append(offers[0].conversation_id)
    assert order == [4, 2, 3, 1]


def test_priority_across_queues_takes_the_shared_agent() -> None:
    engine = engine_with(QueueSpec("pay", frozenset({PAY})), QueueSpec("lost", frozenset({LOST})))
    engine.enqueue(1, "pay", "voice", 60, 0.0)
    engine.enqueue(2, "lost", "voice", 1100, 5.0)
    engine.upsert_agent(agent(7, {PAY: 5, LOST: 1}))
    (offer,) = engine.dispatch(10.0)
    assert offer.conversation_id == 2
    assert engine.position(1) == 1


def test_required_skills_and_best_level_then_longest_idle() -> None:
    engine = engine_with(QueueSpec("pay", frozenset({PAY, LIMIT})))
    engine.upsert_agent(agent(1, {PAY: 5}, idle_since=0.0))  # lacks LIMIT: never eligible
    engine.upsert_agent(agent(2, {PAY: 4, LIMIT: 2}, idle_since=0.0))  # level min(4, 2) = 2
    engine.upsert_agent(agent(3, {PAY: 3, LIMIT: 3}, idle_since=50.0))  # level 3, idle since 50
    engine.upsert_agent(agent(4, {PAY: 3, LIMIT: 5}, idle_since=20.0))  # level 3, idle longer
    for cid in (10, 11, 12, 13):
        engine.enqueue(cid, "pay", "voice", 50, float(cid))
    offers = engine.dispatch(100.0)
    assert [(o.conversation_id, o.agent_id, o.level) for o in offers] == [(10, 4, 3), (11, 3, 3), (12, 2, 2)]
    assert engine.conversation(13).state == WAITING  # type: ignore[union-attr]
    assert engine.agent(1).load == {}  # type: ignore[union-attr]


def test_only_available_agents_get_offers() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {PAY: 5}, status=BREAK))
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    assert engine.dispatch(1.0) == []
    engine.set_status(1, AVAILABLE, 2.0)
    (offer,) = engine.dispatch(2.0)
    assert offer.agent_id == 1
    assert engine.agent(1).idle_since == 2.0  # type: ignore[union-attr]


def test_capacity_per_channel() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {PAY: 3}, capacity={"voice": 1, "webchat": 3}))
    for cid in range(1, 6):
        engine.enqueue(cid, "pay", "webchat", 50, float(cid))
    engine.enqueue(9, "pay", "voice", 50, 9.0)
    engine.enqueue(10, "pay", "email", 50, 10.0)  # no email capacity at all
    offers = engine.dispatch(20.0)
    assert sorted(o.conversation_id for o in offers) == [1, 2, 3, 9]
    assert engine.agent(1).load == {"webchat": 3, "voice": 1}  # type: ignore[union-attr]
    for o in offers:
        engine.accept(o.conversation_id, 21.0)
    assert engine.dispatch(22.0) == []
    engine.release(2, 30.0)  # one chat done: one chat slot frees, the next chat is offered
    (offer,) = engine.dispatch(30.0)
    assert offer.conversation_id == 4
    assert engine.position(10) == 2  # conversation 5 is ahead of it


def test_agent_load_from_outside_counts() -> None:
    engine = engine_with()
    engine.upsert_agent(AgentSpec(1, {PAY: 3}, {"webchat": 3}, AVAILABLE, 0.0, load={"webchat": 2}))
    engine.enqueue(1, "pay", "webchat", 50, 0.0)
    engine.enqueue(2, "pay", "webchat", 50, 1.0)
    assert [o.conversation_id for o in engine.dispatch(5.0)] == [1]


def test_offer_timeout_goes_to_next_agent_keeping_the_place() -> None:
    engine = engine_with(QueueSpec("pay", frozenset({PAY}), offer_timeout_s=20.0))
    engine.upsert_agent(agent(1, {PAY: 5}))
    engine.upsert_agent(agent(2, {PAY: 4}))
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    engine.enqueue(2, "pay", "voice", 50, 1.0)
    offers = engine.dispatch(10.0)
    assert [(o.conversation_id, o.agent_id, o.expires_at) for o in offers] == [(1, 1, 30.0), (2, 2, 30.0)]
    engine.accept(2, 15.0)
    assert engine.expire(29.9) == []
    (expired,) = engine.expire(30.0)
    assert expired.conversation_id == 1
    assert engine.agent(1).status == AVAILABLE  # type: ignore[union-attr]
    view = engine.conversation(1)
    assert view is not None and view.state == WAITING and view.enqueued_at == 0.0
    engine.enqueue(3, "pay", "voice", 50, 25.0)
    assert engine.position(1) == 1
    # agent 1 is skipped for conversation 1 and so takes conversation 3; conversation 1 waits
    (offer,) = engine.dispatch(31.0)
    assert (offer.conversation_id, offer.agent_id) == (3, 1)
    with pytest.raises(OfferExpired):
        engine.accept(3, 52.0)


def test_rejection_requeues_in_place_and_skips_the_agent_for_a_while() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {PAY: 5}))
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    engine.enqueue(2, "pay", "voice", 50, 5.0)
    (first,) = engine.dispatch(10.0)
    assert first.conversation_id == 1
    engine.reject(1, 11.0)
    assert engine.position(1) == 1
    (second,) = engine.dispatch(11.0)
    assert (second.conversation_id, second.agent_id) == (2, 1)  # not 1 again, but the next one
    engine.reject(2, 12.0)
    assert engine.dispatch(12.0) == []  # both skip agent 1 now
    engine.upsert_agent(agent(2, {PAY: 1}))
    (third,) = engine.dispatch(13.0)
    assert (third.conversation_id, third.agent_id) == (1, 2)
    (fourth,) = engine.dispatch(132.0)  # the skip of conversation 2 by agent 1 has run out
    assert (fourth.conversation_id, fourth.agent_id) == (2, 1)


def test_accept_and_reject_need_an_offer() -> None:
    engine = engine_with()
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    with pytest.raises(InvalidState):
        engine.accept(1, 1.0)
    with pytest.raises(InvalidState):
        engine.reject(1, 1.0)
    with pytest.raises(InvalidState):
        engine.enqueue(1, "pay", "voice", 50, 0.0)
    with pytest.raises(UnknownQueue):
        engine.enqueue(2, "nope", "voice", 50, 0.0)


def test_break_withdraws_offers_and_offline_returns_assigned_work() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {PAY: 3}, capacity={"webchat": 3}))
    for cid in (1, 2, 3):
        engine.enqueue(cid, "pay", "webchat", 50, float(cid))
    engine.dispatch(10.0)
    engine.accept(1, 11.0)
    engine.accept(2, 11.0)
    assert engine.set_status(1, BREAK, 12.0) == [3]  # the pending offer goes back
    assert engine.conversation(3).state == WAITING  # type: ignore[union-attr]
    assert engine.conversation(1).state == ASSIGNED  # type: ignore[union-attr]
    engine.enqueue(4, "pay", "webchat", 50, 0.5)
    assert engine.set_status(1, OFFLINE, 13.0) == [1, 2]
    assert [engine.position(c) for c in (4, 1, 2, 3)] == [1, 2, 3, 4]  # original places kept
    assert engine.agent(1).load == {"webchat": 0}  # type: ignore[union-attr]
    assert engine.waiting() == 4


def test_overflow_widens_to_secondary_skills_after_the_wait() -> None:
    q = QueueSpec("pay", frozenset({PAY}), frozenset({LIMIT, OTHER}), overflow_after_s=60.0)
    engine = engine_with(q)
    engine.upsert_agent(agent(1, {LIMIT: 2}, idle_since=5.0))
    engine.upsert_agent(agent(2, {OTHER: 4}, idle_since=9.0))
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    engine.enqueue(2, "pay", "voice", 50, 30.0)
    assert engine.dispatch(59.0) == []
    (offer,) = engine.dispatch(60.0)
    assert (offer.conversation_id, offer.agent_id, offer.via_overflow, offer.level) == (1, 2, True, 4)
    assert engine.dispatch(89.0) == []
    (offer,) = engine.dispatch(90.0)
    assert (offer.conversation_id, offer.agent_id) == (2, 1)


def test_overflow_still_prefers_agents_with_the_required_skill() -> None:
    q = QueueSpec("pay", frozenset({PAY}), frozenset({LIMIT}), overflow_after_s=10.0)
    engine = engine_with(q)
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    engine.upsert_agent(agent(1, {LIMIT: 5}, idle_since=0.0))
    engine.upsert_agent(agent(2, {PAY: 1}, idle_since=50.0))
    (offer,) = engine.dispatch(100.0)
    assert (offer.agent_id, offer.via_overflow) == (2, False)


def test_overflowed_lower_priority_item_is_served_by_secondary_agent() -> None:
    q = QueueSpec("pay", frozenset({PAY}), frozenset({LIMIT}), overflow_after_s=60.0)
    engine = engine_with(q)
    engine.enqueue(1, "pay", "voice", 40, 0.0)  # old, low priority: overflowed at 60
    engine.enqueue(2, "pay", "voice", 90, 50.0)  # urgent but young: needs the required skill
    engine.upsert_agent(agent(1, {LIMIT: 3}))
    (offer,) = engine.dispatch(70.0)
    assert offer.conversation_id == 1
    assert engine.position(2) == 1


def test_supervisor_escalation_moves_to_supervisor_queue() -> None:
    engine = engine_with(QueueSpec("pay", frozenset({PAY})), QueueSpec("supervisor", min_rank="senior"))
    engine.upsert_agent(agent(1, {PAY: 3}, capacity={"webchat": 3}, rank="senior"))
    engine.upsert_agent(agent(2, {}, capacity={"webchat": 3}, rank="agent"))
    engine.enqueue(1, "pay", "webchat", 50, 0.0)
    (offer,) = engine.dispatch(1.0)
    engine.accept(1, 2.0)
    engine.transfer(1, "supervisor", 30.0, skip_agent=offer.agent_id)
    assert engine.agent(1).load == {"webchat": 0}  # type: ignore[union-attr]
    view = engine.conversation(1)
    assert view is not None and (view.queue, view.state, view.enqueued_at) == ("supervisor", WAITING, 30.0)
    assert engine.dispatch(31.0) == []  # agent 1 asked for help, agent 2 is no senior
    engine.upsert_agent(agent(3, {}, capacity={"webchat": 1}, rank="lead"))
    (offer,) = engine.dispatch(32.0)
    assert (offer.conversation_id, offer.agent_id, offer.queue) == (1, 3, "supervisor")
    assert engine.dispatch(5000.0) == []


def test_release_of_waiting_offered_and_assigned() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {PAY: 3}, capacity={"webchat": 2}))
    for cid in (1, 2, 3):
        engine.enqueue(cid, "pay", "webchat", 50, float(cid))
    engine.dispatch(5.0)
    engine.accept(1, 6.0)
    engine.release(3, 7.0)  # abandoned while waiting
    engine.release(2, 7.0)  # hung up while ringing
    engine.release(1, 8.0)  # resolved
    engine.release(42, 8.0)  # unknown: nothing happens
    assert engine.waiting() == 0
    assert engine.agent(1).load == {"webchat": 0}  # type: ignore[union-attr]
    assert engine.agent(1).idle_since == 8.0  # type: ignore[union-attr]
    assert engine.conversation(1) is None


def test_upsert_agent_changes_skills() -> None:
    engine = engine_with()
    engine.upsert_agent(agent(1, {LIMIT: 3}))
    engine.enqueue(1, "pay", "voice", 50, 0.0)
    assert engine.dispatch(1.0) == []
    engine.upsert_agent(agent(1, {PAY: 2}))
    (offer,) = engine.dispatch(2.0)
    assert offer.level == 2


def test_dispatch_limit() -> None:
    engine = engine_with()
    for a in range(3):
        engine.upsert_agent(agent(a, {PAY: 3}))
    for cid in range(3):
        engine.enqueue(cid, "pay", "voice", 50, float(cid))
    assert [o.conversation_id for o in engine.dispatch(5.0, limit=2)] == [0, 1]
    assert [o.conversation_id for o in engine.dispatch(5.0)] == [2]


# ---------------------------------------------------------------- invariants under random operations


AGENTS = 6


def free_agents(engine: RoutingEngine, channel: str) -> set[int]:
    """Agents available with a free slot in ``channel``, by brute force."""
    out = set()
    for agent_id in range(AGENTS):
        a = engine.agent(agent_id)
        assert a is not None
        if a.status == AVAILABLE and a.load.get(channel, 0) < a.capacity.get(channel, 0):
            out.add(agent_id)
    return out


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_random_operations_keep_invariants(seed: int) -> None:
    rng = random.Random(seed)
    queues = {
        "a": QueueSpec("a", frozenset({1}), frozenset({2}), overflow_after_s=30.0, offer_timeout_s=10.0),
        "b": QueueSpec("b", frozenset({2}), offer_timeout_s=10.0),
        "s": QueueSpec("s", min_rank="senior", offer_timeout_s=10.0),
    }
    engine = RoutingEngine(skip_for_s=25.0)
    for q in queues.values():
        engine.add_queue(q)
    skills: dict[int, dict[int, int]] = {}
    caps: dict[int, dict[str, int]] = {}
    for a in range(AGENTS):
        skills[a] = {s: rng.randint(1, 5) for s in (1, 2) if rng.random() < 0.6}
        caps[a] = {"voice": 1, "webchat": rng.randint(1, 3)}
        engine.upsert_agent(AgentSpec(a, skills[a], caps[a], AVAILABLE, 0.0, rng.choice(["agent", "senior"])))
    now = 0.0
    next_cid = 0
    for _ in range(150):
        now += rng.uniform(0, 8)
        op = rng.random()
        if op < 0.3:
            next_cid += 1
            engine.enqueue(next_cid, rng.choice("aab"), rng.choice(["voice", "webchat"]), rng.choice([50, 60]), now)
        elif op < 0.4:
            engine.set_status(rng.randrange(AGENTS), rng.choice(sorted(STATUSES)), now)
        elif op < 0.5 and next_cid:
            engine.release(rng.randint(1, next_cid), now)
        elif op < 0.55 and next_cid:
            cid = rng.randint(1, next_cid)
            if engine.conversation(cid) is not None:
                engine.transfer(cid, "s", now)
        expired = engine.expire(now)
        for o in expired:
            assert o.expires_at <= now
        offers = engine.dispatch(now)
        while offers:  # a rejection frees the agent for other conversations: dispatch again
            assert len({o.conversation_id for o in offers}) == len(offers)  # none offered twice
            for o in offers:
                view = engine.conversation(o.conversation_id)
                assert view is not None and view.state == OFFERED and view.agent_id == o.agent_id
                q = queues[o.queue]
                a_skills = skills[o.agent_id]
                if o.via_overflow:
                    assert any(s in a_skills for s in q.secondary_skills)
                    assert now - view.enqueued_at >= (q.overflow_after_s or 0)
                else:
                    assert all(s in a_skills for s in q.required_skills)
                if rng.random() < 0.7:
                    engine.accept(o.conversation_id, now)
                elif rng.random() < 0.5:
                    engine.reject(o.conversation_id, now)
            offers = engine.dispatch(now)
        # capacity is never exceeded, and the engine's load matches what it has offered/assigned
        counted: dict[tuple[int, str], int] = {}
        for cid in range(1, next_cid + 1):
            view = engine.conversation(cid)
            if view is not None and view.state in (OFFERED, ASSIGNED):
                key = (-1 if view.agent_id is None else view.agent_id, view.channel)
                counted[key] = counted.get(key, 0) + 1
        for a in range(AGENTS):
            view_a = engine.agent(a)
            assert view_a is not None
            for ch, cap in caps[a].items():
                assert view_a.load.get(ch, 0) == counted.get((a, ch), 0) <= cap
        # nothing is left waiting that a free, eligible, non-skipped required-skill agent could take
        for cid in range(1, next_cid + 1):
            view = engine.conversation(cid)
            if view is None or view.state != WAITING:
                continue
            q = queues[view.queue]
            for a in free_agents(engine, view.channel):
                a_view = engine.agent(a)
                assert a_view is not None
                has_skills = all(s in skills[a] for s in q.required_skills)
                ranked = RANK_ORDER[a_view.rank] >= RANK_ORDER[q.min_rank]
                skipped = engine._items[cid].skipped.get(a, -1.0) > now
                assert not (has_skills and ranked and not skipped), (cid, a)
