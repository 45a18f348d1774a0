"""Wait estimates for waiting customers, the best time to contact, and the volume forecast.

How long will I wait?
---------------------
A *line* is the waiting conversations one group of agents works through in order (the router's
order: priority, then age) — a phone team's queue, or the chats of a channel for a chat team. A
customer with ``ahead`` conversations to be served first is answered when ``ahead + 1`` of the
line's handling slots (agents × their capacity in that channel) have come free. Three ways to say
when, from the most to the least informed:

1. **Slots** (:func:`slots_wait`): for each slot, how long its current contact has lasted (or how
   long its agent has been in after-call work, 후처리). Handle times are lognormal (learnt online
   by :class:`HandleTimeLearner` from finished contacts), so a contact that has lasted long is more
   likely to end soon than a fresh one: the chance that each slot is free within ``t`` is known,
   the number of free slots by ``t`` is a sum of independent Bernoulli variables, and the estimate
   is the median ``t`` at which it reaches ``ahead + 1``. Optionally, more urgent conversations
   expected to arrive meanwhile go ahead (``count_overtaking``; off by default: in the simulated
   days it made estimates worse, hang-ups ahead making up for it).
2. **Position × service interval** (position × AHT / agents): the line's live service interval —
   the mean time between answers while it had a backlog — or, until answers have been seen, the
   handle time divided by the slots. Used when slot details are not at hand.
3. **Erlang C** from the live arrival rate, handle time and staffed slots, blended with the waits
   recent contacts actually had (:meth:`WaitMonitor.newcomer_estimate`): for someone who has not
   joined yet (the portal's "current wait").

:class:`WaitCalibrator` can scale estimates by how recent answered contacts' waits compared with
what they were told; the slot estimates came out calibrated (actual / estimate ≈ 1 at every place
in line), so the monitor uses none unless given one.

What cannot be promised: the first customer in line waits for the next of N agents to finish.
When agents finish independently of how long they have been busy (memoryless), the median
relative error of any estimate is at least about 63 % at place 1, 46 % at place 2, 30 % at place 5
and 21 % at place 10. Handle times that are not memoryless (lognormal) and known elapsed times
bring this down, but not far enough. :func:`wait_distribution`, :func:`best_shares_within` and
:func:`error_floor` compute the floor: for each estimate, the best chance *any* estimate has of
being within ``m`` of the wait, under the slot model with the true handle-time distributions; the
median error cannot be ``m`` unless those chances average one half. On the simulated Monday
(:mod:`sangdam.routing.simulate`, seed 1) the floor is 32 % (37 % at place 1, 26 % at places 2–3,
23 % at 4–9), and at best about a third of the first estimates can come within 20 % of the wait —
so the aim of a 20 % median error is out of reach on that day, whatever the estimator; the slot
estimates reach 40 %. The floor leaves out
uncertainty that real waits also have (more urgent arrivals overtaking, hang-ups ahead, missed
offers), which is most of the rest of the gap: an offline study of that day that was *told* how
many customers would overtake or hang up ahead (which no center knows) got 34 %.

Tried and not kept (measured on the simulated Monday, seeds 1–5): counting the expected
overtakers (``count_overtaking``, with the rate of those who joined the line or of all arrivals),
quoting another quantile of the wait than the median (0.55–0.65), the estimate that maximises the
chance of being within 30–50 % of the wait, and scaling estimates by a constant (0.8–1.1): each
moved the median error by about ±1 point, no more than seed-to-seed noise (0.40–0.44 over the
seeds). Knowing exactly who ahead would hang up did not help either.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

import numpy as np
import numpy.typing as npt

from sangdam.core.clock import SEOUL
from sangdam.routing import erlang
from sangdam.routing.hours import WEEKDAYS_EN, WEEKDAYS_KO, Calendar
from sangdam.routing.staffing import ServiceTarget, StaffingPlan, plan

# --- handle times ---------------------------------------------------------------------------------


Floats = npt.NDArray[np.float64]

_erf = np.frompyfunc(math.erf, 1, 1)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _normal_cdfs(z: Floats) -> Floats:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(np.float64))


@dataclass(frozen=True, slots=True)
class HandleTimeModel:
    """Lognormal handle time of a line's contacts, and lognormal after-call work (mean 0: none)."""

    mean_s: float
    sigma: float = 0.6
    after_call_mean_s: float = 0.0
    after_call_sigma: float = 0.4

    @property
    def cycle_s(self) -> float:
        """Mean time a slot is taken per contact."""
        return self.mean_s + self.after_call_mean_s

    @staticmethod
    def _survival(x: float, mean_s: float, sigma: float) -> float:
        if x <= 0:
            return 1.0
        mu = math.log(mean_s) - sigma * sigma / 2
        return 1.0 - _normal_cdf((math.log(x) - mu) / sigma)

    def free_within(self, slot: BusySlot | None, t: float) -> float:
        """Probability that ``slot`` (None: free already) is free again within ``t`` seconds.

        A contact still going after ``elapsed_s`` ends within ``t`` with the lognormal's conditional
        probability; its after-call work is counted at its mean.
        """
        if slot is None:
            return 1.0
        if slot.leaves_in_s is not None:
            t = min(t, slot.leaves_in_s)
        if slot.back_in_s is not None:
            return 1.0 if t >= slot.back_in_s else 0.0
        if slot.after_call:
            mean, sigma, left = self.after_call_mean_s, self.after_call_sigma, t
        else:
            mean, sigma, left = self.mean_s, self.sigma, t - self.after_call_mean_s
        if left <= 0:
            return 0.0
        if mean <= 0:
            return 1.0
        still = self._survival(slot.elapsed_s, mean, sigma)
        if still <= 1e-12:
            return 1.0
        return 1.0 - self._survival(slot.elapsed_s + left, mean, sigma) / still

    def free_by(self, slot: BusySlot | None, times: Floats) -> Floats:
        """:meth:`free_within` for many ``times`` (seconds from now) at once."""
        if slot is None:
            return np.ones_like(times)
        t = times if slot.leaves_in_s is None else np.minimum(times, slot.leaves_in_s)
        if slot.back_in_s is not None:
            return (t >= slot.back_in_s).astype(np.float64)
        if slot.after_call:
            mean, sigma, left = self.after_call_mean_s, self.after_call_sigma, t
        else:
            mean, sigma, left = self.mean_s, self.sigma, t - self.after_call_mean_s
        started = (left > 0).astype(np.float64)
        still = self._survival(slot.elapsed_s, mean, sigma) if mean > 0 else 0.0
        if still <= 1e-12:
            return started
        mu = math.log(mean) - sigma * sigma / 2
        total = np.maximum(slot.elapsed_s + left, 1e-9)
        ends = 1.0 - (1.0 - _normal_cdfs((np.log(total) - mu) / sigma)) / still
        return np.where(left > 0, ends, 0.0)


