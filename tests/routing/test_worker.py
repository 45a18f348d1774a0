"""routing.worker: the background dispatcher (expire → dispatch → due callbacks), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from sangdam.conversations import actions as conversations
from sangdam.conversations.schemas import InquiryCreate
from sangdam.core.clock import now
from sangdam.core.db import Database
from sangdam.core.events import Event, EventBus, RedisEventBus
from sangdam.core.settings import Settings
from sangdam.models import Customer, Topic
from sangdam.models.routing import RoutingEntry, RoutingOffer, RoutingQueue
from sangdam.models.schedule import CallbackRequest
from sangdam.routing import actions, queries, worker
from tests.conftest import REDIS_URL, needs_redis

PHONES = iter(f"010-{n:04d}-{n:04d}" for n in range(2000, 9999))


def file(db: Database, settings: Settings, topic: str = "payment_billing") -> int:
    with db.transaction() as s:
        return conversations.create_inquiry(
            s,
            settings,
            InquiryCreate(
                name="홍길동",
                phone=next(PHONES),
                topic=topic,
                subject="이중 결제",
                body="같은 결제가 두 번 청구됐어요.",
                consent=True,
            ),
        ).id


def available(db: Database, *agent_ids: int) -> None:
    with db.transaction() as s:
        for agent_id in agent_ids:
            actions.set_agent_status(s, agent_id, "available")


def offered_to(db: Database, cid: int) -> int | None:
    with db.session() as s:
        entry = queries.entry_for(s, cid)
        return entry.agent_id if entry is not None and entry.state == "offered" else None


def set_offer_timeout(db: Database, queue: str, seconds: int) -> None:
    with db.transaction() as s:
        s.execute(update(RoutingQueue).where(RoutingQueue.code == queue).values(offer_timeout_s=seconds))


async def eventually(check: Callable[[], object], timeout: float = 8.0) -> object:
    """Poll ``check`` (run in a thread: it reads the database) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), timeout=60))


# --- one cycle ----------------------------------------------------------------------------------


