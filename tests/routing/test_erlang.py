from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sangdam.routing import erlang


def test_textbook_case_100_calls_per_half_hour_aht_180_needs_14_agents() -> None:
    traffic = erlang.traffic_intensity(100, 1800, 180)
    assert traffic == pytest.approx(10.0)
    assert erlang.agents_needed(100, 1800, 180, 0.8, 20) == 14
    assert erlang.service_level(14, traffic, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert erlang.service_level(13, traffic, 180, 20) == pytest.approx(0.796, abs=5e-4)
    assert erlang.erlang_c(14, traffic) == pytest.approx(0.1741, abs=1e-4)
    assert erlang.average_speed_of_answer(14, traffic, 180) == pytest.approx(7.84, abs=0.01)
    assert erlang.occupancy(14, traffic) == pytest.approx(10 / 14)


def test_erlang_b_known_values() -> None:
    # Erlang B tables: 10 Erlangs on 10 lines blocks 21.46 %, on 15 lines 3.65 %.
    assert erlang.erlang_b(10, 10.0) == pytest.approx(0.2146, abs=1e-4)
    assert erlang.erlang_b(15, 10.0) == pytest.approx(0.0365, abs=1e-4)
    assert erlang.erlang_b(0, 5.0) == 1.0


def test_erlang_c_single_server_is_utilisation() -> None:
    # M/M/1: the probability of waiting is ρ.
    assert erlang.erlang_c(1, 0.6) == pytest.approx(0.6)


def test_overload_and_no_traffic() -> None:
    assert erlang.erlang_c(10, 10.0) == 1.0
    assert erlang.service_level(9, 10.0, 180, 20) == 0.0
    assert math.isinf(erlang.average_speed_of_answer(10, 12.0, 180))
    assert erlang.erlang_c(3, 0.0) == 0.0
    assert erlang.service_level(0, 0.0, 180, 20) == 1.0
    assert erlang.agents_needed(0, 1800, 180, 0.8, 20) == 0


def test_stable_for_large_centers() -> None:
    c = erlang.erlang_c(5000, 4900.0)
    assert 0 < c < 1
    agents = erlang.agents_needed(20000, 1800, 300, 0.8, 20)
    assert 3333 < agents < 3400


def test_max_occupancy_raises_the_headcount() -> None:
    assert erlang.agents_needed(100, 1800, 180, 0.8, 20, max_occupancy=0.7) == 15
    assert erlang.agents_needed(100, 1800, 180, 0.8, 20, max_occupancy=0.9) == 14


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        erlang.agents_needed(100, 1800, 180, 1.2, 20)
    with pytest.raises(ValueError):
        erlang.traffic_intensity(100, 0, 180)
    with pytest.raises(ValueError):
        erlang.agents_needed(100, 1800, 180, 0.8, 20, max_occupancy=0)


@given(
    calls=st.floats(min_value=1, max_value=2000),
    aht=st.floats(min_value=10, max_value=1200),
    share=st.floats(min_value=0.5, max_value=0.95),
    seconds=st.floats(min_value=0, max_value=120),
)
def test_agents_needed_is_the_fewest_meeting_the_target(calls: float, aht: float, share: float, seconds: float) -> None:
    traffic = erlang.traffic_intensity(calls, 1800, aht)
    n = erlang.agents_needed(calls, 1800, aht, share, seconds)
    assert n > traffic
    assert erlang.service_level(n, traffic, aht, seconds) >= share
    if n - 1 > traffic:
        assert erlang.service_level(n - 1, traffic, aht, seconds) < share


@given(agents=st.integers(min_value=1, max_value=300), traffic=st.floats(min_value=0.01, max_value=400))
def test_probabilities_stay_in_range_and_more_agents_help(agents: int, traffic: float) -> None:
    c = erlang.erlang_c(agents, traffic)
    assert 0.0 <= c <= 1.0
    assert erlang.erlang_c(agents + 1, traffic) <= c + 1e-12
