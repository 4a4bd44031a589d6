"""The notifier's faust app: agents on the submitted and events topics, thin by design, plus a timer
that sends deferred SMS (quiet hours, coalescing, surveys) once they are due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import faust
from pymongo.errors import PyMongoError

from notifier import batch, delivery, mail, outbox, preferences
from notifier.bootstrap import Notifier
from notifier.departments import DepartmentNotices
from notifier.facts import ComplaintFacts
from notifier.handlers import Context, flush, handle
from notifier.mail import DepartmentMail
from services.bus import FaustPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope, from_kafka
from services.errors import DependencyUnavailable, InvalidEvent
from services.store import Store
from services.worker import (
    Handler,
    MessagePolicy,
    Readiness,
    add_operations_pages,
    consume,
    create_app,
    watch_sole,
)

log = logging.getLogger(__name__)


# Batches of one topic handled at once by its agent.
PIPELINE = 2


def consume_batches(
    app: faust.App,
    topic: str,
    policy: MessagePolicy,
    handle_many: Callable[[list[Envelope]], Awaitable[None]],
    handle_one: Handler,
    *,
    size: int,
    within: float,
) -> None:
    """An agent that takes up to ``size`` messages of ``topic`` at a time (or what came within
    ``within`` seconds) and acknowledges them once handled.

    The messages of one key are handled in offset order, one after the other (:func:`batch.rounds`);
    those of different keys together: the :func:`batch.batchable` ones by ``handle_many``, the others
    (and an undecodable one) through ``policy`` one by one. If ``handle_many`` fails, each of its
    events goes through ``policy`` on its own (everything it did is idempotent), so a bad message is
    dead-lettered and a busy server waited out exactly as without batching. Up to :data:`PIPELINE`
    batches are in flight, of different keys. A worker stopped mid-batch acknowledges nothing of it:
    the next one handles it again (at least once).
    """
    channel = app.topic(topic, key_type=bytes, value_type=bytes)

    def one(message: Any) -> Awaitable[None]:
        return policy.run_message(handle_one, message)

    async def together(messages: list[Any], envelopes: list[Envelope]) -> None:
        try:
            await handle_many(envelopes)
        except Exception:
            log.warning("batch failed; handling its messages one by one", exc_info=True)
            await asyncio.gather(*(one(message) for message in messages))

    async def handle(events: list[Any]) -> None:
        for round_ in batch.rounds(events, key=lambda event: event.message.key):
            fast: list[tuple[Any, Envelope]] = []
            slow: list[Any] = []
            for event in round_:
                message = event.message
                try:
                    envelope = from_kafka(message.value, message.key)
                except InvalidEvent:
                    slow.append(message)  # dead-lettered by the policy
                    continue
                if batch.batchable(envelope):
                    fast.append((message, envelope))
                else:
                    slow.append(message)
            work = [one(message) for message in slow]
            if fast:
                work.append(together([m for m, _ in fast], [e for _, e in fast]))
            await asyncio.gather(*work)

    async def agent(stream: Any) -> None:
        # Up to ``PIPELINE`` batches in flight, so that one batch's MongoDB reads overlap another's
        # sends; a batch sharing a key with one in flight waits for it (one key's events in order).
        in_flight: list[tuple[asyncio.Task[None], set[Any]]] = []

        async def handle_and_ack(events: list[Any]) -> None:
            await handle(events)
            for event in events:  # only once handled: faust commits up to the first unacknowledged
                await stream.ack(event)

        try:
            async for taken in stream.noack_take(size, within=within):
                events = list(taken)
                keys = {event.message.key for event in events}
                for task, _ in in_flight:
                    if task.done():
                        task.result()  # a batch handles its own failures; anything else stops the agent
                in_flight[:] = [(task, k) for task, k in in_flight if not task.done()]
                while in_flight and (len(in_flight) >= PIPELINE or any(keys & k for _, k in in_flight)):
                    task, _ = in_flight.pop(0)
                    await task
                in_flight.append((asyncio.ensure_future(handle_and_ack(events)), keys))
        finally:
            # Stopping: what is in flight is not acknowledged, so the next worker handles it again.
            for task, _ in in_flight:
                task.cancel()
            await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)

    agent.__name__ = agent.__qualname__ = f"{policy.service}_batch_agent"
    app.agent(channel, name=f"{policy.service}.{topic}")(agent)


def remember_opt_outs(app: faust.App, opt_outs: preferences.Remembered, store: Store) -> None:
    """Keep ``opt_outs`` exact while this worker holds every partition of the complaint events (where
    opt-outs and opt-ins arrive), read again every :data:`preferences.REFRESH_SECONDS`."""

    async def load() -> None:
        try:
            await opt_outs.load(store)
        except (PyMongoError, DependencyUnavailable) as exc:
            # Until a later load works, each SMS asks the store.
            log.warning("opted-out phones not loaded", extra={"error": repr(exc)})

    async def alone(sole: bool) -> None:
        if sole:
            await load()
        else:
            opt_outs.forget()

    watch_sole(app, (topics.EVENTS,), alone, what="opted-out phones in memory")

    async def refresh() -> None:
        if opt_outs.exact:
            await load()

    app.timer(preferences.REFRESH_SECONDS, name="notifier.opt_outs")(refresh)


def create_notifier_app(notifier: Notifier) -> faust.App:
    """A faust app whose agents hand each complaint event to :func:`notifier.handlers.handle`."""
    settings = notifier.settings
    app = create_app("notifier", settings, settings.notifier)
    add_operations_pages(app, Readiness(notifier.store))
    # The producer object exists now and is started by faust before any message is consumed.
    publisher = notifier.publisher or FaustPublisher(app.producer)
    policy = MessagePolicy("notifier", publisher)
    options = settings.notifier
    departments = DepartmentNotices(settings.departments) if settings.departments.hooks else None
    mailer = (
        DepartmentMail(settings.smtp, notifier.taxonomy, timezone=settings.policy.timezone)
        if settings.smtp.host
        else None
    )
    context = Context(
        store=notifier.store,
        publisher=publisher,
        sms=notifier.sms,
        sealer=notifier.sealer,
        taxonomy=notifier.taxonomy,
        retry=notifier.retry,
        policy=settings.policy,
        departments=departments,
        mail=mailer,
        facts=ComplaintFacts(size=options.complaint_facts) if options.complaint_facts else None,
        opt_outs=preferences.Remembered() if options.remember_opt_outs else None,
    )
    if context.opt_outs is not None:
        remember_opt_outs(app, context.opt_outs, notifier.store)

    async def prepare() -> None:
        await notifier.store.ensure_indexes()
        await outbox.ensure_indexes(notifier.store)
        if mailer is not None:
            await mail.ensure_indexes(notifier.store)

    app.task(prepare)

    async def close_gateway(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # The provider's pooled connections (an aiohttp session warns when left open at exit).
        await notifier.sms.close()

    app.on_before_shutdown.connect(close_gateway)  # type: ignore[arg-type]  # mode types the receiver too narrowly

    async def handle_one(envelope: Envelope) -> None:
        await delivery.apply(envelope, store=notifier.store)  # delivery reports: notifier/delivery.py
        await handle(envelope, context)

    if options.batch_size > 1:

        async def handle_many(envelopes: list[Envelope]) -> None:
            await batch.handle_batch(envelopes, context, send_concurrency=options.send_concurrency)

        for topic in (topics.SUBMITTED, topics.EVENTS):
            consume_batches(
                app,
                topic,
                policy,
                handle_many,
                handle_one,
                size=options.batch_size,
                within=options.batch_seconds,
            )
    else:
        consume(app, topics.SUBMITTED, policy, handle_one)
        consume(app, topics.EVENTS, policy, handle_one)

    async def send_deferred() -> None:
        try:
            await flush(context)
        except (PyMongoError, DependencyUnavailable) as exc:
            # The next tick tries again; nothing is lost while MongoDB or Kafka is away.
            log.warning("deferred SMS not sent this tick", extra={"error": repr(exc)})
        except Exception:
            # The timer must outlive any surprise: the records wait in MongoDB for the next tick.
            log.exception("deferred SMS sender failed this tick")

    app.timer(settings.policy.tick_seconds, name="notifier.deferred")(send_deferred)

    if mailer is not None:
        stale_after = timedelta(seconds=settings.policy.stale_sending_seconds)

        async def send_mail() -> None:
            # Its own timer: a slow or dead mail server never delays the deferred SMS.
            try:
                await mail.flush(notifier.store, mailer, notifier.retry, stale_after=stale_after)
            except Exception:
                log.exception("department e-mail sender failed this tick")

        app.timer(settings.policy.tick_seconds, name="notifier.mail")(send_mail)

    return app
