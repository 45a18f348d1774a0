"""Business hours per queue and channel, Korean public holidays and admin-defined closures.

A :class:`Calendar` answers, for a queue and a channel, whether the center is open at an instant,
when it opens next, and what to tell a customer who contacts it while it is closed.

* Hours are kept in Seoul local time: a weekly schedule of :class:`OpeningPeriod` (a period whose
  closing time is not after its opening time runs past midnight; 00:00–00:00 is the whole day), or
  around the clock.
* Public holidays come from the ``holidays`` package (``country_holidays("KR")``): 설날 and 추석
  with the days around them (lunar dates), the substitute holidays (대체공휴일) and election days.
  Lines that run around the clock (the lost/stolen-card line) ignore holidays.
* Admins add :class:`Closure` date ranges with a reason. A closure names a queue and/or a channel
  or neither; one that names neither closes every line that observes holidays, so a 24/7 line is
  only closed by a closure naming its queue or channel.
* Scopes resolve from the most specific: (queue, channel), (queue, any), (any, channel), (any, any).
  Built in: agents on weekdays 09:00–18:00, and the ``lost_card`` queue 24/7; rows in the database
  (``models.schedule.BusinessHoursRule``) override a scope as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays as holidays_lib
from sqlalchemy import select
from sqlalchemy.orm import Session

from sangdam.core.clock import SEOUL
from sangdam.models.schedule import BusinessHoursRule
from sangdam.models.schedule import Closure as ClosureRow

LOST_CARD_QUEUE = "lost_card"

WEEKDAYS_KO = ("월", "화", "수", "목", "금", "토", "일")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_SEARCH_DAYS = 400  # a line closed for longer than this counts as never opening again


@dataclass(frozen=True, slots=True)
class OpeningPeriod:
    """Open on ``weekday`` (0 = Monday) from ``opens`` until ``closes``, Seoul time.

    ``closes`` not after ``opens`` runs past midnight into the next day (``00:00``–``00:00`` is 24 h).
    """

    weekday: int
    opens: time
    closes: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) … 6 (Sunday)")

    def interval_on(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.opens, tzinfo=SEOUL)
        end_day = day if self.closes > self.opens else day + timedelta(days=1)
        return start, datetime.combine(end_day, self.closes, tzinfo=SEOUL)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """The weekly opening hours of one scope."""

    periods: tuple[OpeningPeriod, ...] = ()
    always_open: bool = False
    observe_holidays: bool = True

    @classmethod
    def weekdays(cls, opens: time = time(9), closes: time = time(18)) -> BusinessHours:
        return cls(tuple(OpeningPeriod(d, opens, closes) for d in range(5)))

    @classmethod
    def around_the_clock(cls) -> BusinessHours:
        return cls(always_open=True, observe_holidays=False)

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.always_open:
            start = datetime.combine(day, time(0), tzinfo=SEOUL)
            return [(start, start + timedelta(days=1))]
        wd = day.weekday()
        return sorted(p.interval_on(day) for p in self.periods if p.weekday == wd)

    def summary(self, language: str = "ko") -> str:
        """e.g. ``월–금 09:00–18:00, 공휴일 휴무`` / ``Mon–Fri 09:00–18:00, closed on public holidays``."""
        ko = language == "ko"
        if self.always_open:
            return "연중무휴 24시간" if ko else "24/7, every day of the year"
        names = WEEKDAYS_KO if ko else tuple(n[:3] for n in WEEKDAYS_EN)
        by_time: dict[tuple[time, time], list[int]] = {}
        for p in self.periods:
            by_time.setdefault((p.opens, p.closes), []).append(p.weekday)
        parts = []
        for (opens, closes), days in sorted(by_time.items(), key=lambda kv: min(kv[1])):
            days = sorted(set(days))
            if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
                label = f"{names[days[0]]}–{names[days[-1]]}"
            else:
                label = ",".join(names[d] for d in days)
            parts.append(f"{label} {opens:%H:%M}–{'24:00' if closes == time(0) else f'{closes:%H:%M}'}")
        if self.observe_holidays:
            parts.append("공휴일 휴무" if ko else "closed on public holidays")
        return ", ".join(parts) if parts else ("휴무" if ko else "closed")


@dataclass(frozen=True, slots=True)
class Closure:
    """The center (or one queue / channel) closed from ``first_day`` to ``last_day`` inclusive."""

    first_day: date
    last_day: date
    reason: str = ""
    queue: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError("a closure cannot end before it starts")

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def applies_to(self, queue: str | None, channel: str | None, hours: BusinessHours) -> bool:
        if self.queue is None and self.channel is None:
            return hours.observe_holidays
        return (self.queue is None or self.queue == queue) and (self.channel is None or self.channel == channel)


@lru_cache(maxsize=8)
def _country_holidays(country: str, language: str) -> holidays_lib.HolidayBase:
    this_year = date.today().year
    return holidays_lib.country_holidays(country, years=range(this_year - 1, this_year + 3), language=language)


class HolidayCalendar:
    """Public holidays of a country (Korea by default), in Korean or English, for any year."""

    def __init__(self, country: str = "KR", extra: Mapping[date, str] | None = None) -> None:
        self.country = country
        self.extra = dict(extra or {})

    def is_holiday(self, day: date) -> bool:
        return day in self.extra or day in _country_holidays(self.country, "ko")

    def name(self, day: date, language: str = "ko") -> str | None:
        if day in self.extra:
            return self.extra[day]
        lang = "ko" if language == "ko" else "en_US"
        return _country_holidays(self.country, lang).get(day)

    def between(self, first: date, last: date, language: str = "ko") -> list[tuple[date, str]]:
        """Every holiday from ``first`` to ``last`` inclusive, in order."""
        out = []
        day = first
        while day <= last:
            label = self.name(day, language)
            if label is not None:
                out.append((day, label))
            day += timedelta(days=1)
        return out


@dataclass(frozen=True, slots=True)
class OpenStatus:
    """Where a line stands at an instant: open until ``closes_at``, or closed until ``opens_at``."""

    at: datetime
    is_open: bool
    opens_at: datetime | None  # ``at`` itself when open; None if it does not reopen within a year
    closes_at: datetime | None  # when open: the end of this stretch of opening hours
    reason_ko: str | None  # a holiday's or closure's name when that is why it is closed today
    reason_en: str | None

    def message(self, language: str = "ko") -> str | None:
        """What to tell a customer while closed (None while open)."""
        if self.is_open:
            return None
        ko = language == "ko"
        reason = self.reason_ko if ko else self.reason_en
        if ko:
            head = f"오늘은 휴무일입니다({reason})." if reason else "지금은 상담 시간이 아닙니다."
            if self.opens_at is None:
                return f"{head} 상담 재개 일정은 공지사항을 확인해 주세요."
            return f"{head} {format_opening_ko(self.opens_at)}에 상담을 시작합니다."
        head = f"We are closed today ({reason})." if reason else "We are closed now."
        if self.opens_at is None:
            return f"{head} Please check our notices for when we reopen."
        return f"{head} We open on {format_opening_en(self.opens_at)}."


def format_opening_ko(at: datetime) -> str:
    """``11월 23일(월) 오전 9시`` (minutes only when not on the hour: ``오후 1시 30분``)."""
    local = at.astimezone(SEOUL)
    half = "오전" if local.hour < 12 else "오후"
    hour = local.hour % 12 or (12 if local.hour == 12 else 0)
    clock = f"{half} {hour}시" + (f" {local.minute}분" if local.minute else "")
    return f"{local.month}월 {local.day}일({WEEKDAYS_KO[local.weekday()]}) {clock}"


def format_opening_en(at: datetime) -> str:
    """``Monday, November 23 at 9:00 AM``."""
    local = at.astimezone(SEOUL)
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return (
        f"{WEEKDAYS_EN[local.weekday()]}, {MONTHS_EN[local.month - 1]} {local.day} at {hour}:{local.minute:02d} {half}"
    )


def default_hours() -> dict[tuple[str | None, str | None], BusinessHours]:
    """Agents on weekdays 09:00–18:00; the lost/stolen-card line around the clock."""
    return {(None, None): BusinessHours.weekdays(), (LOST_CARD_QUEUE, None): BusinessHours.around_the_clock()}


@dataclass
class Calendar:
    """Opening hours by (queue, channel), public holidays and closures."""

    hours: dict[tuple[str | None, str | None], BusinessHours] = field(default_factory=default_hours)
    closures: Sequence[Closure] = ()
    holidays: HolidayCalendar = field(default_factory=HolidayCalendar)

    def hours_for(self, queue: str | None = None, channel: str | None = None) -> BusinessHours:
        for key in ((queue, channel), (queue, None), (None, channel), (None, None)):
            if key in self.hours:
                return self.hours[key]
        return BusinessHours.weekdays()

    def _day_closed(
        self, day: date, queue: str | None, channel: str | None, hours: BusinessHours
    ) -> tuple[str, str] | None:
        """(Korean, English) reason when the whole day is closed, else None."""
        for closure in self.closures:
            if closure.covers(day) and closure.applies_to(queue, channel, hours):
                english = closure.reason if closure.reason.isascii() and closure.reason else None
                return closure.reason or "임시 휴무", english or "temporary closure"
        if hours.observe_holidays and self.holidays.is_holiday(day):
            ko = self.holidays.name(day, "ko") or "공휴일"
            return ko, self.holidays.name(day, "en") or "public holiday"
        return None

    def _intervals(self, at: datetime, queue: str | None, channel: str | None) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals, in order, from the day before ``at`` (periods can run past midnight)."""
        hours = self.hours_for(queue, channel)
        day = at.astimezone(SEOUL).date() - timedelta(days=1)
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if self._day_closed(current, queue, channel, hours) is None:
                yield from hours.periods_on(current)

    def is_open(self, at: datetime, queue: str | None = None, channel: str | None = None) -> bool:
        _require_aware(at)
        for start, end in self._intervals(at, queue, channel):
            if start > at:
                return False
            if at < end:
                return True
        return False

    def next_opening(self, at: datetime, queue: str | None = None, channel: str | None = None) -> datetime | None:
        """``at`` itself when open, else the next instant the line opens (Seoul time)."""
        _require_aware(at)
        for start, end in self._intervals(at, queue, channel):
            if at < end:
                return max(start, at.astimezone(SEOUL))
        return None

    def next_closing(self, at: datetime, queue: str | None = None, channel: str | None = None) -> datetime | None:
        """When open: the end of the current stretch of opening hours (None if it never ends)."""
        _require_aware(at)
        current_end: datetime | None = None
        for start, end in self._intervals(at, queue, channel):
            if current_end is None:
                if start > at:
                    return None
                if at < end:
                    current_end = end
            elif start <= current_end:
                current_end = max(current_end, end)
            else:
                return current_end
        return None

    def status(self, at: datetime, queue: str | None = None, channel: str | None = None) -> OpenStatus:
        _require_aware(at)
        opens_at = self.next_opening(at, queue, channel)
        if opens_at is not None and opens_at <= at:
            closes_at = self.next_closing(at, queue, channel)
            return OpenStatus(at, True, opens_at, closes_at, None, None)
        hours = self.hours_for(queue, channel)
        reason = self._day_closed(at.astimezone(SEOUL).date(), queue, channel, hours)
        return OpenStatus(at, False, opens_at, None, reason[0] if reason else None, reason[1] if reason else None)

    def closed_message(
        self, at: datetime, queue: str | None = None, channel: str | None = None, language: str = "ko"
    ) -> str | None:
        """The sentence for a customer who contacts a closed line; None when it is open."""
        return self.status(at, queue, channel).message(language)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("business hours need an aware datetime")


