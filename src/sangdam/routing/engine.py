"""The assignment core: pure, in memory, deterministic, fast.

No database and no clock: every call that needs the time takes ``now`` as seconds (a float on any
fixed epoch — the persisted service passes POSIX timestamps, a simulator may pass seconds since
midnight). The same inputs in the same order always give the same offers. ``now`` should not go
backwards between calls.

Public API
==========
Data (plain values in, frozen views out)::

    QueueSpec(code, required_skills=frozenset(), secondary_skills=frozenset(),
              overflow_after_s=None, offer_timeout_s=20.0, min_rank="agent")
    AgentSpec(id, skills={skill_id: level 1..5}, capacity={channel: n}, status="offline",
              idle_since=0.0, rank="agent", load={channel: n})
    Offer(conversation_id, agent_id, queue, channel, offered_at, expires_at, level, via_overflow)
    ConversationView(conversation_id, queue, channel, priority, enqueued_at, state, agent_id, offer)
    AgentView(id, status, rank, idle_since, load, capacity)

Engine::

    engine = RoutingEngine(skip_for_s=120.0)
    engine.add_queue(spec)                         # before enqueuing into it
    engine.upsert_agent(spec)                      # add an agent, or replace skills/capacity/rank
    engine.set_status(agent_id, status, now)       # -> list[int]: conversations put back in queue
    engine.enqueue(conversation_id, queue, channel, priority, enqueued_at, skipped=None)
    engine.dispatch(now, limit=None)               # -> list[Offer]: every offer possible now
    engine.accept(conversation_id, now)            # -> Offer (raises OfferExpired after expires_at)
    engine.reject(conversation_id, now)            # -> Offer; the conversation is back in queue
    engine.expire(now)                             # -> list[Offer] that timed out; back in queue
    engine.release(conversation_id, now)           # leaves routing: resolved, abandoned, closed
    engine.transfer(conversation_id, queue, now, priority=None, skip_agent=None)  # escalation
    engine.position(conversation_id)               # -> 1-based place in its queue, 0 if being
                                                   #    offered, None if assigned or unknown
    engine.conversation(conversation_id)           # -> ConversationView | None
    engine.agent(agent_id)                         # -> AgentView | None
    engine.waiting(queue=None)                     # -> number waiting (in one queue or all)

Rules
=====
* Order of service: highest ``priority`` first, then oldest ``enqueued_at`` (then first enqueued).
  A conversation put back in queue (rejected, expired, agent went offline/on break) keeps its
  priority and ``enqueued_at`` and so its original place.
* Eligible agent: status ``available``, load < capacity in the conversation's channel, rank at
  least the queue's ``min_rank`` and every one of the queue's ``required_skills``. Once a
  conversation has waited ``overflow_after_s`` (counted from ``enqueued_at``), an agent with *any
  one* of the queue's ``secondary_skills`` is eligible too; agents with the required skills are
  still preferred.
* Best agent: highest skill level (the lowest of their levels in the required skills; for a
  secondary skill, their level in it), then longest idle (smallest ``idle_since``), then lowest id.
  ``idle_since`` is reset to ``now`` when the agent gets an offer, finishes a conversation
  (``release``) or becomes available.
* An offer reserves a slot of the agent's capacity until it is rejected, expires (``expire``; the
  agent keeps their status), or the conversation is released. The rejecting or non-answering
  agent is skipped for that conversation for ``skip_for_s`` seconds (a transfer's ``skip_agent``
  for good).
* Going to any status but ``available`` returns the agent's pending offers to the queue; going
  ``offline`` returns their assigned conversations too.
* ``dispatch`` first applies overflow and skip timers due at ``now``, then makes offers until no
  waiting conversation has an eligible agent (or ``limit`` offers were made). It does not expire
  offers: call ``expire(now)`` first if that is wanted.

How it stays fast
=================
Waiting conversations live in one heap per (queue, channel) "lane" (plus an overflow heap);
available agents in one heap per (skill set, minimum rank, channel) "pool", ordered by
(-level, idle_since, id). Heaps are invalidated lazily with generation/version numbers. A lane
is only looked at when something that could unblock it happened (a new or returned conversation,
an agent becoming eligible in one of its pools, an overflow or skip timer), so a decision costs a
few heap operations, never a scan of all agents or all waiting conversations.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

AVAILABLE = "available"  # 상담가능 — the same strings as sangdam.models.base.AgentStatus
AFTER_CALL = "after_call"  # 후처리
BREAK = "break"  # 휴식
OFFLINE = "offline"  # 오프라인
STATUSES = frozenset({AVAILABLE, AFTER_CALL, BREAK, OFFLINE})

RANK_ORDER = {"agent": 0, "senior": 1, "lead": 2}  # 상담원 < 선임 < 팀장 (sangdam.models.base.Rank)

WAITING = "waiting"
OFFERED = "offered"
ASSIGNED = "assigned"

_DEEP = 32  # how many conversations of a lane to look past when the first ones skip every agent
_OVERFLOW_TIMER = 0
_SKIP_TIMER = 1


class RoutingError(Exception):
    """A routing call that does not fit the current state."""


class UnknownConversation(RoutingError):
    pass


class UnknownAgent(RoutingError):
    pass


class UnknownQueue(RoutingError):
    pass


class InvalidState(RoutingError):
    pass


class OfferExpired(RoutingError):
    pass


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue (대기열): what agents need to take its conversations."""

    code: str
    required_skills: frozenset[int] = frozenset()
    secondary_skills: frozenset[int] = frozenset()
    overflow_after_s: float | None = None  # None: never widens to the secondary skills
    offer_timeout_s: float = 20.0
    min_rank: str = "agent"  # "senior" or "lead" for a supervisor queue (상급자 연결)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """An agent as the engine sees it. ``load`` is work the engine does not track itself."""

    id: int
    skills: Mapping[int, int]
    capacity: Mapping[str, int]
    status: str = OFFLINE
    idle_since: float = 0.0
    rank: str = "agent"
    load: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Offer:
    conversation_id: int
    agent_id: int
    queue: str
    channel: str
    offered_at: float
    expires_at: float
    level: int  # the agent's skill level that won the offer
    via_overflow: bool  # the agent was found through a secondary skill


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation_id: int
    queue: str
    channel: str
    priority: int
    enqueued_at: float
    state: str  # waiting, offered, assigned
    agent_id: int | None
    offer: Offer | None


