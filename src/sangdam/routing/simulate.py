"""Replay a realistic day of the customer center against the real routing engine, in accelerated time.

A discrete-event simulation (no sleeping: the clock jumps from one event to the next) that drives
:class:`sangdam.routing.engine.RoutingEngine` as the service does — ``enqueue``, ``dispatch``,
``accept``, ``expire``, ``release``, ``set_status`` — with the engine's ``now`` in seconds since
midnight, Seoul time.

The day
-------
* **Arrivals** by hour (Poisson within each hour) with the morning peak at 09–11, a lunchtime dip
  and a quieter afternoon; Monday is the busiest weekday. The lost/stolen-card and fraud line
  (``lost_card``) answers around the clock; the other lines keep the hours of
  :class:`~sangdam.routing.hours.Calendar` (weekdays 09:00–18:00, closed on public holidays).
* **Channels and topics**: voice, web chat and KakaoTalk; the card taxonomy's topics in four queues
  (``lost_card``, ``billing``, ``card``, ``general``); priority from the topic plus a tier bonus for
  gold and VIP members, as the conversations feature sets it.
* **Teams on shifts**: a phone team per queue, a chat team taking every business queue's chats
  (two web chats and one KakaoTalk chat at a time), the 24/7 team's night, day and evening shifts;
  staggered lunch breaks. At the end of a shift an agent takes nothing new and leaves once free.
* **Handle times** lognormal by channel; after-call work (후처리) after each call. Agents miss 2 %
  of offers (the offer expires and the conversation goes back to its place).
* **Patience** lognormal (median 3 min on the phone, longer in chat): a customer still waiting
  then hangs up.
* **Out of hours** the contact is told when the line opens; half leave a callback request
  (콜백 예약), released when the line opens as an outbound call that waits behind live customers;
  requests left since the previous business day's closing are released at this day's opening.

Wait estimates
--------------
Every customer who has to wait is told an estimate when they join the line (one whose offer rang
unanswered, when it comes back to the line) and every minute after. Estimates come from
:class:`~sangdam.routing.estimates.WaitMonitor`, one per line (a phone team's queue; the chat
team's web chats; its KakaoTalk chats; the 24/7 team's channels), from what the router and the
shift plan know at that moment: the customer's place in the line, how long each agent's current
contact (or after-call work) has lasted, who is at lunch or starting soon and who leaves soon,
with handle times learnt from the contacts finished so far.

Figures (live contacts that reached an open line; callbacks are reported apart)
--------------------------------------------------------------------------------
* ``service_level``: answered within the target (20 s) / (answered + abandoned).
* ``avg_wait_s`` / ``p90_wait_s``: over answered contacts (answered at once: 0 s).
* ``abandonment_rate``: abandoned / (answered + abandoned).
* ``eta_error``: median over answered contacts that were told an estimate and then waited > 0 of
  ``|estimate − actual| / actual``, with the first estimate they were told and the wait from that
  moment. Contacts answered at once were told nothing; callbacks are called when an agent is free
  and are told nothing either. Those told an estimate who hung up before an answer have no wait to
  compare with (``eta_unanswered`` counts them). ``eta_error_refreshed`` is the same over every
  estimate shown (the first and each refresh, against the wait left), and ``eta_by_position``
  breaks ``eta_error`` down by place in line.
* ``eta_floor``: the lowest median error any estimator could expect for the same first estimates,
  knowing the day's true handle-time distributions and everything the router knows at that
  moment, but not how long the contacts in progress will still last
  (:func:`~sangdam.routing.estimates.error_floor`, per place in line in ``eta_by_position``);
  ``eta_attainable_share``: at best, the expected share of them within ``ETA_AIM`` (20 %) of the
  wait. Both leave out overtaking, hang-ups ahead and missed offers, so they are, if anything, too
  kind. Waits beyond the first round of slots (more ahead than slots) are left out of them.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Any

from sangdam.core.clock import SEOUL
from sangdam.routing import engine as routing
from sangdam.routing.erlang import agents_needed
from sangdam.routing.estimates import (
    BusySlot,
    Floats,
    HandleTimeModel,
    WaitMonitor,
    attainable_share,
    best_shares_within,
    error_floor,
    wait_distribution,
)
from sangdam.routing.hours import LOST_CARD_QUEUE, Calendar
from sangdam.routing.staffing import ServiceTarget

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REFERENCE_MONDAY = date(2026, 11, 23)  # a week without public holidays

# --- the center's shape --------------------------------------------------------------------------

QUEUES: dict[str, tuple[str, ...]] = {
    LOST_CARD_QUEUE: ("lost_card", "fraud_security"),
    "billing": ("payment_billing", "overdue_payment", "transfer_pay"),
    "card": ("limit_approval", "cancel_reissue"),
    "general": ("points_benefits", "account_auth", "service_usage", "other"),
}
SKILL = {code: i + 1 for i, code in enumerate(QUEUES)}  # one skill per queue
TOPIC_PRIORITY = {
    "lost_card": 100,
    "fraud_security": 95,
    "overdue_payment": 70,
    "payment_billing": 60,
    "limit_approval": 60,
    "transfer_pay": 55,
    "cancel_reissue": 50,
    "account_auth": 45,
    "points_benefits": 40,
    "service_usage": 30,
    "other": 30,
}
QUEUE_OF = {topic: queue for queue, topics in QUEUES.items() for topic in topics}

# Share of the business-hours volume by topic (the 24/7 line has its own volume).
TOPIC_MIX = {
    "payment_billing": 0.24,
    "overdue_payment": 0.07,
    "transfer_pay": 0.07,
    "limit_approval": 0.13,
    "cancel_reissue": 0.13,
    "points_benefits": 0.13,
    "account_auth": 0.11,
    "service_usage": 0.06,
    "other": 0.06,
}
LOST_MIX = {"lost_card": 0.7, "fraud_security": 0.3}
CHANNEL_MIX = {"voice": 0.6, "webchat": 0.25, "kakao": 0.15}
TIER_MIX = {"general": 0.85, "gold": 0.1, "vip": 0.05}
TIER_BONUS = {"general": 0, "gold": 3, "vip": 5}

# Lognormal handle times: (mean seconds, sigma of the log); after-call work for voice.
HANDLE = {"voice": (270.0, 0.55), "webchat": (540.0, 0.6), "kakao": (600.0, 0.6)}
AFTER_CALL = (30.0, 0.4)
# Lognormal patience (median seconds, sigma): few hang up in the first seconds, most within minutes.
PATIENCE = {"voice": (180.0, 0.9), "webchat": (420.0, 0.9), "kakao": (600.0, 0.9)}
MISSED_OFFER = 0.02
CALLBACK_SHARE = 0.5  # of out-of-hours contacts who leave a callback request
CALLBACK_PRIORITY = 10  # callbacks are worked when no live customer of their queue waits

# Contacts to the business-hours lines per weekday, and their share by hour of the day.
# Hours outside 09–18 are attempts while closed (they get the closed message).
DAILY_VOLUME = {
    "monday": 3300,
    "tuesday": 2800,
    "wednesday": 2650,
    "thursday": 2650,
    "friday": 2900,
    "saturday": 700,
    "sunday": 500,
}
HOURLY_SHARE = {
    7: 0.010,
    8: 0.025,
    9: 0.150,
    10: 0.160,
    11: 0.125,
    12: 0.080,
    13: 0.100,
    14: 0.100,
    15: 0.095,
    16: 0.090,
    17: 0.085,
    18: 0.020,
    19: 0.015,
    20: 0.012,
    21: 0.008,
    22: 0.005,
}
LOST_DAILY = {"monday": 230, "saturday": 170, "sunday": 160}
LOST_DAILY_DEFAULT = 200
LOST_HOURLY = (1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 5, 8, 8, 7, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 2, 1.5)


@dataclass(frozen=True, slots=True)
class Shift:
    """``count`` agents of a team working ``start``–``end`` (hours of the day) with a one-hour lunch.

    Teams: a queue's phone team (``billing``, ``card``, ``general``, ``lost_card`` — the 24/7 team,
    which also takes its chats) or ``chat``, which takes the chats of every business queue.
    """

    team: str
    count: int
    start: float
    end: float
    lunch: float | None = None  # start hour of the break (staggered by ±15 minutes)


def _day_shifts(team: str, early: int, late: int, later: int) -> tuple[Shift, ...]:
    return (
        Shift(team, early, 9, 18, lunch=11.5),
        Shift(team, late, 9, 18, lunch=12.5),
        Shift(team, later, 10, 19, lunch=13.5),
    )


LOST_TEAM: tuple[Shift, ...] = (
    Shift(LOST_CARD_QUEUE, 3, 0, 9),
    Shift(LOST_CARD_QUEUE, 2, 9, 18, lunch=11.5),
    Shift(LOST_CARD_QUEUE, 2, 9, 18, lunch=12.5),
    Shift(LOST_CARD_QUEUE, 3, 18, 24),
    Shift(LOST_CARD_QUEUE, 3, 24, 27),  # the next night's crew: the day's last contacts are answered
)
ROSTER: tuple[Shift, ...] = (
    *_day_shifts("billing", 6, 6, 3),
    *_day_shifts("card", 4, 4, 2),
    *_day_shifts("general", 5, 5, 3),
    *_day_shifts("chat", 6, 6, 4),
    *LOST_TEAM,
)
WEEKEND_ROSTER: tuple[Shift, ...] = LOST_TEAM

REFRESH_S = 60.0  # a waiting customer's estimate is refreshed every minute
ETA_AIM = 0.20  # the aim for the median relative error of the first estimates (issue #4)
CHAT_SLOTS_PER_AGENT = 3
POSITION_BANDS = ((1, 1), (2, 3), (4, 9), (10, 1_000_000))

# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HourStats:
    hour: int
    arrivals: int
    answered: int
    abandoned: int
    service_level: float
    avg_wait_s: float | None
    agents_on_shift: int  # scheduled, not at lunch, at half past
    agents_needed: int  # Erlang C for the hour's actual contacts (phone + chat), pooled


@dataclass(frozen=True, slots=True)
class PositionError:
    positions: str  # "1", "2–3", "4–9", "10+"
    samples: int
    eta_error: float | None
    floor: float | None = None  # the lowest median error any estimator could expect (see ``eta_floor``)


@dataclass(frozen=True)
class SimulationReport:
    day: str
    date: date
    seed: int
    target: ServiceTarget
    contacts: int
    answered: int
    abandoned: int
    service_level: float
    avg_wait_s: float
    p90_wait_s: float
    abandonment_rate: float
    eta_error: float | None
    eta_samples: int
    eta_error_refreshed: float | None
    eta_by_position: list[PositionError]
    eta_unanswered: int  # told an estimate, then hung up: no wait to compare with
    eta_floor: float | None  # the lowest median error any estimator knowing what the center knows could expect
    eta_attainable_share: float | None  # the largest expected share of first estimates within ETA_AIM
    closed_contacts: int  # arrived while their line was closed
    callbacks_requested: int  # by this day's closed contacts (due at the next opening)
    callbacks_released: int  # due this day: left since the previous business day's closing
    callbacks_answered: int
    offers: int
    missed_offers: int
    agents: int
    by_hour: list[HourStats] = field(default_factory=list)
    by_channel: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["date"] = self.date.isoformat()
        data["target"] = {"share": self.target.share, "seconds": self.target.seconds}
        return data


# --- the simulation ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Contact:
    cid: int
    arrived: float
    queue: str
    topic: str
    channel: str
    priority: int
    patience: float
    handle: float
    callback: bool = False
    closed: bool = False  # arrived while its line was closed
    agent_id: int | None = None
    answered: float | None = None
    abandoned: float | None = None
    told: list[tuple[float, float, int]] = field(default_factory=list)  # (at, estimate, position)
    attainable: Floats | None = None  # at the first estimate: best chances of any estimate (see _attainable)


@dataclass(slots=True)
class _Agent:
    id: int
    team: str
    on_shift: bool = False
    on_lunch: bool = False
    shift: tuple[float, float] = (0.0, 0.0)  # seconds since midnight
    lunch: tuple[float, float] | None = None
    in_after_call: bool = False
    after_call_since: float = 0.0
    active: dict[int, tuple[str, float]] = field(default_factory=dict)  # contact -> (channel, since)


@dataclass(frozen=True, slots=True)
class _Arrival:
    at: float  # seconds since midnight of the simulated day (negative: earlier days)
    topic: str
    channel: str
    tier: str


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _hourly(rng: random.Random, per_hour: dict[int, float], offset: float) -> list[float]:
    """Poisson arrival times, ``per_hour[h]`` expected in hour ``h``."""
    times = []
    for hour, expected in per_hour.items():
        if expected <= 0:
            continue
        rate = expected / 3600
        t = hour * 3600 + rng.expovariate(rate)
        while t < (hour + 1) * 3600:
            times.append(offset + t)
            t += rng.expovariate(rate)
    return times


def _arrivals(rng: random.Random, day: str, offset: float = 0.0, scale: float = 1.0) -> list[_Arrival]:
    """A day's contacts — business lines, then the 24/7 line — in time order."""
    volume = DAILY_VOLUME[day] * scale
    out = [
        _Arrival(t, _pick(rng, TOPIC_MIX), _pick(rng, CHANNEL_MIX), _pick(rng, TIER_MIX))
        for t in _hourly(rng, {h: volume * share for h, share in HOURLY_SHARE.items()}, offset)
    ]
    lost = LOST_DAILY.get(day, LOST_DAILY_DEFAULT) * scale / sum(LOST_HOURLY)
    for t in _hourly(rng, {h: lost * w for h, w in enumerate(LOST_HOURLY)}, offset):
        channel = "voice" if rng.random() < 0.8 else "webchat"
        out.append(_Arrival(t, _pick(rng, LOST_MIX), channel, _pick(rng, TIER_MIX)))
    out.sort(key=lambda a: a.at)
    return out


