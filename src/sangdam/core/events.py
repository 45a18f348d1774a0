"""The event bus: committed changes reach open consoles and other workers.

In-process by default. With ``SANGDAM_REDIS_URL`` every worker publishes to one Redis pub/sub
channel and every worker's listener delivers what arrives to its own local subscribers, so several
server processes share one stream of events. ``publish`` is thread-safe: actions run in worker
threads and publish after their transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

log = logging.getLogger(__name__)

CHANNEL = "sangdam:events"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, after commit. ``kind`` is a dotted name such as ``message.created``."""

    kind: str
    data: dict[str, Any]
    conversation_id: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        return cls(**orjson.loads(raw))


class Subscription:
    """A local subscriber: an asyncio queue fed from any thread."""

    def __init__(
        self,
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        maxsize: int = 1000,
        accept: Callable[[Event], bool] | None = None,
    ) -> None:
        self.bus = bus
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self.accept = accept

    def _offer(self, item: Event) -> None:
        # The filter runs on the subscriber's loop as the event arrives: an event the subscriber
        # would skip never wakes its task (a hundred agent sockets, one of which wants a message).
        if self.accept is not None and not self.accept(item):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _offer_all(subscribers: list[Subscription], item: Event) -> None:
    for sub in subscribers:
        sub._offer(item)


class EventBus:
    """In-process fan-out to local subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, accept: Callable[[Event], bool] | None = None) -> Subscription:
        """A queue of the events published from now on (only those ``accept`` takes, if given)."""
        sub = Subscription(self, asyncio.get_running_loop(), accept=accept)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def publish(self, item: Event) -> None:
        self._deliver_locally(item)

    def _deliver_locally(self, item: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        # One hand-off per event loop, not per subscriber: a process with a hundred open consoles
        # wakes its loop once for each event.
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        for sub in subscribers:
            if not sub.loop.is_closed():
                by_loop.setdefault(sub.loop, []).append(sub)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, subs in by_loop.items():
            if loop is running:
                _offer_all(subs, item)
            else:
                try:
                    loop.call_soon_threadsafe(_offer_all, subs, item)
                except RuntimeError:  # the loop closed meanwhile
                    continue

    async def start(self) -> None:
        """Start listening to peers (nothing to do in-process)."""

    async def stop(self) -> None:
        """Stop listening to peers."""

    @property
    def kind(self) -> str:
        return "memory"


class RedisEventBus(EventBus):
    """Events through Redis pub/sub, shared by every worker connected to the same Redis."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        import redis

        self.url = url
        self.channel = channel
        self._sync = redis.Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

    @property
    def kind(self) -> str:
        return "redis"

    def publish(self, item: Event) -> None:
        # Every worker (this one too) receives it back from Redis, so local delivery happens once,
        # in the listener, and ordering is Redis's order for all workers alike.
        self._sync.publish(self.channel, item.to_json())

    async def start(self) -> None:
        if self._task is not None:
            return
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._listen(client, pubsub), name="sangdam-redis-events")

    async def _listen(self, client: Any, pubsub: Any) -> None:
        try:
            while True:
                try:
                    message = await pubsub.get_message(timeout=1.0)
                except (ConnectionError, OSError) as exc:  # pragma: no cover - network fault
                    log.warning("redis event listener: %s; retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                if message is None or message.get("type") != "message":
                    continue
                try:
                    item = Event.from_json(message["data"])
                except (ValueError, TypeError):
                    log.warning("redis event listener: unreadable event dropped")
                    continue
                self._deliver_locally(item)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
                await client.aclose()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._sync.close()


def make_bus(redis_url: str | None) -> EventBus:
    return RedisEventBus(redis_url) if redis_url else EventBus()
