"""services.lanes: concurrent across keys, in order within a key, bounded."""

from __future__ import annotations

import asyncio

import pytest

from services.lanes import KeyedLanes, Work


async def test_work_of_one_key_runs_in_order_and_keys_overlap() -> None:
    lanes = KeyedLanes(limit=10)
    log: list[str] = []
    running = 0
    peak = 0

    def job(key: str, i: int, delay: float) -> Work:
        async def work() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            log.append(f"{key}{i}+")
            await asyncio.sleep(delay)
            log.append(f"{key}{i}-")
            running -= 1

        return work

    for i in range(3):
        await lanes.submit("a", job("a", i, 0.03 - 0.01 * i))
        await lanes.submit("b", job("b", i, 0.01))
    await lanes.drain()

    for key in "ab":
        mine = [entry for entry in log if entry.startswith(key)]
        assert mine == [f"{key}{i}{s}" for i in range(3) for s in "+-"]
    assert peak == 2  # one of each key at a time, both keys at once


async def test_submit_waits_while_the_limit_is_reached() -> None:
    lanes = KeyedLanes(limit=2)
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    await lanes.submit(1, blocked)
    await lanes.submit(2, blocked)
    third = asyncio.create_task(lanes.submit(3, blocked))
    await asyncio.sleep(0.02)
    assert not third.done() and len(lanes) == 2

    gate.set()
    await third
    await lanes.drain()
    assert len(lanes) == 0


async def test_an_error_surfaces_in_drain_and_does_not_block_the_key() -> None:
    lanes = KeyedLanes(limit=4)
    after: list[int] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def next_one() -> None:
        after.append(1)

    await lanes.submit("k", fails)
    await lanes.submit("k", next_one)
    with pytest.raises(RuntimeError, match="boom"):
        await lanes.drain()
    await lanes.drain()
    assert after == [1]


async def test_cancel_stops_pending_work() -> None:
    lanes = KeyedLanes(limit=4)
    ran: list[int] = []

    async def slow() -> None:
        await asyncio.sleep(10)
        ran.append(1)

    await lanes.submit("k", slow)
    await lanes.submit("k", slow)
    await lanes.cancel()
    assert ran == [] and len(lanes) == 0