class HandleTimeLearner:
    """Fits :class:`HandleTimeModel` online from finished contacts (mean and spread of log durations).

    The prior counts as ``prior_weight`` observations, so a new line starts from sensible values
    and follows its own data once it has some; the last ``window`` observations are used.
    """

    def __init__(
        self,
        prior: HandleTimeModel,
        prior_weight: int = 20,
        window: int = 500,
    ) -> None:
        self.prior = prior
        self.prior_weight = prior_weight
        self._handle: deque[float] = deque(maxlen=window)
        self._after_call: deque[float] = deque(maxlen=window)
        self._model: HandleTimeModel | None = prior

    def observe(self, handle_s: float) -> None:
        if handle_s > 0:
            self._handle.append(math.log(handle_s))
            self._model = None

    def observe_after_call(self, seconds: float) -> None:
        if seconds > 0:
            self._after_call.append(math.log(seconds))
            self._model = None

    def _fit(self, logs: deque[float], mean_s: float, sigma: float) -> tuple[float, float]:
        if mean_s <= 0 and not logs:
            return 0.0, sigma
        w = self.prior_weight
        n = len(logs)
        prior_mu = math.log(mean_s) - sigma * sigma / 2 if mean_s > 0 else (sum(logs) / n)
        mu = (w * prior_mu + sum(logs)) / (w + n)
        var = (w * (sigma * sigma + (prior_mu - mu) ** 2) + sum((x - mu) ** 2 for x in logs)) / (w + n)
        fitted_sigma = math.sqrt(max(var, 1e-6))
        return math.exp(mu + var / 2), fitted_sigma

    def model(self) -> HandleTimeModel:
        if self._model is None:
            p = self.prior
            mean, sigma = self._fit(self._handle, p.mean_s, p.sigma)
            after_mean, after_sigma = self._fit(self._after_call, p.after_call_mean_s, p.after_call_sigma)
            self._model = HandleTimeModel(mean, sigma, after_mean, after_sigma)
        return self._model


