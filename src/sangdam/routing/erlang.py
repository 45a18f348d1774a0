"""Erlang C: the queueing formulas behind staffing and wait estimates.

A queue of ``agents`` identical servers fed by Poisson arrivals carrying ``traffic`` Erlangs
(arrival rate × average handle time), first come first served, nobody hanging up (M/M/N).
Erlang C is computed from Erlang B by the recurrence ``B(n) = A·B(n-1) / (n + A·B(n-1))``, which
stays in [0, 1] and never builds factorials or powers, so it is stable for thousands of agents.

Known value (the classic textbook case): 100 calls in 30 minutes with 180 s average handle time is
10 Erlangs; 80 % answered within 20 s needs 14 agents, who reach a service level of about 88.8 %.
"""

from __future__ import annotations

import math


def traffic_intensity(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load in Erlangs: ``calls`` arriving in ``interval_s`` seconds, each held ``aht_s`` seconds."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    if calls < 0 or aht_s < 0:
        raise ValueError("calls and aht_s must not be negative")
    return calls * aht_s / interval_s


def erlang_b(agents: int, traffic: float) -> float:
    """Probability that a contact finds every agent busy in a loss system (Erlang B)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact has to wait (Erlang C); 1.0 when the queue cannot keep up."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(agents: int, traffic: float, aht_s: float, target_s: float) -> float:
    """Share of contacts answered within ``target_s`` seconds."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    c = erlang_c(agents, traffic)
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic) * target_s / aht_s))


def average_speed_of_answer(agents: int, traffic: float, aht_s: float) -> float:
    """Mean wait over all contacts (ASA), in seconds; infinite when the queue cannot keep up."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_s / (agents - traffic)


def occupancy(agents: int, traffic: float) -> float:
    """Share of staffed time spent handling contacts (capped at 1)."""
    if agents <= 0:
        return 1.0 if traffic > 0 else 0.0
    return min(1.0, traffic / agents)


def agents_needed(
    calls: float,
    interval_s: float,
    aht_s: float,
    target_sl: float,
    target_s: float,
    max_occupancy: float | None = None,
) -> int:
    """The fewest agents that answer ``target_sl`` of contacts within ``target_s`` seconds.

    With ``max_occupancy`` (e.g. 0.85) the answer is also large enough to keep agents' occupancy
    at or below it.
    """
    if not 0 < target_sl < 1:
        raise ValueError("target_sl must be between 0 and 1 (exclusive)")
    if target_s < 0:
        raise ValueError("target_s must not be negative")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError("max_occupancy must be in (0, 1]")
    traffic = traffic_intensity(calls, interval_s, aht_s)
    if traffic == 0:
        return 0
    agents = max(1, math.floor(traffic) + 1)
    if max_occupancy is not None:
        agents = max(agents, math.ceil(traffic / max_occupancy - 1e-9))
    while service_level(agents, traffic, aht_s, target_s) < target_sl:
        agents += 1
    return agents
