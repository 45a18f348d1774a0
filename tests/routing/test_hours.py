from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest

from sangdam.core.clock import SEOUL
from sangdam.routing.hours import (
    LOST_CARD_QUEUE,
    BusinessHours,
    Calendar,
    Closure,
    HolidayCalendar,
    OpeningPeriod,
    build_calendar,
    format_opening_en,
    format_opening_ko,
)


def seoul(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


# Lunar holidays, checked against the published Korean calendars (월력요항, 한국천문연구원).
SEOLLAL = {
    2026: [date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18)],  # 월–수
    2027: [date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)],  # 토–월, 설날 on a Sunday
}
CHUSEOK = {
    2026: [date(2026, 9, 24), date(2026, 9, 25), date(2026, 9, 26)],  # 목–토
    2027: [date(2027, 9, 14), date(2027, 9, 15), date(2027, 9, 16)],  # 화–목
}


@pytest.mark.parametrize("year", [2026, 2027])
def test_seollal_and_chuseok_from_the_holidays_package(year: int) -> None:
    kr = holidays.country_holidays("KR", years=year, language="ko")
    cal = HolidayCalendar()
    for day in SEOLLAL[year]:
        assert day in kr
        assert "설날" in (cal.name(day) or "")
        assert cal.is_holiday(day)
    for day in CHUSEOK[year]:
        assert "추석" in (cal.name(day) or "")
    assert cal.name(SEOLLAL[year][1], "en") == "Korean New Year"
    assert cal.name(CHUSEOK[year][1], "en") == "Chuseok"
    assert not cal.is_holiday(SEOLLAL[year][0] - timedelta(days=1))
    assert not cal.is_holiday(CHUSEOK[year][-1] + timedelta(days=1))


def test_substitute_holidays() -> None:
    cal = HolidayCalendar()
    # 설날 2027 falls on a Sunday: Tuesday 9 February is the substitute (대체공휴일).
    assert cal.name(date(2027, 2, 9)) == "설날 대체 휴일"
    # 광복절 2026 is a Saturday: Monday 17 August is the substitute.
    assert cal.name(date(2026, 8, 17)) == "광복절 대체 휴일"
    # 추석 2026 ends on a Saturday: no substitute (only Sundays and other holidays count for 추석).
    assert not cal.is_holiday(date(2026, 9, 28))
    assert not cal.is_holiday(date(2026, 9, 23))