@dataclass(frozen=True, slots=True)
class BusySlot:
    """A handling slot in use: its contact has lasted ``elapsed_s`` (or its agent has been in
    after-call work that long) — or its agent is away and due in ``back_in_s`` (back from a break,
    or a shift about to start). ``leaves_in_s``: the agent stops taking contacts then (a break or
    the end of the shift), so the slot coming free later does not count."""

    elapsed_s: float = 0.0
    after_call: bool = False
    back_in_s: float | None = None
    leaves_in_s: float | None = None


# --- the estimates ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    seconds: float
    position: int | None
    method: str  # slots, interval, model, erlang, observed
    calibration: float = 1.0

    def phrase(self, language: str = "ko") -> str:
        return wait_phrase(self.seconds, language)


def _at_least(probabilities: Sequence[float], k: int) -> float:
    """P(at least ``k`` of independent events with these probabilities happen) (Poisson-binomial)."""
    if k <= 0:
        return 1.0
    if k > len(probabilities):
        return 0.0
    dist = [1.0] + [0.0] * len(probabilities)
    for p in probabilities:
        for j in range(len(dist) - 1, 0, -1):
            dist[j] = dist[j] * (1.0 - p) + dist[j - 1] * p
        dist[0] *= 1.0 - p
    return sum(dist[k:])


def slots_wait(
    position: int,
    slots: Sequence[BusySlot | None],
    model: HandleTimeModel,
    overtaking_per_s: float = 0.0,
    quantile: float = 0.5,
) -> float:
    """Seconds until ``position`` of ``slots`` have come free (the ``quantile`` of that time).

    ``slots`` lists every staffed slot of the line (None: free, e.g. an offer being made). Beyond
    the first round of slots (``position`` > slots) each further place adds a cycle (handle time
    and after-call work) divided by the number of slots. ``overtaking_per_s`` is the arrival rate
    of more urgent conversations: those expected during the wait go ahead (fixed point of
    ``W = T(position + rate × W)``, a few rounds).
    """
    if position <= 0:
        return 0.0
    n = len(slots)
    if n == 0:
        return math.inf

    def first_round(k: int) -> float:
        lo, hi = 0.0, max(60.0, 2.0 * model.cycle_s)
        while _at_least([model.free_within(s, hi) for s in slots], k) < quantile and hi < 86400:
            hi *= 2
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if _at_least([model.free_within(s, mid) for s in slots], k) < quantile:
                lo = mid
            else:
                hi = mid
        return hi

    cache: dict[int, float] = {}

    def wait_for(place: int) -> float:
        k = min(place, n)
        if k not in cache:
            cache[k] = first_round(k)
        return cache[k] + max(0, place - n) * model.cycle_s / n

    wait = wait_for(position)
    for _ in range(4):
        if overtaking_per_s <= 0:
            break
        place = position + round(overtaking_per_s * wait)
        wait = wait_for(place)
    return wait


# --- what any estimate can achieve ---------------------------------------------------------------

# Waits at which a wait's distribution is tabulated: 0.5 s to 4 h, 5 % apart.
WAIT_GRID: Floats = np.geomspace(0.5, 14_400.0, 200)
# Relative errors at which what is attainable is tabulated: 1 %, 2 % … 99 %.
ERROR_GRID: Floats = np.round(np.arange(1, 100) / 100, 2)


