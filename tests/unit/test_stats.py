"""Percentiles from the rollups' histogram, Jalali periods and the open-data record."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from services import stats


def test_percentiles_from_the_histogram_are_within_a_bucket_of_the_exact_value() -> None:
    rng = random.Random(7)
    hours = [rng.lognormvariate(3, 1.2) for _ in range(5000)]
    figures = stats.Figures()
    for h in hours:
        figures.merge(stats.Figures(resolved=1, hist={stats.bucket_of(h): 1}))
    ordered = sorted(hours)
    for q in (0.5, 0.9):
        exact = ordered[int(q * len(ordered))]
        approx = figures.percentile_hours(q)
        assert approx is not None
        assert abs(approx - exact) / exact < stats.RATIO - 1, (q, exact, approx)


def test_bucket_bounds_hold_their_values() -> None:
    for h in (0.01, 0.25, 0.26, 1.0, 24.0, 100.0, 1000.0):
        low, high = stats.bucket_bounds(stats.bucket_of(h))
        assert low < h <= high or (h <= stats.FIRST_BUCKET_HOURS and low == 0)


def test_jalali_periods_and_the_city_day() -> None:
    assert stats.jalali_month(date(2026, 3, 21)) == "1405-01"  # Nowruz
    assert stats.jalali_month(date(2026, 3, 20)) == "1404-12"
    assert stats.jalali_week(date(2026, 3, 21)).startswith("1405-W")
    # 22:00 UTC is already the next day in Tehran (+03:30).
    assert stats.local_day(datetime(2026, 3, 20, 22, 0, tzinfo=UTC)) == date(2026, 3, 21)


def test_public_record_rounds_and_leaves_unknowns_empty() -> None:
    empty = stats.Figures().public()
    assert empty["median_hours_to_resolve"] is None and empty["satisfaction"] is None
    figures = stats.Figures(submitted=3, resolved=2, sla_known=2, in_sla=1, rating_sum=9, rating_count=2)
    public = figures.public()
    assert public["resolved_within_sla"] == 0.5 and public["satisfaction"] == 4.5


@pytest.mark.parametrize("category", ["roads", "a|b"])
def test_rollup_keys_cover_every_view(category: str) -> None:
    keys = stats.rollup_keys(date(2026, 11, 26), category, "roads", "3")
    scopes = sorted(k["scope"] for k in keys)
    assert scopes == ["all", "all", "all", "all", "day", "month", "week"]
    assert all("." not in k["_id"] and k["_id"].count("|") in (3, 4) for k in keys)
