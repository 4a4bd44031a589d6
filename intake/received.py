"""Group commit of the ``received`` records: concurrent submissions share one insert_many.

Each submission awaits the batch that carries its record, so the record exists when intake answers
(a status lookup right after the 202 finds it), while MongoDB sees one round trip per batch instead of
one per complaint. A batch is whatever arrived while the previous one was being written.
"""

from __future__ import annotations

import asyncio

from services import records
from services.store import Doc, Store


class ReceivedWriter:
    """Writes received records in batches of at most ``max_batch``; one write in flight at a time."""

    def __init__(self, store: Store, *, max_batch: int = 500) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[Doc, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, doc: Doc) -> None:
        """Insert ``doc`` (a :func:`services.records.received_record`); raises what the insert raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        # shield: a caller that gives up must not cancel the write of the whole batch.
        await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                await records.record_received_many(self._store, [doc for doc, _ in batch])
            except Exception as exc:  # noqa: BLE001 — every waiter learns what went wrong
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        """Finish the batch in flight."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