def wait_distribution(
    position: int, slots: Sequence[BusySlot | None], model: HandleTimeModel, times: Floats = WAIT_GRID
) -> Floats | None:
    """``P(wait ≤ t)`` for each of ``times``: the chance that ``position`` of ``slots`` are free by
    then (the distribution whose median :func:`slots_wait` gives). None beyond the first round of
    slots (``position`` > slots), where the slot model says no more than a mean."""
    if position <= 0:
        return np.ones_like(times)
    if position > len(slots):
        return None
    dist = np.zeros((position + 1, len(times)))  # dist[j]: j slots free (the last row: at least position)
    dist[0] = 1.0
    for slot in slots:
        p = model.free_by(slot, times)
        top = dist[-1] + dist[-2] * p
        dist[1:-1] = dist[1:-1] * (1.0 - p) + dist[:-2] * p
        dist[0] *= 1.0 - p
        dist[-1] = top
    return dist[-1]


def best_shares_within(cdf: Floats, times: Floats = WAIT_GRID, errors: Floats = ERROR_GRID) -> Floats:
    """For each relative error ``m`` of ``errors``, the best chance any single estimate ``e`` has of
    being within ``m`` of a wait with this distribution: ``max_e P(e/(1+m) ≤ W ≤ e/(1−m))``.

    ``cdf`` is ``P(W ≤ t)`` at ``times`` (:func:`wait_distribution`, spaced evenly in log time).
    The candidate estimates are an eight times finer grid; the interval's ends are rounded outward
    to it, and below the grid the wait is taken as certainly longer, above it as certainly shorter,
    so the chances are, if anything, overstated (a floor made from them is not too high).
    """
    fine = np.geomspace(times[0], times[-1], 8 * len(times) - 7)
    step = math.log(fine[1] / fine[0])
    below = np.ceil(np.log1p(errors) / step).astype(int)  # e/(1+m) lies this many steps below e, or fewer
    above = np.ceil(-np.log1p(-errors) / step).astype(int)  # e/(1−m) this many above, or fewer
    pad_lo, pad_hi = int(below.max()), int(above.max())
    padded = np.concatenate([np.zeros(pad_lo), np.interp(np.log(fine), np.log(times), cdf), np.ones(pad_hi)])
    at = pad_lo + np.arange(len(fine))
    upper = padded[at[None, :] + above[:, None]]
    lower = padded[at[None, :] - below[:, None]]
    return np.asarray((upper - lower).max(axis=1), dtype=np.float64)


def error_floor(shares: Sequence[Floats], errors: Floats = ERROR_GRID) -> float | None:
    """The lowest median relative error a set of estimates can expect.

    ``shares`` holds, per estimate, :func:`best_shares_within` of the wait it is about. Whatever
    the estimator, the expected number of estimates within ``m`` of the wait is at most the sum of
    those best chances; the median error can be ``m`` only if half of them are. So the floor is
    the smallest ``m`` at which the mean best chance reaches one half (None: no such ``m`` below
    100 %, or no estimates).
    """
    if not shares:
        return None
    mean = np.mean(np.stack(shares), axis=0)
    reached = np.nonzero(mean >= 0.5)[0]
    return float(errors[reached[0]]) if len(reached) else None


def attainable_share(shares: Sequence[Floats], error: float, errors: Floats = ERROR_GRID) -> float | None:
    """The largest expected share of estimates within ``error`` of the wait (see :func:`error_floor`)."""
    if not shares:
        return None
    i = int(np.argmin(np.abs(errors - error)))
    return float(np.mean([s[i] for s in shares]))


def erlang_wait(arrival_rate_per_s: float, aht_s: float, slots: int) -> float:
    """Mean wait of those who have to wait (Erlang C), ``AHT / (N − A)``; infinite when overloaded."""
    traffic = arrival_rate_per_s * aht_s
    if slots <= traffic:
        return math.inf
    return aht_s / (slots - traffic)


def expected_wait_for_newcomer(arrival_rate_per_s: float, aht_s: float, slots: int) -> float:
    """ASA a customer who has not joined yet can expect (Erlang C over everyone, waiting or not)."""
    return erlang.average_speed_of_answer(slots, arrival_rate_per_s * aht_s, aht_s)