@dataclass(frozen=True, slots=True)
class AgentView:
    id: int
    status: str
    rank: str
    idle_since: float
    load: dict[str, int]
    capacity: dict[str, int]


# Heap entries. Lane: (-priority, enqueued_at, order, gen, conversation_id).
# Pool: (-level, idle_since, agent_id, version). Ready: (-priority, enqueued_at, order, mode, lane, stamp).
_LaneEntry = tuple[int, float, int, int, int]
_PoolEntry = tuple[int, float, int, int]


class _Item:
    __slots__ = (
        "agent_id",
        "channel",
        "cid",
        "enqueued_at",
        "gen",
        "offer",
        "order",
        "overflowed",
        "priority",
        "queue",
        "skipped",
        "state",
    )

    def __init__(self, cid: int, queue: str, channel: str, priority: int, enqueued_at: float, order: int) -> None:
        self.cid = cid
        self.queue = queue
        self.channel = channel
        self.priority = priority
        self.enqueued_at = enqueued_at
        self.order = order
        self.gen = 0
        self.state = WAITING
        self.agent_id: int | None = None
        self.offer: Offer | None = None
        self.skipped: dict[int, float] = {}
        self.overflowed = False

    def entry(self) -> _LaneEntry:
        return (-self.priority, self.enqueued_at, self.order, self.gen, self.cid)


class _Agent:
    __slots__ = (
        "capacity",
        "id",
        "idle_since",
        "items",
        "load",
        "pools",
        "rank",
        "skills",
        "status",
        "version",
    )

    def __init__(self, spec: AgentSpec) -> None:
        self.id = spec.id
        self.skills = dict(spec.skills)
        self.capacity = dict(spec.capacity)
        self.load = {ch: n for ch, n in spec.load.items() if n}
        self.status = spec.status
        self.idle_since = spec.idle_since
        self.rank = spec.rank
        self.version = 0
        self.items: set[int] = set()
        self.pools: dict[str, list[tuple[_Pool, int]]] = {}


