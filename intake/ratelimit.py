"""Token-bucket rate limits per client IP and per API key, kept in this process's memory.

Each intake replica counts on its own, so a city running N replicas allows up to N times the
configured rates; the limits are there to stop floods and SMS pumping, not to meter partners.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from services.errors import PasokhError


class RateLimitSettings(BaseModel):
    """Requests per minute and the burst allowed above that rate."""

    ip_per_minute: int = Field(
        default=600, ge=1, description="Every route but health and metrics, per client IP."
    )
    ip_burst: int = Field(default=200, ge=1)
    submit_per_minute: int = Field(
        default=20, ge=1, description="Anonymous POST /v1/complaints, per client IP."
    )
    submit_burst: int = Field(default=10, ge=1)
    key_per_minute: int = Field(default=6000, ge=1, description="Calls made with one API key.")
    key_burst: int = Field(default=1000, ge=1)


class RateLimited(PasokhError):
    """Too many requests; ``retry_after`` seconds until the next one is allowed."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"rate limited; retry after {self.retry_after}s")


@dataclass
class TokenBuckets:
    """One bucket per key, the least recently used forgotten beyond ``max_keys``."""

    per_minute: int
    burst: int
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, key: str) -> None:
        """Spend one token of ``key``'s bucket or raise :class:`RateLimited`."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited((1.0 - tokens) / rate)
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


@dataclass
class Limits:
    """The three limiters of one intake process."""

    per_ip: TokenBuckets
    per_submitter: TokenBuckets
    per_key: TokenBuckets

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> Limits:
        """Buckets sized by ``settings``."""
        return cls(
            per_ip=TokenBuckets(settings.ip_per_minute, settings.ip_burst),
            per_submitter=TokenBuckets(settings.submit_per_minute, settings.submit_burst),
            per_key=TokenBuckets(settings.key_per_minute, settings.key_burst),
        )