class WaitCalibrator:
    """Learns from recent answered contacts how actual waits compare with the estimates given.

    ``factor`` is the median of actual/estimated over the last ``window`` contacts, shrunk toward
    1 with ``prior`` pseudo-observations and kept within ``bounds``.
    """

    def __init__(self, window: int = 50, prior: int = 10, bounds: tuple[float, float] = (0.5, 2.0)) -> None:
        self.window = window
        self.prior = prior
        self.bounds = bounds
        self._ratios: deque[float] = deque(maxlen=window)

    def observe(self, estimated_s: float, actual_s: float) -> None:
        if estimated_s > 0 and actual_s > 0 and math.isfinite(estimated_s):
            self._ratios.append(actual_s / estimated_s)

    @property
    def factor(self) -> float:
        if not self._ratios:
            return 1.0
        n = len(self._ratios)
        shrunk = (n * median(self._ratios) + self.prior) / (n + self.prior)
        return min(self.bounds[1], max(self.bounds[0], shrunk))


class WaitMonitor:
    """Live figures of one line, fed with its events, and the estimates made from them.

    Times are seconds on any fixed epoch (as in the routing engine). Feed it every conversation
    that starts waiting (``joined``, with its priority), every answer of a waiting one
    (``answered``, with its wait and the estimate it was given), every hang-up (``abandoned``), the
    waits of contacts answered at once (``answered_at_once``) and finished contacts' handle and
    after-call times (``handled`` / ``after_call``).
    """

    def __init__(
        self,
        handle_prior: HandleTimeModel,
        window: int = 40,
        rate_window_s: float = 900.0,
        calibrator: WaitCalibrator | None = None,
        count_overtaking: bool = False,
    ) -> None:
        self.count_overtaking = count_overtaking
        self.waiting = 0
        self.intervals: deque[float] = deque(maxlen=window)
        self.recent_waits: deque[float] = deque(maxlen=window)
        self.rate_window_s = rate_window_s
        self.arrivals: deque[tuple[float, int]] = deque()
        self.handle_times = HandleTimeLearner(handle_prior)
        self.calibrator = calibrator
        self._backlog_since: float | None = None
        self._last_answer: float | None = None

    # -- events

    def joined(self, at: float, priority: int = 0) -> None:
        if self.waiting == 0:
            self._backlog_since = at
        self.waiting += 1
        self.arrivals.append((at, priority))
        while self.arrivals and self.arrivals[0][0] <= at - self.rate_window_s:
            self.arrivals.popleft()

    def answered(self, at: float, waited_s: float, estimated_s: float | None = None) -> None:
        if self.waiting > 0 and self._backlog_since is not None:
            since = max(self._backlog_since, self._last_answer or self._backlog_since)
            self.intervals.append(max(0.0, at - since))
        self._last_answer = at
        self.recent_waits.append(waited_s)
        if estimated_s is not None and self.calibrator is not None:
            self.calibrator.observe(estimated_s, waited_s)
        self._left()

    def answered_at_once(self) -> None:
        self.recent_waits.append(0.0)

    def abandoned(self, at: float) -> None:
        self._left()

    def handled(self, handle_s: float) -> None:
        self.handle_times.observe(handle_s)

    def after_call(self, seconds: float) -> None:
        self.handle_times.observe_after_call(seconds)

    def _left(self) -> None:
        self.waiting = max(0, self.waiting - 1)
        if self.waiting == 0:
            self._backlog_since = None

    # -- figures

    def service_interval(self, min_samples: int = 5) -> float | None:
        """Mean seconds between answers while the line had a backlog (None until known)."""
        if len(self.intervals) < min_samples:
            return None
        return sum(self.intervals) / len(self.intervals)

    def arrival_rate(self, at: float, above_priority: int | None = None) -> float:
        """Conversations joining per second over the rate window (only those more urgent than a priority)."""
        start = at - self.rate_window_s
        count = sum(1 for t, p in self.arrivals if start < t <= at and (above_priority is None or p > above_priority))
        return count / self.rate_window_s

    # -- estimates

    def estimate(
        self,
        ahead: int,
        at: float,
        slots: Sequence[BusySlot | None] | int,
        priority: int = 0,
    ) -> WaitEstimate:
        """The wait of a customer with ``ahead`` conversations to be served before them.

        ``slots``: the line's staffed slots as :class:`BusySlot` (None when free) — the slots
        method — or just how many there are — position × the live service interval, or × ``cycle /
        slots`` until answers have been seen. With no slot staffed at all the estimate is still
        finite: the line's recent pace, or one slot's.
        """
        position = ahead + 1
        model = self.handle_times.model()
        if not isinstance(slots, int) and slots:
            overtaking = self.arrival_rate(at, above_priority=priority) if self.count_overtaking else 0.0
            seconds = slots_wait(position, slots, model, overtaking)
            method = "slots"
        else:  # no slot details, or nobody staffed this minute (a shift change): the line's pace
            count = slots if isinstance(slots, int) else 0
            interval = self.service_interval()
            method = "interval"
            if interval is None or interval <= 0:
                interval = model.cycle_s / max(count, 1)
                method = "model"
            seconds = position * interval
        factor = self.calibrator.factor if self.calibrator is not None else 1.0
        return WaitEstimate(seconds * factor if math.isfinite(seconds) else seconds, position, method, factor)

    def newcomer_estimate(self, at: float, slots: int, weight_observed: float = 0.5) -> WaitEstimate:
        """What someone about to join can expect: Erlang C's average wait from the live arrival
        rate, handle time and staffed slots, blended with the recent contacts' actual waits."""
        model = self.handle_times.model()
        erlang_s = expected_wait_for_newcomer(self.arrival_rate(at), model.cycle_s, slots)
        if not self.recent_waits:
            return WaitEstimate(erlang_s, None, "erlang")
        observed = sum(self.recent_waits) / len(self.recent_waits)
        if not math.isfinite(erlang_s):
            return WaitEstimate(observed, None, "observed")
        blended = weight_observed * observed + (1 - weight_observed) * erlang_s
        return WaitEstimate(blended, None, "erlang+observed")


