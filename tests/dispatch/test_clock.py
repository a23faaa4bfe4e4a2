"""The clock services read: fixed or simulated time only moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.clock import FixedClock, WallClock, local


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=30))
def test_simulated_time_is_the_sum_of_its_steps(steps: list[int]) -> None:
    start = datetime(2024, 7, 30, 10, 0, tzinfo=UTC)
    clock = FixedClock(start)
    for s in steps:
        clock.advance(timedelta(seconds=s))
    assert clock.now() - start == timedelta(seconds=sum(steps))


def test_clock_never_runs_backwards() -> None:
    clock = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        clock.set(datetime(2023, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        FixedClock(datetime(2024, 1, 1))


def test_times_are_shown_in_beijing() -> None:
    shown = local(datetime(2024, 7, 30, 10, 0, tzinfo=UTC))
    assert shown is not None and shown.utcoffset() == timedelta(hours=8)
    assert shown.hour == 18
    assert WallClock().now().tzinfo is not None