class _Pool:
    __slots__ = ("channel", "heap", "lanes", "members", "min_rank", "skills")

    def __init__(self, skills: frozenset[int], min_rank: int, channel: str) -> None:
        self.skills = skills
        self.min_rank = min_rank
        self.channel = channel
        self.heap: list[_PoolEntry] = []
        self.members: dict[int, int] = {}  # agent id -> -level
        self.lanes: list[_Lane] = []


class _Lane:
    __slots__ = (
        "all_pools",
        "channel",
        "id",
        "items",
        "over",
        "primary",
        "ready",
        "ready_key",
        "ready_mode",
        "spec",
    )

    def __init__(self, lane_id: int, spec: QueueSpec, channel: str, primary: _Pool, secondary: list[_Pool]) -> None:
        self.id = lane_id
        self.spec = spec
        self.channel = channel
        self.primary = (primary,)
        self.all_pools = (primary, *secondary)
        self.items: list[_LaneEntry] = []
        self.over: list[_LaneEntry] = []
        self.ready = 0  # stamp of this lane's live entry in the ready heap, 0 when not queued
        self.ready_key: tuple[int, float, int] = (0, 0.0, 0)
        self.ready_mode = 0


class RoutingEngine:
    """Queues, agents, offers; see the module documentation for the rules."""

    def __init__(self, *, skip_for_s: float = 120.0) -> None:
        self.skip_for_s = skip_for_s
        self._queues: dict[str, QueueSpec] = {}
        self._agents: dict[int, _Agent] = {}
        self._items: dict[int, _Item] = {}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._lane_list: list[_Lane] = []
        self._pools: dict[tuple[frozenset[int], int, str], _Pool] = {}
        self._ready: list[tuple[int, float, int, int, int, int]] = []
        self._timers: list[tuple[float, int, int, int, int]] = []  # (due, seq, kind, cid, gen)
        self._expiries: list[tuple[float, int, int, int]] = []  # (expires_at, seq, cid, gen)
        self._waiting: dict[str, int] = {}
        self._seq = 0

    # ---------------------------------------------------------------- configuration

    def add_queue(self, spec: QueueSpec) -> None:
        """Declare a queue. Re-adding the same spec is a no-op; a changed one needs a new engine."""
        if spec.min_rank not in RANK_ORDER:
            raise RoutingError(f"unknown rank {spec.min_rank!r}")
        old = self._queues.get(spec.code)
        if old is not None and old != spec and any(q == spec.code for q, _ in self._lanes):
            raise RoutingError(f"queue {spec.code!r} is in use; build a new engine to change it")
        self._queues[spec.code] = spec
        self._waiting.setdefault(spec.code, 0)

    def upsert_agent(self, spec: AgentSpec) -> None:
        """Add an agent, or replace an existing one's skills, capacity and rank.

        For an existing agent ``status``, ``idle_since`` and ``load`` of the spec are ignored: use
        :meth:`set_status`; the engine tracks the load of the offers it makes.
        """
        if spec.status not in STATUSES:
            raise RoutingError(f"unknown status {spec.status!r}")
        if spec.rank not in RANK_ORDER:
            raise RoutingError(f"unknown rank {spec.rank!r}")
        agent = self._agents.get(spec.id)
        if agent is None:
            agent = _Agent(spec)
            self._agents[spec.id] = agent
        else:
            for plist in agent.pools.values():
                for pool, _ in plist:
                    pool.members.pop(agent.id, None)
            agent.skills = dict(spec.skills)
            agent.capacity = dict(spec.capacity)
            agent.rank = spec.rank
        agent.pools = {}
        for pool in self._pools.values():
            self._join(agent, pool)
        self._touch(agent, None, wake_all=True)

    def set_status(self, agent_id: int, status: str, now: float) -> list[int]:
        """Change an agent's status; returns the conversations that went back to their queue."""
        if status not in STATUSES:
            raise RoutingError(f"unknown status {status!r}")
        agent = self._agent(agent_id)
        if status == agent.status:
            return []
        agent.status = status
        returned: list[int] = []
        if status == AVAILABLE:
            agent.idle_since = now
            self._touch(agent, None, wake_all=True)
            return returned
        for cid in sorted(agent.items):
            item = self._items[cid]
            if item.state == OFFERED or (status == OFFLINE and item.state == ASSIGNED):
                self._unload(agent, item, now, reset_idle=False)
                self._put_waiting(item)
                returned.append(cid)
        self._touch(agent, None)
        return returned

    # ---------------------------------------------------------------- conversations

    def enqueue(
        self,
        conversation_id: int,
        queue: str,
        channel: str,
        priority: int,
        enqueued_at: float,
        skipped: Mapping[int, float] | None = None,
    ) -> None:
        """Put a conversation in a queue. ``skipped``: agent id -> until when it must not be offered."""
        if conversation_id in self._items:
            raise InvalidState(f"conversation {conversation_id} is already routed")
        if queue not in self._queues:
            raise UnknownQueue(queue)
        item = _Item(conversation_id, queue, channel, priority, enqueued_at, self._next())
        self._items[conversation_id] = item
        if skipped:
            item.skipped = dict(skipped)
            for until in set(skipped.values()):
                if math.isfinite(until):
                    heapq.heappush(self._timers, (until, self._next(), _SKIP_TIMER, conversation_id, 0))
        self._put_waiting(item)

    def dispatch(self, now: float, limit: int | None = None) -> list[Offer]:
        """Make every offer possible at ``now`` (at most ``limit``), most urgent conversation first."""
        self._run_timers(now)
        offers: list[Offer] = []
        ready = self._ready
        lanes = self._lane_list
        while ready and (limit is None or len(offers) < limit):
            negp, enq, order, mode, lane_id, stamp = heapq.heappop(ready)
            lane = lanes[lane_id]
            if lane.ready != stamp:
                continue
            lane.ready = 0
            heap = lane.over if mode else lane.items
            head = self._clean_head(heap)
            if head is None:
                continue
            if head[0] != negp or head[1] != enq or head[2] != order:
                self._push_ready(lane, head, mode)
                continue
            match = self._match(heap, lane.all_pools if mode else lane.primary, now)
            if match is not None:
                item, entry, pool = match
                offers.append(self._make_offer(lane, item, entry, pool is not lane.primary[0], now))
                self._wake(lane)
                continue
            if mode == 0 and len(lane.all_pools) > 1:
                over_head = self._clean_head(lane.over)
                if over_head is not None:
                    self._push_ready(lane, over_head, 1)
        return offers

    def accept(self, conversation_id: int, now: float) -> Offer:
        item = self._item(conversation_id)
        if item.state != OFFERED or item.offer is None:
            raise InvalidState(f"conversation {conversation_id} is {item.state}, not offered")
        if now > item.offer.expires_at:
            raise OfferExpired(f"the offer of conversation {conversation_id} expired")
        item.state = ASSIGNED
        item.gen = self._next()
        return item.offer

    def reject(self, conversation_id: int, now: float) -> Offer:
        item = self._item(conversation_id)
        if item.state != OFFERED or item.offer is None or item.agent_id is None:
            raise InvalidState(f"conversation {conversation_id} is {item.state}, not offered")
        offer = item.offer
        agent = self._agents[item.agent_id]
        self._unload(agent, item, now, reset_idle=False)
        self._skip(item, agent.id, now + self.skip_for_s)
        self._put_waiting(item)
        return offer

    def expire(self, now: float) -> list[Offer]:
        """Offers whose time is up at ``now``: their conversations go back to their place in queue."""
        expired: list[Offer] = []
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, _, cid, gen = heapq.heappop(heap)
            item = self._items.get(cid)
            if item is None or item.gen != gen or item.state != OFFERED or item.agent_id is None:
                continue
            assert item.offer is not None
            expired.append(item.offer)
            agent = self._agents[item.agent_id]
            self._unload(agent, item, now, reset_idle=False)
            self._skip(item, agent.id, now + self.skip_for_s)
            self._put_waiting(item)
        return expired

    def release(self, conversation_id: int, now: float) -> None:
        """The conversation leaves routing (resolved, closed, abandoned); its agent's slot is freed."""
        item = self._items.pop(conversation_id, None)
        if item is None:
            return
        if item.state == WAITING:
            self._waiting[item.queue] -= 1
        elif item.agent_id is not None:
            agent = self._agents.get(item.agent_id)
            if agent is not None:
                self._unload(agent, item, now, reset_idle=item.state == ASSIGNED)
        item.state = "gone"

    def transfer(
        self,
        conversation_id: int,
        queue: str,
        now: float,
        priority: int | None = None,
        skip_agent: int | None = None,
    ) -> None:
        """Move a conversation to another queue (e.g. the supervisor queue), waiting from ``now``."""
        if queue not in self._queues:
            raise UnknownQueue(queue)
        item = self._item(conversation_id)
        if item.state == WAITING:
            self._waiting[item.queue] -= 1
        elif item.agent_id is not None:
            self._unload(self._agents[item.agent_id], item, now, reset_idle=item.state == ASSIGNED)
        item.queue = queue
        if priority is not None:
            item.priority = priority
        item.enqueued_at = now
        item.order = self._next()
        item.overflowed = False
        item.skipped = {}
        if skip_agent is not None:
            item.skipped[skip_agent] = math.inf
        self._put_waiting(item)

    # ---------------------------------------------------------------- reads

    def position(self, conversation_id: int) -> int | None:
        """1-based place among the waiting conversations of its queue; 0 while being offered."""
        item = self._items.get(conversation_id)
        if item is None or item.state == ASSIGNED:
            return None
        if item.state == OFFERED:
            return 0
        key = (-item.priority, item.enqueued_at, item.order)
        ahead = 0
        for (queue, _), lane in self._lanes.items():
            if queue != item.queue:
                continue
            for entry in lane.items:
                if entry[:3] < key and self._valid(entry):
                    ahead += 1
        return ahead + 1

    def conversation(self, conversation_id: int) -> ConversationView | None:
        item = self._items.get(conversation_id)
        if item is None:
            return None
        return ConversationView(
            item.cid,
            item.queue,
            item.channel,
            item.priority,
            item.enqueued_at,
            item.state,
            item.agent_id,
            item.offer,
        )

    def agent(self, agent_id: int) -> AgentView | None:
        a = self._agents.get(agent_id)
        if a is None:
            return None
        return AgentView(a.id, a.status, a.rank, a.idle_since, dict(a.load), dict(a.capacity))

    def waiting(self, queue: str | None = None) -> int:
        if queue is None:
            return sum(self._waiting.values())
        return self._waiting.get(queue, 0)

    # ---------------------------------------------------------------- internals

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _item(self, cid: int) -> _Item:
        item = self._items.get(cid)
        if item is None:
            raise UnknownConversation(str(cid))
        return item

    def _agent(self, agent_id: int) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(str(agent_id))
        return agent

    def _valid(self, entry: _LaneEntry) -> bool:
        item = self._items.get(entry[4])
        return item is not None and item.gen == entry[3] and item.state == WAITING

    def _clean_head(self, heap: list[_LaneEntry]) -> _LaneEntry | None:
        items = self._items
        while heap:
            entry = heap[0]
            item = items.get(entry[4])
            if item is not None and item.gen == entry[3] and item.state == WAITING:
                return entry
            heapq.heappop(heap)
        return None

    def _lane(self, queue: str, channel: str) -> _Lane:
        lane = self._lanes.get((queue, channel))
        if lane is not None:
            return lane
        spec = self._queues[queue]
        rank = RANK_ORDER[spec.min_rank]
        primary = self._pool(spec.required_skills, rank, channel)
        secondary: list[_Pool] = []
        if spec.overflow_after_s is not None:
            secondary = [
                self._pool(frozenset({s}), rank, channel) for s in sorted(spec.secondary_skills - spec.required_skills)
            ]
        lane = _Lane(len(self._lane_list), spec, channel, primary, secondary)
        self._lanes[(queue, channel)] = lane
        self._lane_list.append(lane)
        for pool in lane.all_pools:
            pool.lanes.append(lane)
        return lane

    def _pool(self, skills: frozenset[int], min_rank: int, channel: str) -> _Pool:
        key = (skills, min_rank, channel)
        pool = self._pools.get(key)
        if pool is None:
            pool = _Pool(skills, min_rank, channel)
            self._pools[key] = pool
            for agent in self._agents.values():
                if self._join(agent, pool) and self._eligible(agent, channel):
                    heapq.heappush(pool.heap, (pool.members[agent.id], agent.idle_since, agent.id, agent.version))
        return pool

    def _join(self, agent: _Agent, pool: _Pool) -> bool:
        if agent.capacity.get(pool.channel, 0) <= 0 or RANK_ORDER[agent.rank] < pool.min_rank:
            return False
        skills = agent.skills
        if any(s not in skills for s in pool.skills):
            return False
        neg_level = -min((skills[s] for s in pool.skills), default=0)
        pool.members[agent.id] = neg_level
        agent.pools.setdefault(pool.channel, []).append((pool, neg_level))
        return True

    @staticmethod
    def _eligible(agent: _Agent, channel: str) -> bool:
        return agent.status == AVAILABLE and agent.load.get(channel, 0) < agent.capacity.get(channel, 0)

    def _touch(self, agent: _Agent, wake_channel: str | None, wake_all: bool = False) -> None:
        """The agent changed: invalidate its pool entries and push fresh ones where it is eligible."""
        agent.version += 1
        if agent.status != AVAILABLE:
            return
        version = agent.version
        for channel, plist in agent.pools.items():
            if agent.load.get(channel, 0) >= agent.capacity.get(channel, 0):
                continue
            wake = wake_all or channel == wake_channel
            for pool, neg_level in plist:
                heap = pool.heap
                heapq.heappush(heap, (neg_level, agent.idle_since, agent.id, version))
                if len(heap) > 4 * len(pool.members) + 64:
                    self._compact(pool)
                if wake:
                    for lane in pool.lanes:
                        if not lane.ready or lane.ready_mode:
                            self._wake(lane)

    def _compact(self, pool: _Pool) -> None:
        agents = self._agents
        heap = []
        for agent_id, neg_level in pool.members.items():
            agent = agents[agent_id]
            if self._eligible(agent, pool.channel):
                heap.append((neg_level, agent.idle_since, agent_id, agent.version))
        heapq.heapify(heap)
        pool.heap = heap

    def _put_waiting(self, item: _Item) -> None:
        lane = self._lane(item.queue, item.channel)
        item.state = WAITING
        item.agent_id = None
        item.offer = None
        item.gen = self._next()
        entry = item.entry()
        heapq.heappush(lane.items, entry)
        if len(lane.all_pools) > 1:
            if item.overflowed:
                heapq.heappush(lane.over, entry)
            else:
                due = item.enqueued_at + (lane.spec.overflow_after_s or 0.0)
                heapq.heappush(self._timers, (due, self._next(), _OVERFLOW_TIMER, item.cid, item.gen))
        self._waiting[item.queue] += 1
        if lane.ready and not lane.ready_mode and entry[:3] >= lane.ready_key:
            return  # the lane is already due for a look, at a place no later than this one
        self._push_ready(lane, entry, 0)

    def _wake(self, lane: _Lane) -> None:
        head = self._clean_head(lane.items)
        if head is not None:
            self._push_ready(lane, head, 0)

    def _push_ready(self, lane: _Lane, entry: _LaneEntry, mode: int) -> None:
        stamp = self._next()
        lane.ready = stamp
        lane.ready_key = (entry[0], entry[1], entry[2])
        lane.ready_mode = mode
        heapq.heappush(self._ready, (entry[0], entry[1], entry[2], mode, lane.id, stamp))

    def _run_timers(self, now: float) -> None:
        timers = self._timers
        items = self._items
        while timers and timers[0][0] <= now:
            _, _, kind, cid, gen = heapq.heappop(timers)
            item = items.get(cid)
            if item is None or item.state != WAITING:
                continue
            lane = self._lanes[(item.queue, item.channel)]
            if kind == _OVERFLOW_TIMER:
                if item.gen != gen or item.overflowed:
                    continue
                item.overflowed = True
                heapq.heappush(lane.over, item.entry())
            else:
                item.skipped = {a: t for a, t in item.skipped.items() if t > now}
            self._wake(lane)

    def _match(
        self, heap: list[_LaneEntry], pools: tuple[_Pool, ...], now: float
    ) -> tuple[_Item, _PoolEntry, _Pool] | None:
        """The first conversation of ``heap`` that has an eligible agent in ``pools``, and that agent."""
        items = self._items
        held: list[_LaneEntry] = []
        result: tuple[_Item, _PoolEntry, _Pool] | None = None
        while heap:
            entry = heap[0]
            item = items.get(entry[4])
            if item is None or item.gen != entry[3] or item.state != WAITING:
                heapq.heappop(heap)
                continue
            skipped = item.skipped or None
            best: _PoolEntry | None = None
            best_pool: _Pool | None = None
            excluded = False
            for i, pool in enumerate(pools):
                found, exc = self._pool_best(pool, skipped, now)
                excluded = excluded or exc
                if found is None:
                    continue
                if i == 0:  # the required skills win over any secondary skill
                    best, best_pool = found, pool
                    break
                if best is None or found < best:
                    best, best_pool = found, pool
            if best is not None and best_pool is not None:
                result = (item, best, best_pool)
                break
            if not excluded or len(held) >= _DEEP:
                break
            held.append(heapq.heappop(heap))
        for entry in held:
            heapq.heappush(heap, entry)
        return result

    def _pool_best(self, pool: _Pool, skipped: dict[int, float] | None, now: float) -> tuple[_PoolEntry | None, bool]:
        heap = pool.heap
        agents = self._agents
        held: list[_PoolEntry] = []
        found: _PoolEntry | None = None
        excluded = False
        while heap:
            entry = heap[0]
            agent = agents.get(entry[2])
            if agent is None or agent.version != entry[3]:
                heapq.heappop(heap)
                continue
            if skipped is not None:
                until = skipped.get(entry[2])
                if until is not None and until > now:
                    excluded = True
                    held.append(heapq.heappop(heap))
                    continue
            found = entry
            break
        for entry in held:
            heapq.heappush(heap, entry)
        return found, excluded

    def _make_offer(self, lane: _Lane, item: _Item, entry: _PoolEntry, via_overflow: bool, now: float) -> Offer:
        agent = self._agents[entry[2]]
        spec = lane.spec
        item.state = OFFERED
        item.gen = self._next()
        item.agent_id = agent.id
        self._waiting[spec.code] -= 1
        channel = item.channel
        agent.load[channel] = agent.load.get(channel, 0) + 1
        agent.idle_since = now
        agent.items.add(item.cid)
        self._touch(agent, None)
        offer = Offer(item.cid, agent.id, spec.code, channel, now, now + spec.offer_timeout_s, -entry[0], via_overflow)
        item.offer = offer
        heapq.heappush(self._expiries, (offer.expires_at, self._next(), item.cid, item.gen))
        return offer

    def _unload(self, agent: _Agent, item: _Item, now: float, reset_idle: bool) -> None:
        channel = item.channel
        agent.load[channel] = max(0, agent.load.get(channel, 0) - 1)
        agent.items.discard(item.cid)
        if reset_idle:
            agent.idle_since = now
        item.agent_id = None
        item.offer = None
        self._touch(agent, channel)

    def _skip(self, item: _Item, agent_id: int, until: float) -> None:
        item.skipped[agent_id] = until
        if math.isfinite(until):
            heapq.heappush(self._timers, (until, self._next(), _SKIP_TIMER, item.cid, 0))
