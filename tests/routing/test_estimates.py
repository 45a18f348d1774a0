from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from sangdam.core.clock import SEOUL
from sangdam.routing.estimates import (
    WAIT_GRID,
    BusySlot,
    ContactRecord,
    ContactWindow,
    HandleTimeLearner,
    HandleTimeModel,
    WaitCalibrator,
    WaitMonitor,
    attainable_share,
    best_shares_within,
    best_time_to_contact,
    erlang_wait,
    error_floor,
    expected_wait_for_newcomer,
    forecast_volumes,
    slots_wait,
    staffing_outlook,
    wait_distribution,
    wait_message,
    wait_phrase,
)
from sangdam.routing.hours import Calendar, Closure
from sangdam.routing.staffing import ServiceTarget

VOICE = HandleTimeModel(270.0, 0.55, 30.0, 0.4)


def test_wait_phrases() -> None:
    assert wait_phrase(10) == "곧 연결됩니다"
    assert wait_phrase(45) == "1분 이내"
    assert wait_phrase(170) == "약 3분"
    assert wait_phrase(4300) == "약 1시간 10분"
    assert wait_phrase(170, "en") == "about 3 minutes"
    assert wait_phrase(65, "en") == "about 1 minute"
    assert wait_phrase(math.inf) == "대기 시간을 예측하기 어렵습니다"


def test_wait_messages_for_the_waiting_customer() -> None:
    assert wait_message(3, 170) == "대기 순서 3번째, 예상 대기 시간 약 3분입니다."
    assert wait_message(1, 10) == "대기 순서 1번째, 곧 연결됩니다."
    assert wait_message(None, 300) == "예상 대기 시간 약 5분입니다."
    assert wait_message(3, 170, "en") == "You are number 3 in line; the expected wait is about 3 minutes."
    assert wait_message(None, 45, "en") == "The wait is less than a minute."
    assert wait_message(2, math.inf) == "대기 순서 2번째, 대기 시간은 지금 예측하기 어렵습니다."


def test_erlang_views() -> None:
    # 10 Erlangs on 14 agents: those who wait, wait AHT / (N − A) = 45 s; everyone, 7.8 s (ASA).
    assert erlang_wait(100 / 1800, 180, 14) == pytest.approx(45.0)
    assert expected_wait_for_newcomer(100 / 1800, 180, 14) == pytest.approx(7.84, abs=0.01)
    assert math.isinf(erlang_wait(100 / 1800, 180, 10))


def test_a_long_running_contact_is_more_likely_to_end_soon() -> None:
    fresh, long_running = BusySlot(5.0), BusySlot(400.0)
    assert VOICE.free_within(long_running, 120) > VOICE.free_within(fresh, 120)
    assert VOICE.free_within(None, 0) == 1.0
    assert VOICE.free_within(fresh, 20) == 0.0  # after-call work comes first
    after_call = BusySlot(25.0, after_call=True)
    assert VOICE.free_within(after_call, 30) > 0.7
    assert VOICE.cycle_s == pytest.approx(300.0)


