"""An HTTP load generator: open loop at a target rate, or closed loop at a fixed concurrency.

Open loop schedules request *i* at ``start + i / rate`` whatever happened before, and measures each
latency from its scheduled time, so a slow server cannot hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

Body = Callable[[int], dict[str, Any]]


@dataclass
class Result:
    """What a run measured."""

    mode: str
    target_rate: float | None
    concurrency: int | None
    duration: float
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def summary(self, ok: int = 202) -> dict[str, Any]:
        """Machine-readable figures: accepted per second and latency percentiles in milliseconds."""
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

        accepted = self.statuses.get(ok, 0)
        return {
            "mode": self.mode,
            "target_rate": self.target_rate,
            "concurrency": self.concurrency,
            "duration_s": round(self.elapsed, 2),
            "sent": self.sent,
            "accepted": accepted,
            "accepted_per_s": round(accepted / self.elapsed, 1) if self.elapsed else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p95": pct(95), "p99": pct(99), "max": pct(100)},
        }


async def _one(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], result: Result, t0: float
) -> None:
    try:
        async with session.post(url, json=body) as response:
            await response.read()
            result.statuses[response.status] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors[type(exc).__name__] += 1
    result.latencies.append(time.perf_counter() - t0)


async def open_loop(url: str, body: Body, *, rate: float, duration: float, timeout: float = 10.0) -> Result:
    """Send ``rate`` requests a second for ``duration`` seconds, whatever the answers take."""
    result = Result("open", rate, None, duration)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for i in itertools.count():
            scheduled = start + i / rate
            if scheduled - start >= duration:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(_one(session, url, body(i), result, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            result.sent += 1
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - start
    return result


async def closed_loop(
    url: str, body: Body, *, concurrency: int, duration: float, timeout: float = 10.0
) -> Result:
    """``concurrency`` clients, each sending its next request when the previous one is answered."""
    result = Result("closed", None, concurrency, duration)
    counter = itertools.count()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        start = time.perf_counter()
        deadline = start + duration

        async def client() -> None:
            while time.perf_counter() < deadline:
                result.sent += 1
                await _one(session, url, body(next(counter)), result, time.perf_counter())

        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - start
    return result


# Realistic Persian complaints, mixed categories, as citizens type them (ی/ي, digits in both scripts).
COMPLAINTS = (
    "چراغ‌های کوچه ما سه شب است خاموش است و شب‌ها خیلی تاریک است",
    "سطل زباله سر کوچه پر شده و بوی بدی می‌دهد، لطفا رسیدگی کنید",
    "یک چاله بزرگ وسط خیابان اصلی هست که ماشین‌ها داخلش می‌افتند",
    "درخت بزرگ پارک محله شکسته و شاخه‌هایش روی وسایل بازی افتاده",
    "جوی آب جلوی خانه ما گرفته و بعد از باران آبگرفتگی شده",
    "دستفروش‌ها پیاده‌رو را کامل بسته‌اند و عابر باید از خیابان رد شود",
    "بوی گاز شدیدی در کوچه ۱۲ می‌آید لطفا سریع اقدام کنید",
    "صدای بلند کارگاه تا نیمه شب ادامه دارد و نمی‌توانیم بخوابیم",
    "ایستگاه اتوبوس سایه‌بان ندارد و نیمکتش شکسته است",
    "سگ‌های ولگرد در پارک به بچه‌ها حمله می‌کنند",
)


def complaint_body(i: int) -> dict[str, Any]:
    """The ``i``-th complaint of a run (reproducible across runs)."""
    rng = random.Random(i)
    return {
        "text": COMPLAINTS[i % len(COMPLAINTS)],
        "phone": f"0912{rng.randrange(10**7):07d}",
        "district": str(1 + i % 12),
        "channel": "web",
    }
