"""notifier.retry.Retry: exponential backoff with full jitter, capped, and when to stop."""

from __future__ import annotations

import random

from notifier.handlers import Retry as RetryFromHandlers
from notifier.retry import Retry


def test_the_ceiling_doubles_with_each_try_and_is_capped() -> None:
    ceilings: list[float] = []

    def uniform(low: float, high: float) -> float:
        ceilings.append(high)
        assert low == 0
        return high

    retry = Retry(max_attempts=10, base_seconds=0.5, max_seconds=5.0, uniform=uniform)
    assert [retry.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_full_jitter_spreads_delays_over_the_whole_range() -> None:
    retry = Retry(base_seconds=1.0, uniform=random.Random(7).uniform)
    delays = [retry.delay(3) for _ in range(2000)]  # ceiling 4 s
    assert all(0 <= d <= 4.0 for d in delays)
    assert min(delays) < 0.2 and max(delays) > 3.8  # not a fixed delay, not a narrow band
    assert 1.8 < sum(delays) / len(delays) < 2.2  # uniform: mean half the ceiling


def test_exhausted_after_max_attempts() -> None:
    retry = Retry(max_attempts=3)
    assert [retry.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_handlers_still_export_the_same_class() -> None:
    assert RetryFromHandlers is Retry
