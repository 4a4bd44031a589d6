"""What router and notifier share as faust-streaming workers.

The app factory (at-least-once: offsets are committed after a message's handler returns), the
per-message error policy, and the /healthz, /readyz and /metrics pages on faust's web server.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.web import Request, Response, View
from pymongo.errors import ConnectionFailure, OperationFailure

from services.bus import Publisher, dead_letter
from services.contracts.envelope import Envelope, from_kafka
from services.errors import InvalidEvent
from services.lanes import KeyedLanes
from services.logs import bind_log_context, log_context
from services.metrics import CONSUMER_LAG, DEAD_LETTERS, exposition
from services.settings import HttpSettings, PasokhSettings
from services.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]

# Messages of different keys a worker handles at once (services.lanes); one key's are always in order.
DEFAULT_CONCURRENCY = 64
# How often each worker recomputes its consumer lag gauge (a scrape every 15 s sees fresh values).
LAG_INTERVAL_SECONDS = 5.0


def create_app(name: str, settings: PasokhSettings, http: HttpSettings) -> faust.App:
    """A faust app for service ``name`` reading raw bytes (CloudEvents are decoded by the handler)."""
    brokers = ";".join(f"kafka://{s.strip()}" for s in settings.kafka.servers().split(","))
    (settings.data_dir / name).mkdir(parents=True, exist_ok=True)
    return faust.App(
        f"pasokh-{name}",
        broker=brokers,
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=str(settings.data_dir / name),
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.kafka.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.kafka.session_timeout_seconds / 3),
        web_enabled=True,
        web_bind=http.host,
        web_host=http.host,
        web_port=http.port,
        web_in_thread=False,
        autodiscover=False,
    )


def _transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the message: wait and try the same message again."""
    if isinstance(exc, OperationFailure) and "SQLITE_BUSY" in str(exc):
        # FerretDB on SQLite answers concurrent writes with "database is locked" (code 1): a busy
        # server, not a bad message; dead-lettering would lose a valid complaint.
        return True
    return isinstance(exc, ConnectionFailure) or bool(getattr(exc, "retriable", False))


@dataclass
class MessagePolicy:
    """Runs a handler on one Kafka message with Pasokh's error policy.

    invalid → dead-letter; infrastructure unavailable → retry with capped exponential backoff and
    jitter until it answers (the message is fine, losing it would be wrong); anything else →
    ``max_attempts`` tries, then dead-letter with the reason. The worker never crashes on a message.
    """

    service: str
    publisher: Publisher
    max_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 30.0

    async def run(
        self, handler: Handler, *, topic: str, partition: int, offset: int, key: Any, value: Any
    ) -> None:
        """Process one message to completion (done, or dead-lettered).

        Every log line written meanwhile carries the message's complaint id (its Kafka key) and,
        once decoded, its event id.
        """
        complaint_id = key.decode("utf-8", "replace") if isinstance(key, bytes) and key else None
        with log_context(complaint_id=complaint_id):
            await self._run(handler, topic=topic, partition=partition, offset=offset, key=key, value=value)

    async def run_message(self, handler: Handler, message: Any) -> None:
        """:meth:`run` on a consumed message (faust's ``event.message``: topic, partition, offset,
        key, value)."""
        await self.run(
            handler,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
        )

    async def _run(
        self, handler: Handler, *, topic: str, partition: int, offset: int, key: Any, value: Any
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                envelope = from_kafka(value, key)
                bind_log_context(event_id=envelope.id)
                await handler(envelope)
                return
            except InvalidEvent as exc:
                reason, kind = f"invalid event: {exc}", "invalid"
            except Exception as exc:
                if _transient(exc):
                    log.warning(
                        "dependency unavailable; retrying the same message",
                        extra={"topic": topic, "partition": partition, "offset": offset, "error": repr(exc)},
                    )
                    await asyncio.sleep(self._delay(attempt))
                    continue
                if attempt < self.max_attempts:
                    log.warning("handler failed; retrying", exc_info=True, extra={"offset": offset})
                    await asyncio.sleep(self.base_delay * 2**attempt)
                    continue
                log.exception("handler failed after %d attempts", attempt)
                reason, kind = f"{type(exc).__name__}: {exc}", "failed"
            await self._dead_letter(
                reason, topic=topic, partition=partition, offset=offset, key=key, value=value
            )
            DEAD_LETTERS.labels(self.service, topic, kind).inc()
            return

    async def _dead_letter(
        self, reason: str, *, topic: str, partition: int, offset: int, key: Any, value: Any
    ) -> None:
        # The offset is committed only after this returns, so the message must reach the
        # dead-letter topic: wait out a Kafka that does not answer, like any other dependency.
        attempt = 0
        while True:
            attempt += 1
            try:
                await dead_letter(
                    self.publisher,
                    service=self.service,
                    reason=reason,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    key=key,
                    value=value,
                )
                return
            except Exception as exc:
                if not _transient(exc):
                    raise
                log.warning("dead-letter topic unavailable; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(self._delay(attempt))

    def _delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** min(attempt, 16)) * random.uniform(0.5, 1))


