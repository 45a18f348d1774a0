"""Staffing an interval: how many agents a volume needs, and what they achieve (Erlang C)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sangdam.routing import erlang


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """``share`` of contacts answered within ``seconds`` (the 80/20 of "0.8/20")."""

    share: float
    seconds: float

    def __str__(self) -> str:
        return f"{self.share:g}/{self.seconds:g}"


def parse_target(text: str) -> ServiceTarget:
    """Parse ``"0.8/20"`` (or ``"80/20"``, ``"80%/20"``) into a :class:`ServiceTarget`."""
    share_text, sep, seconds_text = text.strip().partition("/")
    if not sep:
        raise ValueError(f"service target {text!r} must look like 0.8/20")
    try:
        percent = share_text.strip().endswith("%")
        share = float(share_text.strip().rstrip("%"))
        seconds = float(seconds_text.strip().removesuffix("s"))
    except ValueError as exc:
        raise ValueError(f"service target {text!r} must look like 0.8/20") from exc
    if percent or share > 1:
        share /= 100
    if not 0 < share < 1 or seconds < 0:
        raise ValueError(f"service target {text!r}: share must be in (0, 1) and seconds ≥ 0")
    return ServiceTarget(share, seconds)


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    """The agents an interval needs and the service they give."""

    calls: float
    interval_s: float
    aht_s: float
    target: ServiceTarget
    traffic_erlangs: float
    agents: int
    probability_wait: float
    service_level: float
    asa_s: float
    occupancy: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = {"share": self.target.share, "seconds": self.target.seconds}
        if math.isinf(self.asa_s):
            data["asa_s"] = None
        return data


def evaluate(calls: float, interval_s: float, aht_s: float, agents: int, target: ServiceTarget) -> StaffingPlan:
    """What ``agents`` achieve for a given volume."""
    traffic = erlang.traffic_intensity(calls, interval_s, aht_s)
    return StaffingPlan(
        calls=calls,
        interval_s=interval_s,
        aht_s=aht_s,
        target=target,
        traffic_erlangs=traffic,
        agents=agents,
        probability_wait=erlang.erlang_c(agents, traffic),
        service_level=erlang.service_level(agents, traffic, aht_s, target.seconds),
        asa_s=erlang.average_speed_of_answer(agents, traffic, aht_s),
        occupancy=erlang.occupancy(agents, traffic),
    )


def plan(
    calls: float,
    interval_s: float,
    aht_s: float,
    target: ServiceTarget,
    max_occupancy: float | None = None,
) -> StaffingPlan:
    """The fewest agents meeting ``target`` for ``calls`` per ``interval_s`` of ``aht_s`` seconds."""
    agents = erlang.agents_needed(calls, interval_s, aht_s, target.share, target.seconds, max_occupancy)
    return evaluate(calls, interval_s, aht_s, agents, target)


def format_plan(p: StaffingPlan) -> str:
    """A few aligned lines for a terminal."""
    asa = "∞" if math.isinf(p.asa_s) else f"{p.asa_s:.1f} s"
    minutes = p.interval_s / 60
    return "\n".join(
        [
            f"volume          {p.calls:g} contacts / {minutes:g} min, AHT {p.aht_s:g} s "
            f"({p.traffic_erlangs:.2f} Erlangs)",
            f"target          {p.target.share:.0%} answered within {p.target.seconds:g} s",
            f"agents needed   {p.agents}",
            f"service level   {p.service_level:.1%}",
            f"P(wait)         {p.probability_wait:.1%}",
            f"ASA             {asa}",
            f"occupancy       {p.occupancy:.1%}",
        ]
    )