def wait_phrase(seconds: float, language: str = "ko") -> str:
    """``곧 연결됩니다`` / ``1분 이내`` / ``약 3분`` / ``약 1시간 10분`` (and the English)."""
    ko = language == "ko"
    if not math.isfinite(seconds):
        return "대기 시간을 예측하기 어렵습니다" if ko else "the wait cannot be estimated"
    if seconds < 30:
        return "곧 연결됩니다" if ko else "any moment now"
    if seconds < 60:
        return "1분 이내" if ko else "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"약 {minutes}분" if ko else f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    rest = rest // 10 * 10
    if ko:
        return f"약 {hours}시간" + (f" {rest}분" if rest else "")
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def wait_message(position: int | None, seconds: float, language: str = "ko") -> str:
    """What the waiting customer reads, e.g. ``대기 순서 3번째, 예상 대기 시간 약 3분입니다.``"""
    if language == "ko":
        if not math.isfinite(seconds):
            tail = "대기 시간은 지금 예측하기 어렵습니다."
        elif seconds < 30:
            tail = "곧 연결됩니다."
        elif seconds < 60:
            tail = "1분 이내에 연결됩니다."
        else:
            tail = f"예상 대기 시간 {wait_phrase(seconds)}입니다."
        return f"대기 순서 {position}번째, {tail}" if position else tail
    if not math.isfinite(seconds):
        tail = "we cannot estimate the wait right now."
    elif seconds < 30:
        tail = "an agent will be with you any moment now."
    elif seconds < 60:
        tail = "the wait is less than a minute."
    else:
        tail = f"the expected wait is {wait_phrase(seconds, language)}."
    return f"You are number {position} in line; {tail}" if position else tail[0].upper() + tail[1:]


def arrival_rate(arrivals: Iterable[datetime], at: datetime, window_s: float = 900.0) -> float:
    """Arrivals per second over the last ``window_s`` seconds before ``at``."""
    start = at - timedelta(seconds=window_s)
    return sum(1 for a in arrivals if start < a <= at) / window_s


