"""core.events: local fan-out from any thread, and Redis pub/sub shared by several workers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sangdam.core.events import Event, EventBus, RedisEventBus
from tests.conftest import REDIS_URL, needs_redis


def test_events_round_trip_through_json() -> None:
    e = Event("message.created", {"conversation_id": 3, "body": "한글"}, conversation_id=3)
    assert Event.from_json(e.to_json()) == e


def test_in_process_bus_delivers_from_other_threads() -> None:
    async def scenario() -> list[str]:
        bus = EventBus()
        sub = bus.subscribe()
        worker = threading.Thread(target=lambda: [bus.publish(Event(f"k{i}", {})) for i in range(3)])
        worker.start()
        worker.join()
        got = [(await asyncio.wait_for(sub.get(), 2)).kind for _ in range(3)]
        sub.close()
        bus.publish(Event("after-close", {}))
        await asyncio.sleep(0.05)
        assert sub.queue.empty()
        return got

    assert asyncio.run(scenario()) == ["k0", "k1", "k2"]


def test_a_slow_subscriber_drops_instead_of_blocking_others() -> None:
    async def scenario() -> tuple[int, int]:
        bus = EventBus()
        slow, fast = bus.subscribe(), bus.subscribe()
        slow.queue = asyncio.Queue(maxsize=1)
        for i in range(5):
            bus.publish(Event(f"k{i}", {}))
        return slow.dropped, fast.queue.qsize()

    assert asyncio.run(scenario()) == (4, 5)


@needs_redis
@pytest.mark.redis
def test_two_workers_share_events_through_redis() -> None:
    assert REDIS_URL
    channel = f"sangdam:test:{id(object())}"

    async def scenario() -> tuple[list[str], list[str]]:
        a, b = RedisEventBus(REDIS_URL, channel), RedisEventBus(REDIS_URL, channel)
        await a.start()
        await b.start()
        sub_a, sub_b = a.subscribe(), b.subscribe()
        # Published from a worker thread of worker A, as actions do after commit.
        t = threading.Thread(target=lambda: [a.publish(Event(f"k{i}", {"i": i})) for i in range(3)])
        t.start()
        t.join()
        got_a = [(await asyncio.wait_for(sub_a.get(), 5)).kind for _ in range(3)]
        got_b = [(await asyncio.wait_for(sub_b.get(), 5)).kind for _ in range(3)]
        await a.stop()
        await b.stop()
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_a == got_b == ["k0", "k1", "k2"]
