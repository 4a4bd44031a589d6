"""Concurrency across keys, order within a key: how a worker keeps many complaints in flight.

Kafka orders messages per partition; Pasokh needs order only per key (one complaint, one citizen).
:class:`KeyedLanes` runs the work of different keys concurrently, up to ``limit`` at a time, and the
work of one key strictly one after the other, in the order it was submitted. ``submit`` returns as
soon as the work is queued and waits only while ``limit`` pieces of work are pending, which is the
back-pressure that stops a worker from reading the whole topic into memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable

Work = Callable[[], Awaitable[None]]


class KeyedLanes:
    """Per-key FIFO lanes over a bounded number of concurrent pieces of work."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def submit(self, key: Hashable, work: Work) -> None:
        """Queue ``work`` behind earlier work of ``key``; wait while ``limit`` pieces are pending.

        ``work`` must handle its own errors: an exception is re-raised by :meth:`drain` and does not
        stop later work of the same key.
        """
        await self._slots.acquire()
        before = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(before, work))
        self._tails[key] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._slots.release()
            if self._tails.get(key) is finished:
                del self._tails[key]

        task.add_done_callback(done)

    @staticmethod
    async def _run(before: asyncio.Task[None] | None, work: Work) -> None:
        if before is not None:
            # Wait for the key's previous work whatever became of it; its error is its own.
            await asyncio.wait([before])
        await work()

    async def drain(self) -> None:
        """Wait until all queued work is done; re-raise the first error any of it raised."""
        while self._tasks:
            results = await asyncio.gather(*list(self._tasks), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    raise result

    async def cancel(self) -> None:
        """Cancel everything queued or running (a worker stopping); unfinished work is not acknowledged."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
