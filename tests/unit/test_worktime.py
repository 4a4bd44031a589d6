"""services.worktime: Iran's working week, Thursdays, Fridays and the 1405 holidays."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.worktime import TEHRAN, WorkCalendar, jalali_to_gregorian, load_holidays


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TEHRAN)


def test_jalali_dates_convert() -> None:
    assert jalali_to_gregorian("1405-01-01") == date(2026, 3, 21)
    assert jalali_to_gregorian("1405-11-22") == date(2027, 2, 11)
    with pytest.raises(ValueError):
        jalali_to_gregorian("1405-13-01")


def test_the_shipped_1405_holidays_include_nowruz_and_the_revolution_day() -> None:
    holidays = load_holidays()
    assert {date(2026, 3, 21), date(2026, 3, 24), date(2026, 4, 1), date(2027, 2, 11)} <= holidays.keys()
    assert len([d for d in holidays if date(2026, 3, 21) <= d <= date(2027, 3, 20)]) >= 25


def test_friday_is_off_and_thursday_follows_the_setting() -> None:
    thursday, friday = date(2026, 12, 3), date(2026, 12, 4)
    assert WorkCalendar().hours(friday) is None
    assert WorkCalendar(thursday="off").hours(thursday) is None
    half = WorkCalendar(thursday="half").hours(thursday)
    assert half == (at(2026, 12, 3, 8), at(2026, 12, 3, 12))
    assert WorkCalendar(thursday="full").hours(thursday) == (at(2026, 12, 3, 8), at(2026, 12, 3, 16))


@pytest.mark.parametrize(
    ("thursday", "expected"),
    [("half", at(2026, 12, 5, 9)), ("off", at(2026, 12, 5, 13)), ("full", at(2026, 12, 3, 13))],
)
def test_six_working_hours_from_wednesday_afternoon(thursday: str, expected: datetime) -> None:
    calendar = WorkCalendar(thursday=thursday)  # type: ignore[arg-type]
    # Wednesday 15:00: one hour left that day, then Thursday as configured, Friday off, Saturday.
    assert calendar.add(at(2026, 12, 2, 15), timedelta(hours=6)) == expected


def test_time_before_opening_starts_at_opening() -> None:
    assert WorkCalendar().add(at(2026, 11, 28, 6), timedelta(hours=1)) == at(2026, 11, 28, 9)


def test_holidays_are_skipped() -> None:
    # 14 and 15 Khordad 1405 are Thursday 4 and Friday 5 June 2026.
    calendar = WorkCalendar.default()
    assert calendar.add(at(2026, 6, 3, 15), timedelta(hours=2)) == at(2026, 6, 6, 9)
    # Nowruz: Saturday 21 March 2026 to Tuesday 24 March are off.
    assert calendar.add(at(2026, 3, 21, 10), timedelta(hours=1)) == at(2026, 3, 25, 9)


def test_the_result_keeps_the_zone_of_the_start() -> None:
    start = at(2026, 11, 28, 9).astimezone(datetime.now().astimezone().tzinfo)
    due = WorkCalendar().add(start, timedelta(hours=1))
    assert due.tzinfo == start.tzinfo and due == at(2026, 11, 28, 10)


def test_a_negative_duration_or_an_inverted_day_is_refused() -> None:
    with pytest.raises(ValueError):
        WorkCalendar().add(at(2026, 11, 28, 9), timedelta(hours=-1))
    with pytest.raises(ValueError):
        WorkCalendar(start=time(16), end=time(8))


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2027, 3, 1)),
    minutes=st.integers(min_value=0, max_value=60 * 200),
    thursday=st.sampled_from(["full", "half", "off"]),
)
def test_between_measures_what_add_added(start: datetime, minutes: int, thursday: str) -> None:
    calendar = WorkCalendar(thursday=thursday, holidays=frozenset(load_holidays()))  # type: ignore[arg-type]
    begin = start.replace(tzinfo=TEHRAN)
    end = calendar.add(begin, timedelta(minutes=minutes))
    assert end >= begin
    assert calendar.between(begin, end) == timedelta(minutes=minutes)