def test_a_cycle_offers_to_a_skilled_agent_and_an_expired_offer_goes_to_the_next(
    db: Database, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:  # a second payments agent, so expiry has someone to move on to
        from sangdam.routing.agents import create_agent

        other = create_agent(s, login="pay2", name="박결제", password="x" * 12, skills={"payment_billing": 3}).id
    cid = file(db, settings)
    assert worker.run_cycle(db).offered == []  # nobody available yet
    available(db, agents["lost"])
    assert worker.run_cycle(db).offered == []  # available, but without the skill
    available(db, agents["pay"], other)
    first = worker.run_cycle(db)
    assert len(first.offered) == 1 and first.offered[0][0] == cid
    first_agent = first.offered[0][1]
    assert first_agent in (agents["pay"], other)

    with db.session() as s:
        entry = queries.entry_for(s, cid)
        assert entry is not None and entry.offer_expires_at is not None
        expires = entry.offer_expires_at
    assert worker.run_cycle(db, expires - timedelta(seconds=1)).expired == []  # still ringing
    later = worker.run_cycle(db, expires + timedelta(seconds=1))
    second_agent = ({agents["pay"], other} - {first_agent}).pop()
    assert later.expired == [cid] and later.offered == [(cid, second_agent)]
    with db.session() as s:
        outcomes = s.execute(select(RoutingOffer.agent_id, RoutingOffer.outcome).order_by(RoutingOffer.id)).all()
    assert [tuple(o) for o in outcomes] == [(first_agent, "expired"), (second_agent, "pending")]


def test_a_cycle_releases_due_callbacks(db: Database, settings: Settings, agents: dict[str, int]) -> None:
    with db.transaction() as s:
        topic = s.execute(select(Topic).where(Topic.code == "lost_card")).scalar_one()
        customer = Customer(name="김콜백")
        s.add(customer)
        s.flush()
        s.add(
            CallbackRequest(
                customer_id=customer.id,
                phone="+821098765432",
                topic_id=topic.id,
                queue="lost_card",  # the lost-card line is open around the clock
                scheduled_for=now() - timedelta(minutes=1),
            )
        )
    result = worker.run_cycle(db)
    assert len(result.callbacks) == 1
    with db.session() as s:
        callback = s.execute(select(CallbackRequest)).scalar_one()
        assert callback.status == "queued" and callback.conversation_id is not None
        assert queries.entry_for(s, callback.conversation_id) is not None
    assert worker.run_cycle(db).callbacks == []


def test_wake_on_the_events_that_can_make_an_offer() -> None:
    assert worker.wakes_dispatcher(Event("conversation.created", {}))
    assert worker.wakes_dispatcher(Event("routing.offer_rejected", {}))
    assert worker.wakes_dispatcher(Event("routing.released", {}))
    assert worker.wakes_dispatcher(Event("agent.status", {"agent_id": 1, "status": "available"}))
    assert not worker.wakes_dispatcher(Event("routing.offered", {}))  # its own work
    assert not worker.wakes_dispatcher(Event("message.created", {}))


# --- the loop -----------------------------------------------------------------------------------


def test_the_loop_offers_and_moves_an_expired_offer_to_the_next_agent(
    db: Database, bus: EventBus, settings: Settings, agents: dict[str, int]
) -> None:
    with db.transaction() as s:
        from sangdam.routing.agents import create_agent

        other = create_agent(s, login="pay2", name="박결제", password="x" * 12, skills={"payment_billing": 3}).id
    set_offer_timeout(db, "payment_billing", 1)
    available(db, agents["pay"], other)

    async def scenario() -> None:
        seen = bus.subscribe()
        dispatcher = worker.Dispatcher(db, bus, interval=0.2)
        await dispatcher.start()
        try:
            cid = await asyncio.to_thread(file, db, settings)
            first = await eventually(lambda: offered_to(db, cid))
            second = await eventually(lambda: (a := offered_to(db, cid)) not in (None, first) and a)
            assert {first, second} == {agents["pay"], other}
        finally:
            await dispatcher.stop()
        assert not dispatcher.running
        offers = []
        while not seen.queue.empty():
            item = seen.queue.get_nowait()
            if item.kind == "routing.offered":
                offers.append(item)
        seen.close()
        # Each offer event names its target agent, so only that agent's console rings.
        assert [o.data["agent_id"] for o in offers[:2]] == [first, second]
        assert all(o.conversation_id == cid for o in offers)

    run(scenario)


def test_a_new_conversation_wakes_the_dispatcher_at_once(
    db: Database, bus: EventBus, settings: Settings, agents: dict[str, int]
) -> None:
    available(db, agents["pay"])

    async def scenario() -> None:
        dispatcher = worker.Dispatcher(db, bus, interval=60)  # it would otherwise wait a minute
        await dispatcher.start()
        try:
            await eventually(lambda: dispatcher.cycles >= 1)
            started = time.monotonic()
            cid = await asyncio.to_thread(file, db, settings)
            assert await eventually(lambda: offered_to(db, cid) == agents["pay"], timeout=5)
            assert time.monotonic() - started < 5
        finally:
            await dispatcher.stop()

    run(scenario)


def test_a_failing_cycle_is_logged_and_the_loop_goes_on(
    db: Database, bus: EventBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = {"n": 0}
    real = worker.run_cycle

    def flaky(database: Database) -> worker.CycleResult:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(database)

    monkeypatch.setattr(worker, "run_cycle", flaky)

    async def scenario() -> None:
        dispatcher = worker.Dispatcher(db, bus, interval=0.05)
        await dispatcher.start()
        try:
            await eventually(lambda: calls["n"] >= 2)
            assert dispatcher.running
        finally:
            await dispatcher.stop()

    run(scenario)
    assert any("dispatch cycle failed" in r.getMessage() for r in caplog.records)


def test_stop_lets_the_cycle_under_way_finish(db: Database, bus: EventBus, monkeypatch: pytest.MonkeyPatch) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow(database: Database) -> worker.CycleResult:
        started.set()
        time.sleep(0.4)
        finished.set()
        return worker.CycleResult()

    monkeypatch.setattr(worker, "run_cycle", slow)

    async def scenario() -> None:
        dispatcher = worker.Dispatcher(db, bus, interval=0.05)
        await dispatcher.start()
        await asyncio.to_thread(started.wait, 5)
        await dispatcher.stop()
        assert finished.is_set() and not dispatcher.running

    run(scenario)


def test_several_dispatchers_never_offer_a_conversation_twice(db: Database, bus: EventBus, settings: Settings) -> None:
    from sangdam.routing.agents import create_agent

    with db.transaction() as s:
        team = [
            create_agent(
                s,
                login=f"w{i}",
                name=f"상담{i}",
                password="x" * 12,
                skills={"payment_billing": 3},
                capacity={"form": 2},
            ).id
            for i in range(4)
        ]
    available(db, *team)
    filed = [file(db, settings) for _ in range(12)]

    async def scenario() -> None:
        dispatchers = [worker.Dispatcher(db, bus, interval=0.05) for _ in range(3)]
        for d in dispatchers:
            await d.start()
        try:
            await eventually(lambda: sum(1 for cid in filed if offered_to(db, cid)) == 8)
            await asyncio.sleep(0.5)  # more cycles: still no double offer, no overfilled agent
        finally:
            for d in dispatchers:
                await d.stop()

    run(scenario)
    with db.session() as s:
        offers = s.execute(select(RoutingOffer.conversation_id, RoutingOffer.agent_id)).all()
        entries = s.execute(select(RoutingEntry).where(RoutingEntry.state == "offered")).scalars().all()
    assert len(offers) == 8 and len({o.conversation_id for o in offers}) == 8
    per_agent: dict[int, int] = {}
    for e in entries:
        per_agent[e.agent_id] = per_agent.get(e.agent_id, 0) + 1  # type: ignore[index]
    assert per_agent == {agent_id: 2 for agent_id in team}


# --- wiring into the app ------------------------------------------------------------------------


def test_the_app_starts_and_stops_its_dispatcher(settings: Settings, db: Database) -> None:
    from sangdam.web.app import create_app

    app = create_app(settings.model_copy(update={"dispatch_interval_seconds": 0.2}), database=db, run_migrations=False)
    with TestClient(app):
        dispatcher = app.state.dispatcher
        assert isinstance(dispatcher, worker.Dispatcher) and dispatcher.running
    assert app.state.dispatcher is None and not dispatcher.running

    off = create_app(settings.model_copy(update={"dispatch_interval_seconds": 0}), database=db, run_migrations=False)
    with TestClient(off):
        assert off.state.dispatcher is None


def test_the_app_dispatcher_offers_an_inquiry_filed_through_the_portal(
    settings: Settings, db: Database, agents: dict[str, int]
) -> None:
    from sangdam.web.app import create_app
    from tests.web.helpers import file_inquiry

    available(db, agents["pay"])
    app = create_app(settings.model_copy(update={"dispatch_interval_seconds": 30}), database=db, run_migrations=False)
    with TestClient(app) as client:
        status, _ = file_inquiry(client)
        assert status == 303
        deadline = time.monotonic() + 8
        while True:
            with db.session() as s:
                cid = s.execute(
                    select(RoutingEntry.conversation_id, RoutingEntry.agent_id).where(RoutingEntry.state == "offered")
                ).first()
            if cid is not None:
                break
            assert time.monotonic() < deadline, "the dispatcher did not offer the new inquiry"
            time.sleep(0.05)
        assert cid.agent_id == agents["pay"]


@needs_redis
@pytest.mark.redis
def test_workers_sharing_redis_wake_each_other(settings: Settings, database_url: str, agents: dict[str, int]) -> None:
    """A conversation filed through one worker wakes the dispatcher of another, over Redis."""
    assert REDIS_URL
    channel = f"sangdam:test:{uuid.uuid4().hex}"
    here, there = RedisEventBus(REDIS_URL, channel), RedisEventBus(REDIS_URL, channel)
    db_here, db_there = Database(database_url, here), Database(database_url, there)
    available(db_here, agents["pay"])
    ready = threading.Event()

    async def scenario() -> None:
        await there.start()
        dispatcher = worker.Dispatcher(db_there, there, interval=60)
        await dispatcher.start()
        try:
            await eventually(lambda: dispatcher.cycles >= 1)
            await asyncio.sleep(0.2)  # the Redis subscription is up
            ready.set()
            cid = await asyncio.to_thread(file, db_here, settings)
            assert await eventually(lambda: offered_to(db_there, cid) == agents["pay"], timeout=5)
        finally:
            await dispatcher.stop()
            await there.stop()

    try:
        run(scenario)
    finally:
        here._sync.close()
        db_here.dispose()
        db_there.dispose()
    assert ready.is_set()
