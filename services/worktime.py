"""Iran's working calendar: Saturday to Wednesday, a configurable Thursday, Friday off, official holidays.

Deadlines (SLA) are counted in working time: an hour of a deadline passes only during office hours of a
working day in Tehran time. Holidays are kept in the Jalali calendar (``services/data/holidays/*.toml``,
one file per Jalali year) and converted with jdatetime.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime

TEHRAN = ZoneInfo("Asia/Tehran")
ThursdayMode = Literal["full", "half", "off"]
# date.weekday(): Monday is 0 … Thursday 3, Friday 4.
_THURSDAY, _FRIDAY = 3, 4
_MAX_DAYS = 3660  # a deadline further than ten years away is a configuration error, not a loop


def jalali_to_gregorian(text: str) -> date:
    """``"1405-01-01"`` (Jalali) → ``date(2026, 3, 21)``; ValueError if it is not a Jalali date."""
    try:
        year, month, day = (int(part) for part in text.split("-"))
        result: date = jdatetime.date(year, month, day).togregorian()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a Jalali date YYYY-MM-DD: {text!r}") from exc
    return result


def holidays_dir() -> Path:
    """Where the shipped holiday lists are."""
    return Path(str(resources.files("services") / "data" / "holidays"))


def load_holidays(directory: Path | None = None) -> dict[date, str]:
    """Every holiday of every ``*.toml`` file in ``directory`` (Gregorian date → English name)."""
    found: dict[date, str] = {}
    for path in sorted((directory or holidays_dir()).glob("*.toml")):
        with path.open("rb") as f:
            data = tomllib.load(f)
        for entry in data.get("holidays", []):
            found[jalali_to_gregorian(entry["date"])] = entry.get("en") or entry.get("fa") or ""
    return found


@dataclass(frozen=True)
class WorkCalendar:
    """Office hours of the city's departments, in Tehran time.

    Saturday to Wednesday from ``start`` to ``end``; Thursday the same (``full``), until the middle of
    the day (``half``) or not at all (``off``); Friday and ``holidays`` off.
    """

    start: time = time(8, 0)
    end: time = time(16, 0)
    thursday: ThursdayMode = "half"
    holidays: frozenset[date] = field(default_factory=frozenset)
    tz: ZoneInfo = TEHRAN

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the working day must end after it starts")

    @classmethod
    def default(cls, *, thursday: ThursdayMode = "half", extra_holidays: Iterable[date] = ()) -> WorkCalendar:
        """The calendar with the shipped official holidays."""
        return cls(thursday=thursday, holidays=frozenset(load_holidays()) | frozenset(extra_holidays))

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of ``day`` (aware, Tehran time), or None if it is a day off."""
        weekday = day.weekday()
        if weekday == _FRIDAY or day in self.holidays:
            return None
        opens = datetime.combine(day, self.start, self.tz)
        closes = datetime.combine(day, self.end, self.tz)
        if weekday == _THURSDAY:
            if self.thursday == "off":
                return None
            if self.thursday == "half":
                closes = opens + (closes - opens) / 2
        return opens, closes

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start`` (returned in ``start``'s zone)."""
        if duration < timedelta(0):
            raise ValueError("a working-time duration cannot be negative")
        local = start.astimezone(self.tz)
        left = duration
        day = local.date()
        for _ in range(_MAX_DAYS):
            interval = self.hours(day)
            if interval is not None:
                opens, closes = interval
                begin = max(opens, local)
                if begin < closes:
                    if begin + left <= closes:
                        return (begin + left).astimezone(start.tzinfo)
                    left -= closes - begin
            day += timedelta(days=1)
        raise ValueError("no working time within ten years: check the calendar's configuration")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (zero if ``b`` is not after ``a``)."""
        if b <= a:
            return timedelta(0)
        total = timedelta(0)
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            interval = self.hours(day)
            if interval is not None:
                begin, end = max(interval[0], a), min(interval[1], b)
                if end > begin:
                    total += end - begin
            day += timedelta(days=1)
        return total