def test_default_hours_weekdays_nine_to_six() -> None:
    cal = Calendar()
    assert cal.is_open(seoul(2026, 11, 23, 9, 0))  # Monday
    assert cal.is_open(seoul(2026, 11, 23, 17, 59))
    assert not cal.is_open(seoul(2026, 11, 23, 18, 0))
    assert not cal.is_open(seoul(2026, 11, 23, 8, 59))
    assert not cal.is_open(seoul(2026, 11, 21, 11, 0))  # Saturday
    # An instant given in UTC is judged in Seoul time: 00:30 UTC is 09:30 KST.
    assert cal.is_open(datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    assert cal.next_closing(seoul(2026, 11, 23, 10)) == seoul(2026, 11, 23, 18)


def test_closed_on_seollal_and_chuseok_but_lost_card_line_is_always_open() -> None:
    cal = Calendar()
    for day in SEOLLAL[2026] + CHUSEOK[2026] + CHUSEOK[2027] + [date(2027, 2, 8), date(2027, 2, 9)]:
        at = datetime.combine(day, time(11), tzinfo=SEOUL)
        assert not cal.is_open(at), day
        assert cal.is_open(at, LOST_CARD_QUEUE), day
        assert cal.is_open(at.replace(hour=3), LOST_CARD_QUEUE, "voice")
    # After 설날 2026 (16–18 Feb) the center opens on Thursday the 19th.
    assert cal.next_opening(seoul(2026, 2, 13, 18, 30)) == seoul(2026, 2, 19, 9)
    # 설날 2027 with its substitute (6–9 Feb): Wednesday the 10th.
    assert cal.next_opening(seoul(2027, 2, 5, 20)) == seoul(2027, 2, 10, 9)
    # 추석 2027 (14–16 Sep): Friday the 17th.
    assert cal.next_opening(seoul(2027, 9, 13, 18)) == seoul(2027, 9, 17, 9)


def test_friday_evening_before_a_substitute_holiday_monday_opens_tuesday() -> None:
    cal = Calendar()
    friday = seoul(2026, 8, 14, 19)  # Monday 17 August 2026: 광복절 대체 휴일
    assert cal.next_opening(friday) == seoul(2026, 8, 18, 9)
    assert cal.closed_message(friday) == "지금은 상담 시간이 아닙니다. 8월 18일(화) 오전 9시에 상담을 시작합니다."
    assert cal.closed_message(friday, language="en") == "We are closed now. We open on Tuesday, August 18 at 9:00 AM."


def test_messages() -> None:
    cal = Calendar()
    assert cal.closed_message(seoul(2026, 11, 20, 19)) == (
        "지금은 상담 시간이 아닙니다. 11월 23일(월) 오전 9시에 상담을 시작합니다."
    )
    assert cal.closed_message(seoul(2026, 11, 23, 10)) is None
    status = cal.status(seoul(2026, 9, 25, 10))
    assert not status.is_open
    assert status.reason_ko == "추석"
    assert status.message() == "오늘은 휴무일입니다(추석). 9월 28일(월) 오전 9시에 상담을 시작합니다."
    assert status.message("en") == "We are closed today (Chuseok). We open on Monday, September 28 at 9:00 AM."
    assert format_opening_ko(seoul(2026, 11, 24, 13, 30)) == "11월 24일(화) 오후 1시 30분"
    assert format_opening_ko(seoul(2026, 11, 24, 12)) == "11월 24일(화) 오후 12시"
    assert format_opening_en(seoul(2026, 11, 24, 0, 5)) == "Tuesday, November 24 at 12:05 AM"


def test_admin_closures() -> None:
    maintenance = Closure(date(2026, 11, 23), date(2026, 11, 24), "전산 시스템 점검")
    chat_only = Closure(date(2026, 11, 25), date(2026, 11, 25), "채팅 점검", channel="webchat")
    cal = Calendar(closures=[maintenance, chat_only])
    monday = seoul(2026, 11, 23, 10)
    assert not cal.is_open(monday)
    assert cal.is_open(monday, LOST_CARD_QUEUE)  # a center-wide closure leaves the 24/7 line alone
    assert cal.next_opening(monday) == seoul(2026, 11, 25, 9)
    assert (
        cal.closed_message(monday)
        == "오늘은 휴무일입니다(전산 시스템 점검). 11월 25일(수) 오전 9시에 상담을 시작합니다."
    )
    assert cal.status(monday).reason_en == "temporary closure"
    wednesday = seoul(2026, 11, 25, 10)
    assert not cal.is_open(wednesday, channel="webchat")
    assert cal.is_open(wednesday, channel="voice")
    lost_line_down = Calendar(closures=[Closure(date(2026, 11, 23), date(2026, 11, 23), "망 점검", LOST_CARD_QUEUE)])
    assert not lost_line_down.is_open(monday, LOST_CARD_QUEUE)
    assert lost_line_down.next_opening(monday, LOST_CARD_QUEUE) == seoul(2026, 11, 24, 0)
    with pytest.raises(ValueError):
        Closure(date(2026, 11, 24), date(2026, 11, 23))


def test_scopes_resolve_from_the_most_specific() -> None:
    saturday_chat = BusinessHours(
        (*(OpeningPeriod(d, time(9), time(18)) for d in range(5)), OpeningPeriod(5, time(9), time(13)))
    )
    cal = Calendar(hours={(None, None): BusinessHours.weekdays(), (None, "webchat"): saturday_chat})
    saturday = seoul(2026, 11, 21, 10)
    assert cal.is_open(saturday, "payment_billing", "webchat")
    assert not cal.is_open(saturday, "payment_billing", "voice")
    assert cal.next_closing(saturday, channel="webchat") == seoul(2026, 11, 21, 13)
    assert saturday_chat.summary() == "월–금 09:00–18:00, 토 09:00–13:00, 공휴일 휴무"
    assert BusinessHours.around_the_clock().summary("en") == "24/7, every day of the year"


def test_overnight_periods_and_next_closing() -> None:
    night = BusinessHours(tuple(OpeningPeriod(d, time(22), time(2)) for d in range(7)), observe_holidays=False)
    cal = Calendar(hours={(None, None): night})
    assert cal.is_open(seoul(2026, 11, 24, 1, 30))  # Monday's period, past midnight
    assert not cal.is_open(seoul(2026, 11, 24, 2))
    assert cal.next_opening(seoul(2026, 11, 24, 12)) == seoul(2026, 11, 24, 22)
    assert cal.next_closing(seoul(2026, 11, 24, 23)) == seoul(2026, 11, 25, 2)
    assert Calendar().next_closing(seoul(2026, 11, 24, 23), LOST_CARD_QUEUE) is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        Calendar().is_open(datetime(2026, 11, 23, 10))


def test_build_calendar_from_rows() -> None:
    rows = [("card_issue", None, d, time(10), time(16), True) for d in range(5)]
    rows += [("fraud", None, d, time(0), time(0), False) for d in range(7)]
    cal = build_calendar(rows, [Closure(date(2026, 12, 31), date(2026, 12, 31), "종무식")])
    assert not cal.is_open(seoul(2026, 11, 23, 9, 30), "card_issue")
    assert cal.is_open(seoul(2026, 11, 23, 9, 30), "other")  # the built-in default remains
    assert cal.hours_for("fraud").always_open
    assert cal.is_open(seoul(2026, 9, 25, 4), "fraud")
    assert cal.is_open(seoul(2026, 9, 25, 4), LOST_CARD_QUEUE)
    assert cal.next_opening(seoul(2026, 12, 30, 18)) == seoul(2027, 1, 4, 9)  # 종무식, 신정, weekend