def _line(contact: _Contact) -> str:
    """The line a contact waits in: what one team works through in the router's order."""
    if contact.channel != "voice" and contact.queue != LOST_CARD_QUEUE:
        return f"chat/{contact.channel}"
    return f"{contact.queue}/{contact.channel}"


def _order(contact: _Contact) -> tuple[int, float, int]:
    """The engine's order of service: priority, then time enqueued, then first come."""
    return (-contact.priority, contact.arrived, contact.cid)


class _Simulation:
    def __init__(
        self,
        day: str,
        on: date,
        seed: int,
        calendar: Calendar,
        roster: tuple[Shift, ...],
        target: ServiceTarget,
        scale: float,
    ) -> None:
        self.day = day
        self.on = on
        self.seed = seed
        self.calendar = calendar
        self.roster = roster
        self.target = target
        self.scale = scale
        self.rng = random.Random(seed)
        self.midnight = datetime.combine(on, time(0), tzinfo=SEOUL)
        self.engine = routing.RoutingEngine()
        self.events: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self.contacts: dict[int, _Contact] = {}
        self.agents: dict[int, _Agent] = {}
        self.monitors: dict[str, WaitMonitor] = {}
        self.waiting: dict[str, list[tuple[int, float, int]]] = {}  # per line, in order of service
        self.callbacks_requested = 0
        self.offers = 0
        self.missed = 0
        self._build()

    # -- set-up

    def _build(self) -> None:
        for code in QUEUES:
            self.engine.add_queue(routing.QueueSpec(code, required_skills=frozenset({SKILL[code]})))
        for shift in self.roster:
            for _ in range(shift.count):
                agent = _Agent(len(self.agents) + 1, shift.team, shift=(shift.start * 3600, shift.end * 3600))
                self.agents[agent.id] = agent
                self.engine.upsert_agent(
                    routing.AgentSpec(agent.id, self._skills(shift.team), self._capacity(shift.team))
                )
                self._at(shift.start * 3600, "shift_start", agent.id)
                self._at(shift.end * 3600, "shift_end", agent.id)
                if shift.lunch is not None:
                    lunch = shift.lunch * 3600 + self.rng.uniform(-900, 900)
                    agent.lunch = (lunch, lunch + 3600)
                    self._at(lunch, "lunch_start", agent.id)
                    self._at(lunch + 3600, "lunch_end", agent.id)

    def _skills(self, team: str) -> dict[int, int]:
        if team == "chat":
            return {SKILL[q]: self.rng.randint(2, 5) for q in ("billing", "card", "general")}
        return {SKILL[team]: self.rng.randint(3, 5)}

    @staticmethod
    def _capacity(team: str) -> dict[str, int]:
        if team == "chat":
            return {"webchat": 2, "kakao": 1}
        if team == LOST_CARD_QUEUE:
            return {"voice": 1, "webchat": 1}
        return {"voice": 1}

    def _at(self, t: float, kind: str, ref: int) -> None:
        self._seq += 1
        heapq.heappush(self.events, (t, self._seq, kind, ref))

    def _instant(self, t: float) -> datetime:
        return self.midnight + timedelta(seconds=t)

    def _seconds(self, at: datetime) -> float:
        return (at - self.midnight).total_seconds()

    def _new_contact(self, arrival: _Arrival, callback: bool = False) -> _Contact:
        channel = "voice" if callback else arrival.channel
        contact = _Contact(
            cid=len(self.contacts) + 1,
            arrived=arrival.at,
            queue=QUEUE_OF[arrival.topic],
            topic=arrival.topic,
            channel=channel,
            priority=CALLBACK_PRIORITY if callback else TOPIC_PRIORITY[arrival.topic] + TIER_BONUS[arrival.tier],
            patience=math.inf if callback else self._patience(channel),
            handle=_lognormal(self.rng, *HANDLE[channel]),
            callback=callback,
        )
        self.contacts[contact.cid] = contact
        return contact

    def _patience(self, channel: str) -> float:
        median_s, sigma = PATIENCE[channel]
        return self.rng.lognormvariate(math.log(median_s), sigma)

    def _schedule_arrivals(self) -> None:
        for arrival in _arrivals(self.rng, self.day, scale=self.scale):
            self._at(arrival.at, "arrival", self._new_contact(arrival).cid)
        self._carry_in_callbacks()

    def _request_callback(self, arrival: _Arrival, today: bool = True) -> None:
        """Half of those who find their line closed book a callback for its next opening."""
        if self.rng.random() >= CALLBACK_SHARE:
            return
        if today:
            self.callbacks_requested += 1
        queue = QUEUE_OF[arrival.topic]
        opening = self.calendar.next_opening(self._instant(arrival.at), queue, "voice")
        if opening is not None and opening.date() == self.on:
            callback = self._new_contact(arrival, callback=True)
            self._at(self._seconds(opening), "callback", callback.cid)

    def _carry_in_callbacks(self) -> None:
        """Callback requests left since the previous business day's closing, due today."""
        for back in range(1, 8):
            earlier = self.on - timedelta(days=back)
            for arrival in _arrivals(self.rng, DAYS[earlier.weekday()], -back * 86400.0, self.scale):
                queue = QUEUE_OF[arrival.topic]
                if queue != LOST_CARD_QUEUE and not self.calendar.is_open(
                    self._instant(arrival.at), queue, arrival.channel
                ):
                    self._request_callback(arrival, today=False)
            if self.calendar.is_open(datetime.combine(earlier, time(12), tzinfo=SEOUL), "billing", "voice"):
                break  # that business day handled the requests left before it opened

    # -- the run

    def run(self) -> SimulationReport:
        self._schedule_arrivals()
        handlers: dict[str, Callable[[float, int], None]] = {
            "arrival": self._arrival,
            "callback": self._callback,
            "refresh": self._refresh,
            "done": self._done,
            "after_call_end": self._after_call_end,
            "abandon": self._abandon,
            "expire": self._expire,
            "shift_start": self._shift_start,
            "shift_end": self._shift_end,
            "lunch_start": self._lunch_start,
            "lunch_end": self._lunch_end,
        }
        while self.events:
            t, _, kind, ref = heapq.heappop(self.events)
            if t >= 27 * 3600:  # the evening's last contacts are long done by 03:00
                break
            handlers[kind](t, ref)
            self._dispatch(t)
        return self._report()

    def _dispatch(self, t: float) -> None:
        for offer in self.engine.dispatch(t):
            self.offers += 1
            contact = self.contacts[offer.conversation_id]
            if not contact.callback and self.rng.random() < MISSED_OFFER:
                self.missed += 1
                self._at(offer.expires_at, "expire", offer.conversation_id)
                continue
            self.engine.accept(offer.conversation_id, t)
            self._answer(contact, offer.agent_id, t)

    def _answer(self, contact: _Contact, agent_id: int, t: float) -> None:
        contact.answered = t
        contact.agent_id = agent_id
        self.agents[agent_id].active[contact.cid] = (contact.channel, t)
        monitor = self._monitor(_line(contact))
        if self._leave_line(contact):
            first = contact.told[0] if contact.told else None
            if first is not None:
                monitor.answered(t, t - first[0], first[1])
            else:
                monitor.answered(t, t - contact.arrived)
        elif not contact.callback:
            monitor.answered_at_once()
        self._at(t + contact.handle, "done", contact.cid)

    def _arrival(self, t: float, cid: int) -> None:
        contact = self.contacts[cid]
        if not self.calendar.is_open(self._instant(t), contact.queue, contact.channel):
            contact.closed = True
            self._request_callback(_Arrival(t, contact.topic, contact.channel, "general"))
            return
        self.engine.enqueue(cid, contact.queue, contact.channel, contact.priority, t)
        self._dispatch(t)
        view = self.engine.conversation(cid)
        if view is None or view.state == routing.ASSIGNED:
            return
        self._at(t + contact.patience, "abandon", cid)
        self._join_line(contact)
        if view.state == routing.WAITING:  # an offer being made (ringing) tells nothing yet
            self._tell_wait(contact, t)

    def _callback(self, t: float, cid: int) -> None:
        contact = self.contacts[cid]
        contact.arrived = t
        self.engine.enqueue(cid, contact.queue, "voice", contact.priority, t)
        self._join_line(contact)

    # -- lines and estimates

    def _monitor(self, line: str) -> WaitMonitor:
        if line not in self.monitors:
            # What the center assumed before the day: round figures, not the simulation's own.
            voice = line.endswith("/voice")
            prior = HandleTimeModel(300.0, 0.6, 30.0, 0.5) if voice else HandleTimeModel(600.0, 0.6)
            self.monitors[line] = WaitMonitor(prior)
        return self.monitors[line]

    def _join_line(self, contact: _Contact) -> None:
        line = _line(contact)
        self._monitor(line).joined(contact.arrived, contact.priority)
        bisect.insort(self.waiting.setdefault(line, []), _order(contact))

    def _leave_line(self, contact: _Contact) -> bool:
        waiting = self.waiting.get(_line(contact), [])
        key = _order(contact)
        i = bisect.bisect_left(waiting, key)
        if i < len(waiting) and waiting[i] == key:
            del waiting[i]
            return True
        return False

    def _ahead(self, contact: _Contact) -> int:
        """Waiting conversations of the line the router will serve first."""
        return bisect.bisect_left(self.waiting.get(_line(contact), []), _order(contact))

    def _slots(self, line: str, t: float) -> list[BusySlot | None]:
        """The line's slots as the router and the shift plan know them: each busy one with how
        long its contact (or its agent's after-call work) has lasted and when its agent goes on
        break or off shift; those of agents at lunch or starting within the hour with when they
        are due; None for a free one."""
        team, channel = line.split("/")
        per_agent = self._capacity(team).get(channel, 0)
        slots: list[BusySlot | None] = []
        for agent in self.agents.values():
            if agent.team != team or not per_agent:
                continue
            if agent.on_lunch and agent.lunch is not None:
                slots.extend([BusySlot(back_in_s=max(0.0, agent.lunch[1] - t))] * per_agent)
                continue
            if not agent.on_shift:
                if 0 <= agent.shift[0] - t <= 3600:
                    slots.extend([BusySlot(back_in_s=agent.shift[0] - t)] * per_agent)
                continue
            leaves = agent.shift[1] - t
            if agent.lunch is not None and agent.lunch[0] > t:
                leaves = min(leaves, agent.lunch[0] - t)
            busy = [since for ch, since in agent.active.values() if ch == channel]
            for i in range(per_agent):
                if i < len(busy):
                    slots.append(BusySlot(t - busy[i], leaves_in_s=leaves))
                elif agent.in_after_call:
                    slots.append(BusySlot(t - agent.after_call_since, after_call=True, leaves_in_s=leaves))
                else:
                    slots.append(None)
        return slots

    def _tell_wait(self, contact: _Contact, t: float) -> None:
        """Tell a waiting customer their estimated wait, and refresh it in a minute."""
        line = _line(contact)
        ahead = self._ahead(contact)
        slots = self._slots(line, t)
        estimate = self._monitor(line).estimate(ahead, t, slots, contact.priority)
        if not contact.told:
            contact.attainable = self._attainable(line, ahead + 1, slots)
        contact.told.append((t, estimate.seconds, ahead + 1))
        self._at(t + REFRESH_S, "refresh", contact.cid)

    @staticmethod
    def _attainable(line: str, position: int, slots: list[BusySlot | None]) -> Floats | None:
        """What any estimate could achieve for this wait: for each relative error, the best chance
        of being within it (:func:`~sangdam.routing.estimates.best_shares_within`).

        The wait's distribution is the slot model's with the day's *true* handle-time and after-call
        distributions and everything the router knows now (each slot's elapsed time, breaks, shift
        ends): an estimator that knows all but how long the contacts in progress will still last.
        It leaves out the uncertainty of more urgent arrivals overtaking, hang-ups ahead, missed
        offers and the length of after-call work (taken at its mean), so what it allows is, if
        anything, more than can be had. None beyond the first round of slots.
        """
        channel = line.split("/")[1]
        mean, sigma = HANDLE[channel]
        after_call = AFTER_CALL if channel == "voice" else (0.0, AFTER_CALL[1])
        cdf = wait_distribution(position, slots, HandleTimeModel(mean, sigma, *after_call))
        return None if cdf is None else best_shares_within(cdf)

    def _refresh(self, t: float, cid: int) -> None:
        contact = self.contacts[cid]
        if (
            contact.answered is None
            and contact.abandoned is None
            and _order(contact) in self.waiting.get(_line(contact), [])
        ):
            self._tell_wait(contact, t)

    # -- agents and contacts finishing

    def _done(self, t: float, cid: int) -> None:
        contact = self.contacts[cid]
        self.engine.release(cid, t)
        if contact.agent_id is None or contact.answered is None:
            return
        agent = self.agents[contact.agent_id]
        agent.active.pop(cid, None)
        self._monitor(_line(contact)).handled(t - contact.answered)
        if not agent.on_shift:
            self._maybe_leave(agent, t)
        elif contact.channel == "voice" and not agent.on_lunch:
            agent.in_after_call = True
            agent.after_call_since = t
            self.engine.set_status(agent.id, routing.AFTER_CALL, t)
            self._at(t + _lognormal(self.rng, *AFTER_CALL), "after_call_end", agent.id)

    def _after_call_end(self, t: float, agent_id: int) -> None:
        agent = self.agents[agent_id]
        if not agent.in_after_call:
            return
        agent.in_after_call = False
        self._monitor(f"{agent.team}/voice").after_call(t - agent.after_call_since)
        if agent.on_shift and not agent.on_lunch:
            self.engine.set_status(agent_id, routing.AVAILABLE, t)

    def _abandon(self, t: float, cid: int) -> None:
        contact = self.contacts[cid]
        view = self.engine.conversation(cid)
        if view is None or view.state == routing.ASSIGNED or contact.answered is not None:
            return
        contact.abandoned = t
        if self._leave_line(contact):
            self._monitor(_line(contact)).abandoned(t)
        self.engine.release(cid, t)

    def _expire(self, t: float, cid: int) -> None:
        for offer in self.engine.expire(t):
            contact = self.contacts[offer.conversation_id]
            if not contact.told and not contact.callback:
                self._tell_wait(contact, t)  # back in line after an unanswered offer: now told

    def _shift_start(self, t: float, agent_id: int) -> None:
        agent = self.agents[agent_id]
        agent.on_shift = True
        if not agent.on_lunch and not agent.in_after_call:
            self.engine.set_status(agent_id, routing.AVAILABLE, t)

    def _shift_end(self, t: float, agent_id: int) -> None:
        agent = self.agents[agent_id]
        agent.on_shift = False
        agent.in_after_call = False
        self.engine.set_status(agent_id, routing.BREAK, t)  # takes nothing new
        self._maybe_leave(agent, t)

    def _maybe_leave(self, agent: _Agent, t: float) -> None:
        if not agent.active:
            self.engine.set_status(agent.id, routing.OFFLINE, t)

    def _lunch_start(self, t: float, agent_id: int) -> None:
        agent = self.agents[agent_id]
        if agent.on_shift:
            agent.on_lunch = True
            agent.in_after_call = False
            self.engine.set_status(agent_id, routing.BREAK, t)

    def _lunch_end(self, t: float, agent_id: int) -> None:
        agent = self.agents[agent_id]
        if agent.on_lunch:
            agent.on_lunch = False
            if agent.on_shift:
                self.engine.set_status(agent_id, routing.AVAILABLE, t)

    # -- figures

    def _report(self) -> SimulationReport:
        live = [c for c in self.contacts.values() if not c.callback and not c.closed]
        answered = [c for c in live if c.answered is not None]
        waits = sorted(c.answered - c.arrived for c in answered if c.answered is not None)
        offered = len(live)
        within = sum(1 for w in waits if w <= self.target.seconds)
        first: list[tuple[float, int]] = []  # (relative error, position) of the first estimate told
        shares: list[tuple[Floats, int]] = []  # what any first estimate could achieve (beyond the first round: none)
        every: list[float] = []
        for c in answered:
            assert c.answered is not None
            for i, (at, estimate, position) in enumerate(c.told):
                actual = c.answered - at
                if actual <= 0:
                    continue
                error = abs(estimate - actual) / actual
                every.append(error)
                if i == 0:
                    first.append((error, position))
                    if c.attainable is not None:
                        shares.append((c.attainable, position))
        callbacks = [c for c in self.contacts.values() if c.callback]
        return SimulationReport(
            day=self.day,
            date=self.on,
            seed=self.seed,
            target=self.target,
            contacts=len(live),
            answered=len(answered),
            abandoned=offered - len(answered),
            service_level=within / offered if offered else 1.0,
            avg_wait_s=sum(waits) / len(waits) if waits else 0.0,
            p90_wait_s=_percentile(waits, 0.9),
            abandonment_rate=(offered - len(answered)) / offered if offered else 0.0,
            eta_error=median(e for e, _ in first) if first else None,
            eta_samples=len(first),
            eta_error_refreshed=median(every) if every else None,
            eta_by_position=[
                PositionError(
                    str(lo) if lo == hi else (f"{lo}+" if hi > 1000 else f"{lo}–{hi}"),
                    len(band := [e for e, p in first if lo <= p <= hi]),
                    median(band) if band else None,
                    error_floor([s for s, p in shares if lo <= p <= hi]),
                )
                for lo, hi in POSITION_BANDS
            ],
            eta_unanswered=sum(1 for c in live if c.told and c.answered is None),
            eta_floor=error_floor([s for s, _ in shares]),
            eta_attainable_share=attainable_share([s for s, _ in shares], ETA_AIM),
            closed_contacts=sum(1 for c in self.contacts.values() if c.closed),
            callbacks_requested=self.callbacks_requested,
            callbacks_released=len(callbacks),
            callbacks_answered=sum(1 for c in callbacks if c.answered is not None),
            offers=self.offers,
            missed_offers=self.missed,
            agents=len(self.agents),
            by_hour=self._by_hour(live),
            by_channel=self._by_channel(live),
        )

    def _by_hour(self, live: list[_Contact]) -> list[HourStats]:
        rows = []
        for hour in range(24):
            group = [c for c in live if hour * 3600 <= c.arrived < (hour + 1) * 3600]
            if not group:
                continue
            waits = [c.answered - c.arrived for c in group if c.answered is not None]
            rows.append(
                HourStats(
                    hour=hour,
                    arrivals=len(group),
                    answered=len(waits),
                    abandoned=len(group) - len(waits),
                    service_level=sum(1 for w in waits if w <= self.target.seconds) / len(group),
                    avg_wait_s=sum(waits) / len(waits) if waits else None,
                    agents_on_shift=self._on_shift_at(hour * 3600 + 1800),
                    agents_needed=self._needed(group),
                )
            )
        return rows

    def _needed(self, group: list[_Contact]) -> int:
        """Erlang C for an hour's contacts: phone agents plus chat agents (three chats each)."""
        voice = [c.handle + AFTER_CALL[0] for c in group if c.channel == "voice"]
        chat = [c.handle for c in group if c.channel != "voice"]
        share, seconds = self.target.share, self.target.seconds
        phone = agents_needed(len(voice), 3600, sum(voice) / len(voice), share, seconds) if voice else 0
        slots = agents_needed(len(chat), 3600, sum(chat) / len(chat), share, seconds) if chat else 0
        return phone + math.ceil(slots / CHAT_SLOTS_PER_AGENT)

    def _on_shift_at(self, t: float) -> int:
        count = 0
        for shift in self.roster:
            at_lunch = shift.lunch is not None and shift.lunch * 3600 <= t < (shift.lunch + 1) * 3600
            if shift.start * 3600 <= t < shift.end * 3600 and not at_lunch:
                count += shift.count
        return count

    @staticmethod
    def _by_channel(live: list[_Contact]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for channel in CHANNEL_MIX:
            group = [c for c in live if c.channel == channel]
            waits = [c.answered - c.arrived for c in group if c.answered is not None]
            if group:
                out[channel] = {
                    "contacts": len(group),
                    "answered": len(waits),
                    "avg_wait_s": sum(waits) / len(waits) if waits else 0.0,
                    "abandonment_rate": (len(group) - len(waits)) / len(group),
                }
        return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def simulate_day(
    day: str,
    seed: int = 1,
    *,
    on: date | None = None,
    scale: float = 1.0,
    roster: tuple[Shift, ...] | None = None,
    target: ServiceTarget | None = None,
    calendar: Calendar | None = None,
) -> SimulationReport:
    """Simulate one day: ``monday`` … ``sunday`` of a week without holidays, or the date ``on``.

    ``scale`` multiplies the volumes and the built-in roster's head counts (1.0: about 3,400 live
    contacts and 65 agents on a Monday). A day the business lines are closed (weekend, holiday)
    is staffed by the 24/7 team only. Same arguments, same report.
    """
    day = day.lower()
    if day not in DAYS:
        raise ValueError(f"day must be one of {', '.join(DAYS)}")
    if scale <= 0:
        raise ValueError("scale must be positive")
    when = on or REFERENCE_MONDAY + timedelta(days=DAYS.index(day))
    calendar = calendar or Calendar()
    if roster is None:
        business_day = calendar.is_open(datetime.combine(when, time(12), tzinfo=SEOUL), "billing", "voice")
        base = ROSTER if business_day else WEEKEND_ROSTER
        roster = tuple(replace(s, count=max(1, round(s.count * scale))) for s in base)
    sim = _Simulation(DAYS[when.weekday()], when, seed, calendar, roster, target or ServiceTarget(0.8, 20), scale)
    return sim.run()


def format_report(report: SimulationReport) -> str:
    """The report as a terminal table."""

    def secs(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f}s"

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.1%}"

    bands = ", ".join(
        f"{b.positions}: {pct(b.eta_error)} ({b.samples}, floor {pct(b.floor)})" for b in report.eta_by_position
    )
    lines = [
        f"simulated {report.day} {report.date.isoformat()} (seed {report.seed}), {report.agents} agents",
        f"contacts        {report.contacts} ({report.answered} answered, {report.abandoned} abandoned), "
        f"{report.closed_contacts} more while closed",
        f"service level   {pct(report.service_level)} answered within {report.target.seconds:g}s "
        f"(target {report.target.share:.0%})",
        f"wait            average {secs(report.avg_wait_s)}, 90th percentile {secs(report.p90_wait_s)}",
        f"abandonment     {pct(report.abandonment_rate)}",
        f"eta error       {pct(report.eta_error)} median |estimate − actual| / actual, "
        f"{report.eta_samples} first estimates; {pct(report.eta_error_refreshed)} with refreshes "
        f"({report.eta_unanswered} told hung up)",
        f"  by position   {bands}",
        f"  floor         {pct(report.eta_floor)} for any estimator knowing what the center knows now; "
        f"at best {pct(report.eta_attainable_share)} of first estimates within {ETA_AIM:.0%}",
        f"callbacks       {report.callbacks_requested} requested, {report.callbacks_released} released today, "
        f"{report.callbacks_answered} called back",
        f"offers          {report.offers} ({report.missed_offers} unanswered and re-queued)",
        "",
        "hour  arrivals  answered  abandoned  SL      avg wait  agents  needed",
    ]
    for h in report.by_hour:
        lines.append(
            f"{h.hour:02d}    {h.arrivals:8d}  {h.answered:8d}  {h.abandoned:9d}  {pct(h.service_level):6s}  "
            f"{secs(h.avg_wait_s):>8s}  {h.agents_on_shift:6d}  {h.agents_needed:6d}"
        )
    return "\n".join(lines)