def build_calendar(
    rules: Iterable[tuple[str | None, str | None, int, time, time, bool]] = (),
    closures: Iterable[Closure] = (),
    holidays: HolidayCalendar | None = None,
) -> Calendar:
    """A calendar from rows ``(queue, channel, weekday, opens, closes, observe_holidays)``.

    Each scope present in ``rules`` replaces the built-in hours of that scope as a whole; a scope
    whose rows cover every weekday 00:00–00:00 and ignore holidays is a 24/7 line.
    """
    grouped: dict[tuple[str | None, str | None], list[tuple[OpeningPeriod, bool]]] = {}
    for queue, channel, weekday, opens, closes, observe in rules:
        grouped.setdefault((queue, channel), []).append((OpeningPeriod(weekday, opens, closes), observe))
    hours = default_hours()
    for scope, rows in grouped.items():
        periods = tuple(p for p, _ in rows)
        observe = all(o for _, o in rows)
        whole_week = {p.weekday for p in periods if p.opens == p.closes == time(0)} == set(range(7))
        hours[scope] = (
            BusinessHours.around_the_clock()
            if whole_week and not observe
            else BusinessHours(periods, observe_holidays=observe)
        )
    return Calendar(hours=hours, closures=tuple(closures), holidays=holidays or HolidayCalendar())


def load_calendar(session: Session, today: date | None = None) -> Calendar:
    """The calendar the database defines (built-in hours for the scopes it leaves out).

    Closures that ended before ``today`` (Seoul) are left out.
    """
    rules = [
        (r.queue, r.channel, r.weekday, r.opens, r.closes, r.observe_holidays)
        for r in session.scalars(select(BusinessHoursRule))
    ]
    stmt = select(ClosureRow)
    if today is not None:
        stmt = stmt.where(ClosureRow.last_day >= today)
    closures = [Closure(c.first_day, c.last_day, c.reason, c.queue, c.channel) for c in session.scalars(stmt)]
    return build_calendar(rules, closures)
