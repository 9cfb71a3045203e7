"""A realm restart's countdown: daily times, which warning is told, in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.countdown import mark_to_tell, next_daily, parse_delay, spoken

MARKS = (900, 600, 300, 120, 60, 30, 10)


def _utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def test_next_daily_is_today_before_the_time_and_tomorrow_after() -> None:
    at_three = _utc(2026, 12, 3, 3, 0)
    assert next_daily(at_three, "04:00") == _utc(2026, 12, 3, 4, 0)
    assert next_daily(at_three, "03:00") == _utc(2026, 12, 4, 3, 0)
    assert next_daily(at_three, "02:59") == _utc(2026, 12, 4, 2, 59)


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_next_daily_is_within_a_day_and_on_the_clock(now: datetime, hour: int, minute: int) -> None:
    due = datetime.fromtimestamp(next_daily(now.timestamp(), f"{hour:02d}:{minute:02d}"), UTC)
    assert now < due <= now + timedelta(days=1)
    assert (due.hour, due.minute, due.second, due.microsecond) == (hour, minute, 0, 0)


@given(
    start=st.floats(0, 5000),
    steps=st.lists(st.floats(0.01, 200), min_size=1, max_size=100),
)
def test_each_mark_is_told_at_most_once_and_the_last_before_the_end(
    start: float, steps: list[float]
) -> None:
    """Counting down in uneven steps (a leader that pauses), every told mark is
    smaller than the one before, each at or above the time left when told, and
    once under 10 s something was told if the countdown began within the marks."""
    remaining, told, said = start, None, []
    for step in steps:
        mark = mark_to_tell(remaining, MARKS, told)
        if mark is not None:
            assert mark >= remaining
            assert told is None or mark < told
            said.append(mark)
            told = mark
        remaining -= step
        if remaining <= 0:
            break
    assert said == sorted(said, reverse=True)
    assert len(said) == len(set(said))
    if start <= max(MARKS):
        assert said, "a countdown that starts within the marks is told at once"


def test_a_late_leader_tells_the_mark_it_missed_once() -> None:
    assert mark_to_tell(420, MARKS, None) == 600
    assert mark_to_tell(400, MARKS, 600) is None
    assert mark_to_tell(100, MARKS, 600) == 120
    assert mark_to_tell(100, MARKS, 120) is None
    assert mark_to_tell(2000, MARKS, None) is None


def test_spoken_times_read_as_a_player_would_say_them() -> None:
    assert spoken(600) == "10 minutes"
    assert spoken(599.6) == "10 minutes"
    assert spoken(61) == "1 minute"
    assert spoken(119) == "2 minutes"
    assert spoken(3600) == "60 minutes"
    assert spoken(7200) == "2 hours"
    assert spoken(6 * 3600 + 100) == "6 hours"
    assert spoken(30) == "30 seconds"
    assert spoken(1) == "1 second"
    assert spoken(-3) == "0 seconds"


def test_delays_read_with_their_units() -> None:
    assert parse_delay("10m") == 600
    assert parse_delay("90s") == 90
    assert parse_delay("90") == 90
    assert parse_delay(" 2H ") == 7200
    assert parse_delay("0") == 0
    assert parse_delay("7d") == 7 * 86400


@pytest.mark.parametrize("text", ["", "-5m", "10 minutes", "8d", "1.5h", "m", "10mm"])
def test_bad_delays_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a delay such as"):
        parse_delay(text)
