"""A pool of tracking codes reserved in MongoDB ahead of need, so a submission costs no round trip for one.

Codes are random (intake.tracking) and claimed in batches with one unordered insert: the unique ``_id`` of
``tracking_codes`` guarantees no two complaints share one, however many intake processes draw from their
own pools. A code drawn but never used (the process stopped) is simply never seen; the space is 10⁹.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime

from pymongo.errors import PyMongoError

from intake import tracking
from services import records
from services.errors import DependencyUnavailable
from services.store import Store

log = logging.getLogger(__name__)


class TrackingCodePool:
    """Hands out reserved codes; refills in the background below ``low_water``, at once when empty."""

    # A refill of 1,024 codes took ~50 ms here (256: ~15 ms); refilling with 768 left gives it 0.38 s
    # of runway at 2,000 submissions/s, so no submission waits for one (with 64 left, it had 32 ms).
    def __init__(self, store: Store, *, batch: int = 1024, low_water: int = 768) -> None:
        if not 0 <= low_water < batch:
            raise ValueError("low_water must be below batch")
        self._store = store
        self._batch = batch
        self._low_water = low_water
        self._codes: deque[str] = deque()
        self._refill: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._codes)

    async def take(self) -> str:
        """A code no other complaint has; DependencyUnavailable if MongoDB cannot reserve one."""
        while not self._codes:
            await self._refilled()
        code = self._codes.popleft()
        if len(self._codes) < self._low_water:
            self._start_refill()
        return code

    def _start_refill(self) -> asyncio.Task[None]:
        if self._refill is None or self._refill.done():
            self._refill = asyncio.get_running_loop().create_task(self._reserve())
        return self._refill

    async def _refilled(self) -> None:
        task = self._start_refill()
        try:
            # shield: a caller that gives up (client gone) must not cancel the refill others wait on.
            await asyncio.shield(task)
        except PyMongoError as exc:
            raise DependencyUnavailable(f"could not reserve tracking codes: {exc}") from exc

    async def _reserve(self) -> None:
        wanted = [tracking.new_code() for _ in range(self._batch)]
        held = await records.reserve_tracking_codes(self._store, wanted, datetime.now(UTC))
        self._codes.extend(held)
        if len(held) < len(wanted):
            log.info("tracking codes already taken: %d of %d", len(wanted) - len(held), len(wanted))

    async def close(self) -> None:
        """Stop a refill in flight (the codes it would reserve are never used)."""
        if self._refill is not None and not self._refill.done():
            self._refill.cancel()
            try:
                await self._refill
            except (asyncio.CancelledError, PyMongoError):
                pass
