"""The background dispatcher: offers waiting conversations to agents, about once a second.

Each cycle runs, in a worker thread (the routing actions are synchronous database work):

1. :func:`~sangdam.routing.actions.expire_offers` and :func:`~sangdam.routing.actions.dispatch`
   in one transaction: an offer nobody answered in time goes straight to the next agent;
2. :func:`~sangdam.routing.callbacks.release_due_callbacks` in a transaction of its own, only when
   a callback is due (a callback that fails to open never holds back the offers).

Between cycles the loop sleeps ``dispatch_interval_seconds`` (``SANGDAM_DISPATCH_INTERVAL_SECONDS``)
but wakes at once when the event bus reports something that may make an offer possible: a new
conversation, a routing change (queued, rejected, expired, released, escalated …) or an agent's
status. Several server workers may each run one: dispatch and expiry lock rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serializes writers), so no conversation is
offered twice. Offer events carry the target agent's id (``agent_id``) so that only that agent's
console rings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import select

from sangdam.core.clock import now as clock_now
from sangdam.core.db import Database
from sangdam.core.events import Event, EventBus, Subscription
from sangdam.models.schedule import CallbackRequest, CallbackStatus
from sangdam.routing import actions
from sangdam.routing.callbacks import release_due_callbacks

log = logging.getLogger(__name__)

WAKE_KINDS = frozenset({"conversation.created", "agent.status", "agent.updated", "callback.requested"})
QUIET_ROUTING_KINDS = frozenset({"routing.offered", "routing.assigned"})  # our own work: nothing new to do
COALESCE_S = 0.05  # events arriving together cause one cycle
MAX_BACKOFF_S = 30.0
STOP_WAIT_S = 30.0  # how long stop() lets the cycle under way finish before cancelling it


def wakes_dispatcher(item: Event) -> bool:
    """Whether an event may make a new offer possible (or due) right now."""
    if item.kind.startswith("routing."):
        return item.kind not in QUIET_ROUTING_KINDS
    return item.kind in WAKE_KINDS


@dataclass(frozen=True, slots=True)
class CycleResult:
    expired: list[int] = field(default_factory=list)  # conversations whose offer ran out
    offered: list[tuple[int, int]] = field(default_factory=list)  # (conversation, agent)
    callbacks: list[int] = field(default_factory=list)  # callback requests released


def run_cycle(db: Database, now: datetime | None = None) -> CycleResult:
    """One pass: expire → dispatch (one transaction), then due callbacks (another). Synchronous."""
    at = now or clock_now()
    with db.transaction() as session:
        expired = actions.expire_offers(session, at)
        offers = actions.dispatch(session, at)
        offered = [(o.conversation_id, o.agent_id) for o in offers]
        due = session.execute(
            select(CallbackRequest.id)
            .where(CallbackRequest.status == CallbackStatus.PENDING.value, CallbackRequest.scheduled_for <= at)
            .limit(1)
        ).first()
    released: list[int] = []
    if due is not None:
        with db.transaction() as session:
            released = [c.id for c in release_due_callbacks(session, at)]
    return CycleResult(expired, offered, released)


class Dispatcher:
    """The dispatch loop of one server process; :meth:`start` and :meth:`stop` run on its event loop."""

    def __init__(self, db: Database, bus: EventBus, interval: float = 1.0) -> None:
        self.db = db
        self.bus = bus
        self.interval = interval
        self.cycles = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    @property
    def running(self) -> bool:
        tasks = (self._loop_task, self._listen_task)
        return all(t is not None and not t.done() for t in tasks)

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        self._stopping = False
        self._subscription = self.bus.subscribe(accept=wakes_dispatcher)
        self._listen_task = asyncio.create_task(self._listen(self._subscription), name="sangdam-dispatch-wake")
        self._loop_task = asyncio.create_task(self._loop(), name="sangdam-dispatch")

    async def stop(self) -> None:
        """Stop after the cycle under way: a cycle in its thread is never cut off mid-transaction
        (cancelling the task would not stop the thread, only stop waiting for it)."""
        loop_task, listen_task = self._loop_task, self._listen_task
        self._loop_task = self._listen_task = None
        self._stopping = True
        self._wake.set()
        if loop_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(loop_task), timeout=STOP_WAIT_S)
            except TimeoutError:
                log.warning("routing dispatcher: the cycle under way did not finish in %.0f s", STOP_WAIT_S)
                loop_task.cancel()
        if listen_task is not None:
            listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listen_task
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def wake(self) -> None:
        self._wake.set()

    async def _listen(self, subscription: Subscription) -> None:
        while True:
            await subscription.get()  # only events that wake the dispatcher (the subscription's filter)
            self._wake.set()

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await anyio.to_thread.run_sync(run_cycle, self.db)
                failures = 0
            except Exception:  # the loop outlives a bad cycle (a database restart, a lock timeout …)
                failures += 1
                log.exception("routing dispatch cycle failed (%d in a row)", failures)
            self.cycles += 1
            if self._stopping:
                break
            pause = self.interval if not failures else min(MAX_BACKOFF_S, self.interval * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
                await asyncio.sleep(COALESCE_S)
            self._wake.clear()


class _App(Protocol):
    state: Any


async def start_dispatcher(app: _App) -> None:
    """A startup hook: start this process's dispatcher unless ``dispatch_interval_seconds`` is 0."""
    interval = float(app.state.settings.dispatch_interval_seconds)
    app.state.dispatcher = None
    if interval <= 0:
        return
    dispatcher = Dispatcher(app.state.db, app.state.bus, interval)
    await dispatcher.start()
    app.state.dispatcher = dispatcher


async def stop_dispatcher(app: _App) -> None:
    dispatcher: Dispatcher | None = getattr(app.state, "dispatcher", None)
    if dispatcher is not None:
        await dispatcher.stop()
        app.state.dispatcher = None


def register(app: _App) -> None:
    """Wire the dispatcher into the app's startup and shutdown hooks."""
    app.state.startup_hooks.append(start_dispatcher)
    app.state.shutdown_hooks.append(stop_dispatcher)
