"""Group commit of the ``received`` records: concurrent submissions share one insert_many.

Each submission awaits the batch that carries its record, so the record normally exists when intake
answers (a status lookup right after the 202 finds it), while MongoDB sees one round trip per batch
instead of one per complaint. A batch is whatever arrived while the previous one was being written.

The wait is bounded (``wait_at_most``, PASOKH_INTAKE__RECORD_WAIT_MS): the complaint is already durable
in Kafka, so when MongoDB is slow for a moment the answer does not wait for it; the write goes on, and
a lookup in those milliseconds answers 404 until it lands (or until the router, which creates the
record if it is missing, has decided). Measured at 1,000 submissions/s, 1 % of the records took more
than 25 ms (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging

from intake.metrics import RECORDS_LATE
from services import records
from services.store import Doc, Store

log = logging.getLogger(__name__)


def _answer_late(future: asyncio.Future[None]) -> None:
    """The wait is over: the submission is answered, its record written when the batch lands."""
    if not future.done():
        RECORDS_LATE.inc()
        future.set_result(None)


class ReceivedWriter:
    """Writes received records in batches of at most ``max_batch``; one write in flight at a time."""

    def __init__(self, store: Store, *, max_batch: int = 500, wait_at_most: float | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        self._wait_at_most = wait_at_most
        self._pending: list[tuple[Doc, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, doc: Doc) -> None:
        """Insert ``doc`` (a :func:`services.records.received_record`); raises what the insert raised.

        Returns without error once ``wait_at_most`` seconds have passed; the insert goes on.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        # One timer per submission (asyncio.wait_for would add a shield, a waiter and callbacks). A
        # caller that gives up cancels its own future only, never the batch's write.
        timer = None
        if self._wait_at_most is not None:
            timer = loop.call_later(self._wait_at_most, _answer_late, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                await records.record_received_many(self._store, [doc for doc, _ in batch])
            except Exception as exc:  # noqa: BLE001 — every waiter learns what went wrong
                answered = 0
                for _, future in batch:
                    if future.done():
                        answered += 1
                    else:
                        future.set_exception(exc)
                if answered:  # the router creates these records when it decides
                    log.warning(
                        "could not record the received state",
                        extra={"answered": answered, "error": type(exc).__name__},
                    )
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def close(self) -> None:
        """Finish the batch in flight."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