@dataclass
class Readiness:
    """What /readyz checks for a worker: MongoDB answers and Kafka gave us partitions once."""

    store: Store
    assigned_once: bool = False

    async def check(self) -> dict[str, str]:
        """Each dependency → "ok" or why not."""
        checks = {"kafka": "ok" if self.assigned_once else "waiting for partition assignment"}
        try:
            await self.store.ping()
            checks["mongo"] = "ok"
        except Exception as exc:
            checks["mongo"] = str(exc)
        return checks


def lag_by_partition(consumer: Any) -> dict[tuple[str, int], int]:
    """(topic, partition) → highwater minus committed offset, for the partitions assigned to ``consumer``.

    Both offsets come from the faust consumer itself (no extra Kafka requests): the highwater from
    the last fetch, the committed offset from faust's own bookkeeping (the next offset to read, like
    Kafka's). A partition is left out until both are known.
    """
    committed_offsets = getattr(consumer, "_committed_offset", {})  # faust keeps it private
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet, or the partition was just revoked
            continue
        committed = committed_offsets.get(tp)
        if highwater is None or committed is None:
            continue
        lags[(tp.topic, tp.partition)] = max(0, int(highwater) - int(committed))
    return lags


def record_consumer_lag(group: str, lags: dict[tuple[str, int], int]) -> None:
    """Set the lag gauge of ``group`` to ``lags``, dropping partitions no longer assigned."""
    for labels in list(CONSUMER_LAG._metrics):  # prometheus_client has no "remove all of one group"
        if labels[0] == group and (labels[1], int(labels[2])) not in lags:
            CONSUMER_LAG.remove(*labels)
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)


def add_operations_pages(app: faust.App, readiness: Readiness) -> None:
    """Serve /healthz, /readyz and /metrics from the worker's web server; keep the lag gauge fresh."""

    async def _assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        readiness.assigned_once = True

    app.on_partitions_assigned.connect(_assigned)  # type: ignore[arg-type]  # mode types the receiver too narrowly

    async def _measure_lag() -> None:
        try:
            lags = lag_by_partition(app.consumer)
        except Exception:  # the consumer is not started yet, or is rebalancing: measure next time
            log.debug("consumer lag not measured", exc_info=True)
            return
        record_consumer_lag(app.conf.id, lags)

    app.timer(LAG_INTERVAL_SECONDS, name=f"{app.conf.id}.consumer_lag")(_measure_lag)

    @app.page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: View, request: Request) -> Response:
        checks = await readiness.check()
        ready = all(v == "ok" for v in checks.values())
        return web.json(
            {"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
        )

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        body, content_type = exposition()
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        return web.bytes(body, headers={"Content-Type": content_type})


def holds_everything(
    assigned: Iterable[Any], partitions: Callable[[str], int | None], topic_names: Iterable[str]
) -> bool:
    """True if ``assigned`` (topic partitions) holds every partition of each of ``topic_names``: no
    other worker of the group consumes them meanwhile."""
    held: dict[str, set[int]] = {}
    for tp in assigned:
        held.setdefault(tp.topic, set()).add(tp.partition)
    for topic in topic_names:
        count = partitions(topic)
        if not count or held.get(topic, set()) != set(range(count)):
            return False
    return True


def watch_sole(
    app: faust.App, topic_names: tuple[str, ...], alone: Callable[[bool], Awaitable[None]], *, what: str
) -> None:
    """Call ``alone(False)`` as soon as a rebalance takes partitions away (before any other worker can
    get them), and ``alone(True)`` once an assignment gives this worker every partition of
    ``topic_names`` (an in-process memory of what those topics change is then complete)."""

    async def revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        await alone(False)

    async def assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        try:
            consumer = app.consumer
            sole = holds_everything(consumer.assignment(), consumer.topic_partitions, topic_names)
        except Exception:  # not known: the safe answer
            log.warning("partition assignment not read", exc_info=True)
            sole = False
        await alone(sole)
        log.info(what, extra={"sole_worker": sole})

    app.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]  # mode types the receiver too narrowly
    app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]


def run_worker(app: faust.App, *, log_level: str) -> None:
    """Run ``app`` until SIGINT/SIGTERM, keeping Pasokh's JSON logging."""
    worker = faust.Worker(
        app,
        loglevel=log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    worker.execute_from_commandline()


def consume(
    app: faust.App,
    topic: str,
    policy: MessagePolicy,
    handler: Handler,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> None:
    """Register an agent that runs ``handler`` on every message of ``topic`` under ``policy``.

    Messages of different keys (complaints, citizens) are handled concurrently, up to ``concurrency``
    at a time; messages of one key one after the other, in offset order (services.lanes). Each message
    is acknowledged only once handled, and faust commits a partition's offset only up to the first
    message not yet acknowledged, so a crash re-delivers whatever was in flight (at least once).
    """
    channel = app.topic(topic, key_type=bytes, value_type=bytes)

    async def agent(stream: Any) -> None:
        manual = stream.noack()
        lanes = KeyedLanes(concurrency)

        def work(event: Any) -> Callable[[], Awaitable[None]]:
            async def handle() -> None:
                message = event.message
                await policy.run_message(handler, message)
                await manual.ack(event)

            return handle

        try:
            async for event in manual.events():
                await lanes.submit(event.message.key, work(event))
        finally:
            await lanes.cancel()

    agent.__name__ = agent.__qualname__ = f"{policy.service}_agent"
    app.agent(channel, name=f"{policy.service}.{topic}")(agent)