# --- history: best time to contact, forecast, staffing outlook ---------------------------------


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One past contact: when it arrived, how long it waited, whether it was answered, how long handled."""

    arrived_at: datetime
    wait_s: float
    answered: bool = True
    handle_s: float | None = None


@dataclass(frozen=True, slots=True)
class ContactWindow:
    """An hour of the week and how contacting then went."""

    weekday: int
    hour: int
    contacts: int
    avg_wait_s: float
    answered_share: float

    def label(self, language: str = "ko") -> str:
        if language == "ko":
            half = "오전" if self.hour < 12 else "오후"
            start = self.hour % 12 or 12
            end = (self.hour + 1) % 12 or 12
            return f"{WEEKDAYS_KO[self.weekday]}요일 {half} {start}시~{end}시"
        return f"{WEEKDAYS_EN[self.weekday]} {self.hour:02d}:00–{self.hour + 1:02d}:00"


def best_time_to_contact(history: Iterable[ContactRecord], min_contacts: int = 5, top: int = 3) -> list[ContactWindow]:
    """The weekday-hours with the shortest average wait (ties: more answered), best first.

    Hours with fewer than ``min_contacts`` contacts in the history are left out.
    """
    buckets: dict[tuple[int, int], list[ContactRecord]] = defaultdict(list)
    for record in history:
        local = record.arrived_at.astimezone(SEOUL)
        buckets[(local.weekday(), local.hour)].append(record)
    windows = [
        ContactWindow(
            weekday=wd,
            hour=hour,
            contacts=len(records),
            avg_wait_s=sum(r.wait_s for r in records) / len(records),
            answered_share=sum(r.answered for r in records) / len(records),
        )
        for (wd, hour), records in buckets.items()
        if len(records) >= min_contacts
    ]
    windows.sort(key=lambda w: (round(w.avg_wait_s), -w.answered_share, w.weekday, w.hour))
    return windows[:top]


@dataclass(frozen=True, slots=True)
class IntervalForecast:
    start: datetime
    interval_s: float
    calls: float
    aht_s: float


def forecast_volumes(
    history: Sequence[ContactRecord],
    start: datetime,
    hours: int = 8,
    interval_s: int = 1800,
    default_aht_s: float = 300.0,
    calendar: Calendar | None = None,
    queue: str | None = None,
    channel: str | None = None,
) -> list[IntervalForecast]:
    """Expected contacts per interval from ``start`` for ``hours`` hours.

    Each interval gets the average count of the same weekday and time of day over the days of that
    weekday present in ``history`` (days without any contact — holidays — do not count), and the
    average handle time of those contacts. Intervals in which ``calendar`` says the line is closed
    expect nothing.
    """
    if interval_s <= 0 or 86400 % interval_s:
        raise ValueError("interval_s must divide a day")
    counts: Counter[tuple[int, int]] = Counter()
    handle: dict[tuple[int, int], list[float]] = defaultdict(list)
    days_by_weekday: dict[int, set[datetime]] = defaultdict(set)
    for record in history:
        local = record.arrived_at.astimezone(SEOUL)
        slot = (local.hour * 3600 + local.minute * 60 + local.second) // interval_s
        key = (local.weekday(), slot)
        counts[key] += 1
        days_by_weekday[local.weekday()].add(local.replace(hour=0, minute=0, second=0, microsecond=0))
        if record.handle_s is not None:
            handle[key].append(record.handle_s)
    all_handle = [h for hs in handle.values() for h in hs]
    overall_aht = sum(all_handle) / len(all_handle) if all_handle else default_aht_s

    local_start = start.astimezone(SEOUL)
    seconds_into_day = local_start.hour * 3600 + local_start.minute * 60 + local_start.second
    first = local_start - timedelta(seconds=seconds_into_day % interval_s, microseconds=local_start.microsecond)
    out = []
    for i in range(math.ceil(hours * 3600 / interval_s)):
        begin = first + timedelta(seconds=i * interval_s)
        key = (begin.weekday(), (begin.hour * 3600 + begin.minute * 60) // interval_s)
        days = len(days_by_weekday.get(begin.weekday(), ()))
        calls = counts[key] / days if days else 0.0
        if calendar is not None and not calendar.is_open(begin, queue, channel):
            calls = 0.0
        aht = sum(handle[key]) / len(handle[key]) if handle.get(key) else overall_aht
        out.append(IntervalForecast(begin, float(interval_s), calls, aht))
    return out


def staffing_outlook(
    forecast: Sequence[IntervalForecast], target: ServiceTarget, max_occupancy: float | None = None
) -> list[tuple[IntervalForecast, StaffingPlan]]:
    """The supervisor's view of the next hours: each forecast interval with the agents it needs."""
    return [(f, plan(f.calls, f.interval_s, f.aht_s, target, max_occupancy)) for f in forecast]