def _monte_carlo(position: int, slots: list[BusySlot], model: HandleTimeModel, runs: int = 4000) -> float:
    rng = random.Random(7)
    mu = math.log(model.mean_s) - model.sigma**2 / 2
    results = []
    for _ in range(runs):
        frees = []
        for slot in slots:
            while True:  # the contact's total length, given it has lasted elapsed_s
                total = rng.lognormvariate(mu, model.sigma)
                if total > slot.elapsed_s:
                    break
            frees.append(total - slot.elapsed_s + model.after_call_mean_s)
        results.append(sorted(frees)[position - 1])
    return sorted(results)[runs // 2]


@pytest.mark.parametrize("position", [1, 2, 4])
def test_slots_wait_matches_a_monte_carlo_median(position: int) -> None:
    slots = [BusySlot(e) for e in (10.0, 60.0, 150.0, 240.0, 420.0, 30.0)]
    expected = _monte_carlo(position, slots, VOICE)
    assert slots_wait(position, slots, VOICE) == pytest.approx(expected, rel=0.06)


def test_slots_wait_edges() -> None:
    slots = [BusySlot(100.0), BusySlot(200.0), None]
    assert slots_wait(1, slots, VOICE) == pytest.approx(0.5, abs=0.5)  # a slot is free
    assert slots_wait(0, slots, VOICE) == 0.0
    assert math.isinf(slots_wait(1, [], VOICE))
    deep = slots_wait(10, slots, VOICE)
    assert deep == pytest.approx(slots_wait(3, slots, VOICE) + 7 * VOICE.cycle_s / 3, rel=1e-6)
    waits = [slots_wait(p, [BusySlot(60.0 * i) for i in range(8)], VOICE) for p in range(1, 12)]
    assert waits == sorted(waits)
    assert slots_wait(3, slots, VOICE, overtaking_per_s=0.05) > slots_wait(3, slots, VOICE)


def test_free_by_is_free_within_for_many_times() -> None:
    times = np.array([0.0, 5.0, 29.0, 31.0, 60.0, 200.0, 900.0])
    chat = HandleTimeModel(600.0, 0.6)
    slots = [
        None,
        BusySlot(10.0),
        BusySlot(400.0, leaves_in_s=120.0),
        BusySlot(20.0, after_call=True),
        BusySlot(back_in_s=45.0),
        BusySlot(1e6),  # far beyond any handle time: ends as soon as it can
    ]
    for model in (VOICE, chat):
        for slot in slots:
            expected = [model.free_within(slot, float(t)) for t in times]
            assert model.free_by(slot, times) == pytest.approx(expected, abs=1e-9)


def test_wait_distribution_is_the_one_slots_wait_takes_the_median_of() -> None:
    slots = [BusySlot(e) for e in (10.0, 60.0, 150.0, 240.0, 420.0, 30.0)] + [BusySlot(5.0, after_call=True)]
    for position in (1, 2, 4, 7):
        cdf = wait_distribution(position, slots, VOICE)
        assert cdf is not None
        assert (np.diff(cdf) >= -1e-12).all()  # a distribution function
        median_s = slots_wait(position, slots, VOICE)
        assert float(np.interp(median_s, WAIT_GRID, cdf)) == pytest.approx(0.5, abs=0.03)
    assert wait_distribution(8, slots, VOICE) is None  # beyond the first round the model gives only a mean
    assert wait_distribution(1, [*slots, None], VOICE) == pytest.approx(np.ones_like(WAIT_GRID))  # a free slot


def test_the_floor_of_a_memoryless_wait() -> None:
    # The first in line behind agents who finish independently of how long they have been busy
    # waits an exponential time: no estimate is within 20 % of it more than 14.8 % of the time,
    # and the median relative error of any estimate is at least 63 %, whatever the mean.
    for mean in (10.0, 30.0, 300.0):
        shares = best_shares_within(1.0 - np.exp(-WAIT_GRID / mean))
        assert attainable_share([shares], 0.2) == pytest.approx(0.148, abs=0.005)
        assert error_floor([shares]) == pytest.approx(0.63, abs=0.011)
    # A wait known to within the grid's 5 % is within 5 % of its estimate for sure. With one such
    # wait to one memoryless wait, the certain one alone makes half; with one to two, the
    # memoryless ones must each be within m a quarter of the time: m = 34 %.
    certain = best_shares_within((np.arange(len(WAIT_GRID)) >= 100).astype(np.float64))
    assert certain[4] == pytest.approx(1.0)
    memoryless = best_shares_within(1.0 - np.exp(-WAIT_GRID / 30.0))
    floor = error_floor([certain, memoryless])
    assert floor is not None and floor <= 0.05
    assert error_floor([memoryless, memoryless, certain]) == pytest.approx(0.34, abs=0.011)
    assert error_floor([]) is None
    assert attainable_share([], 0.2) is None


def test_knowing_elapsed_handle_times_lowers_the_floor() -> None:
    # Ten agents, each a call in progress: with lognormal handle times the elapsed times tell
    # something, and the first in line is better off than behind memoryless agents.
    slots = [BusySlot(30.0 * i) for i in range(1, 11)]
    cdf = wait_distribution(1, slots, VOICE)
    assert cdf is not None
    floor = error_floor([best_shares_within(cdf)])
    assert floor is not None and 0.2 < floor < 0.63


def test_handle_time_learner_follows_the_data() -> None:
    learner = HandleTimeLearner(HandleTimeModel(300.0, 0.6, 30.0, 0.5))
    assert learner.model() == HandleTimeModel(300.0, 0.6, 30.0, 0.5)
    rng = random.Random(3)
    for _ in range(400):
        learner.observe(rng.lognormvariate(math.log(200) - 0.4**2 / 2, 0.4))
        learner.observe_after_call(rng.lognormvariate(math.log(20) - 0.3**2 / 2, 0.3))
    model = learner.model()
    assert model.mean_s == pytest.approx(200, rel=0.08)
    assert model.sigma == pytest.approx(0.4, abs=0.06)
    assert model.after_call_mean_s == pytest.approx(20, rel=0.08)


def test_calibrator() -> None:
    calibrator = WaitCalibrator(prior=0)
    assert calibrator.factor == 1.0
    for _ in range(10):
        calibrator.observe(100, 150)
    assert calibrator.factor == pytest.approx(1.5)
    calibrator.observe(0, 10)  # ignored
    assert WaitCalibrator(prior=10, bounds=(0.5, 2.0)).factor == 1.0


def test_wait_monitor_service_interval_and_methods() -> None:
    monitor = WaitMonitor(VOICE)
    assert monitor.estimate(2, 0.0, 10).method == "model"
    assert monitor.estimate(2, 0.0, 10).seconds == pytest.approx(3 * 30.0)
    # A backlog forms at t=0; answers every 12 s while it lasts.
    for i in range(8):
        monitor.joined(float(i), priority=50)
    for i in range(1, 7):
        monitor.answered(12.0 * i, waited_s=12.0 * i)
    assert monitor.service_interval() == pytest.approx(12.0)
    interval = monitor.estimate(4, 80.0, 10)
    assert interval.method == "interval"
    assert interval.seconds == pytest.approx(60.0)
    assert interval.position == 5
    slots = monitor.estimate(0, 80.0, [BusySlot(400.0), BusySlot(50.0)])
    assert slots.method == "slots"
    assert 0 < slots.seconds < 200
    assert slots.phrase() in {"곧 연결됩니다", "1분 이내", "약 1분", "약 2분", "약 3분"}
    nobody = monitor.estimate(1, 80.0, [])  # a shift change: no slot staffed this minute
    assert nobody.method == "interval"
    assert nobody.seconds == pytest.approx(24.0)
    assert monitor.arrival_rate(80.0) == pytest.approx(8 / 900)
    assert monitor.arrival_rate(80.0, above_priority=50) == 0.0


def test_newcomer_estimate_blends_erlang_with_observed_waits() -> None:
    monitor = WaitMonitor(HandleTimeModel(180.0, 0.5))
    for i in range(100):
        monitor.joined(float(i * 18), 50)  # 100 arrivals per 30 minutes
        monitor.answered(float(i * 18) + 1, 20.0)
    erlang_only = expected_wait_for_newcomer(monitor.arrival_rate(1800.0), 180.0, 14)
    blended = monitor.newcomer_estimate(1800.0, 14)
    assert blended.method == "erlang+observed"
    assert blended.seconds == pytest.approx((erlang_only + 20.0) / 2)
    assert WaitMonitor(VOICE).newcomer_estimate(0.0, 5).method == "erlang"


def _history() -> list[ContactRecord]:
    records = []
    for week in range(4):
        monday = datetime(2026, 10, 26, tzinfo=SEOUL) + timedelta(weeks=week)
        for i in range(10):  # Monday 09:00–09:30, long waits
            records.append(ContactRecord(monday.replace(hour=9, minute=i), 240.0, i % 4 != 0, 300.0))
        tuesday = monday + timedelta(days=1)
        for i in range(6):  # Tuesday 15:00, short waits
            records.append(ContactRecord(tuesday.replace(hour=15, minute=i * 5), 10.0, True, 200.0))
        for i in range(6):  # Tuesday 16:00, a little longer
            records.append(ContactRecord(tuesday.replace(hour=16, minute=i * 5), 40.0, True, 200.0))
    return records


def test_best_time_to_contact() -> None:
    best = best_time_to_contact(_history(), min_contacts=5, top=3)
    assert [(w.weekday, w.hour) for w in best] == [(1, 15), (1, 16), (0, 9)]
    assert best[0].avg_wait_s == 10.0
    assert best[0].label() == "화요일 오후 3시~4시"
    assert best[0].label("en") == "Tuesday 15:00–16:00"
    assert best[2].answered_share == pytest.approx(0.7)
    assert ContactWindow(0, 11, 5, 0.0, 1.0).label() == "월요일 오전 11시~12시"
    assert best_time_to_contact(_history(), min_contacts=50) == []


def test_forecast_volumes_by_weekday_and_time_of_day() -> None:
    start = datetime(2026, 11, 23, 9, 10, tzinfo=SEOUL)  # the next Monday
    forecast = forecast_volumes(_history(), start, hours=1, interval_s=1800)
    assert [f.start for f in forecast] == [start.replace(minute=0), start.replace(minute=30)]
    assert forecast[0].calls == pytest.approx(10.0)
    assert forecast[0].aht_s == pytest.approx(300.0)
    assert forecast[1].calls == 0.0
    holiday = datetime(2026, 10, 5, 9, tzinfo=SEOUL)  # a Monday, 개천절 대체 휴일
    assert forecast_volumes(_history(), holiday, 1)[0].calls == pytest.approx(10.0)
    assert forecast_volumes(_history(), holiday, 1, calendar=Calendar())[0].calls == 0.0
    closed = Calendar(closures=[Closure(date(2026, 11, 23), date(2026, 11, 23), "점검")])
    assert forecast_volumes(_history(), start, 1, calendar=closed)[0].calls == 0.0
    with pytest.raises(ValueError):
        forecast_volumes(_history(), start, interval_s=7 * 60)


def test_staffing_outlook_for_the_supervisor() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=SEOUL)
    records = [
        ContactRecord(datetime(2026, 11, 16, 9, tzinfo=SEOUL) + timedelta(seconds=18 * i), 5.0, True, 180.0)
        for i in range(100)
    ]
    outlook = staffing_outlook(forecast_volumes(records, start, hours=1), ServiceTarget(0.8, 20))
    first, plan = outlook[0]
    assert first.calls == pytest.approx(100.0)
    assert plan.agents == 14
    assert plan.service_level == pytest.approx(0.888, abs=5e-4)
    assert outlook[1][1].agents == 0
