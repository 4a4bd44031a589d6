"""The router's faust app: agents on the submitted complaints and on the complaint events, thin by design."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust

from router import actions, duplicates, learning, registry, sla, stats
from router.batch import decide_batch
from router.bookkeeping import Rollups
from router.bootstrap import Router
from router.handlers import SOURCE, handle_submitted, handle_unlinked
from services import ledgers, retention, rules
from services.bus import FaustPublisher
from services.contracts import topics
from services.contracts.actions import ComplaintReassigned, ComplaintReopened
from services.contracts.complaints import ComplaintRouted, ComplaintStatusUpdated, ComplaintTriageNeeded
from services.contracts.envelope import Envelope, from_kafka
from services.contracts.notifications import NotificationDelivered, NotificationFailed, NotificationSent
from services.contracts.routing import ComplaintDuplicateLinked, ComplaintDuplicateUnlinked
from services.errors import InvalidEvent
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

# What is left of a batch once its decisions are stored; a batch handler returns it.
Rest = Callable[[], Awaitable[object]]
BatchHandler = Callable[[list[Envelope]], Awaitable[Rest]]
# What the router announces when it decides (a submission, or again after an unlink); each is
# booked (inbox entry, public counts) by the code that decided it, not when read back.
DECISION_TYPES = frozenset({ComplaintRouted.TYPE, ComplaintTriageNeeded.TYPE, ComplaintDuplicateLinked.TYPE})


def booked_when_decided(envelope: Envelope) -> bool:
    """True for the router's own decisions: their inbox entries and counts are written by the code
    that decided (router/bookkeeping.py, router/handlers.py), not again when the events agent reads
    them back."""
    return envelope.source == SOURCE and envelope.type in DECISION_TYPES


# Reports on an SMS (the notifier's, the provider's delivery reports): they change no complaint record,
# so there is no inbox entry to bring in line and nothing to count. Two or three per complaint.
SMS_REPORTS = frozenset({NotificationSent.TYPE, NotificationFailed.TYPE, NotificationDelivered.TYPE})

# Changes after which a complaint may be open in a cell the duplicate cache does not know it in.
REOPENING_TYPES = frozenset({ComplaintReopened.TYPE, ComplaintDuplicateUnlinked.TYPE})


def changes(nearby: duplicates.NearbyCache, envelope: Envelope) -> None:
    """Keep the duplicate cache true to a complaint event this worker applied: the complaint's cell
    is read again (its status or department may have changed); after a reopening or an unlink, every
    cell (the complaint is open again, in a cell the cache may hold without it)."""
    if envelope.type in REOPENING_TYPES:
        nearby.clear()
    elif envelope.type in actions.MODELS or envelope.type == ComplaintStatusUpdated.TYPE:
        nearby.forget(str(envelope.subject))


def consume_batches(
    app: faust.App,
    topic: str,
    policy: MessagePolicy,
    batch_handler: BatchHandler,
    handler: Handler,
    *,
    size: int,
    within: float,
) -> None:
    """An agent that hands up to ``size`` messages at a time (or what came within ``within`` seconds)
    to ``batch_handler``, and runs the rest it returns while the next batch is handed over; if the
    batch or its rest fails, each message goes through ``policy`` on its own, so a bad message is
    dead-lettered and a busy server waited out exactly as without batching. A batch's messages are
    acknowledged when all of it is done, batches in order."""
    channel = app.topic(topic, key_type=bytes, value_type=bytes)

    async def agent(stream: Any) -> None:
        # noack_take, not take_events: take_events acknowledges a batch when the generator closes, also
        # when the agent is cancelled mid-batch (SIGTERM, a rolling update), and the offsets of
        # complaints nobody decided would be committed. Here an event is acknowledged once handled.
        # The handler stores a batch's decisions and returns the rest of its work (inbox, counts,
        # announcements), which runs while the next batch is decided; the batch's events are
        # acknowledged when its rest is done. One rest at a time, in order.
        finishing: asyncio.Future[None] | None = None
        try:
            async for events in stream.noack_take(size, within=within):
                messages = [event.message for event in events]
                rest: Rest | None = None
                try:
                    rest = await batch_handler([from_kafka(m.value, m.key) for m in messages])
                except InvalidEvent:
                    pass
                except Exception:
                    log.warning("batch failed; handling its messages one by one", exc_info=True)
                if finishing is not None:
                    await finishing
                    finishing = None
                if rest is None:
                    await _one_by_one(messages)
                    await _ack(stream, events)
                else:
                    finishing = asyncio.ensure_future(_finish(stream, events, rest))
        finally:
            if finishing is not None and not finishing.done():
                finishing.cancel()  # not acknowledged: redelivered, which changes nothing

    async def _finish(stream: Any, events: list[Any], rest: Rest) -> None:
        try:
            await rest()
        except Exception:
            log.warning("batch not booked or announced; handling its messages one by one", exc_info=True)
            await _one_by_one([event.message for event in events])
        await _ack(stream, events)

    async def _ack(stream: Any, events: list[Any]) -> None:
        for event in events:
            await stream.ack(event)

    async def _one_by_one(messages: list[Any]) -> None:
        for m in messages:
            await policy.run_message(handler, m)

    agent.__name__ = agent.__qualname__ = f"{policy.service}_batch_agent"
    app.agent(channel, name=f"{policy.service}.{topic}")(agent)


def create_router_app(router: Router) -> faust.App:
    """A faust app whose agent hands each submitted complaint to :func:`handle_submitted`."""
    settings = router.settings
    app = create_app("router", settings, settings.router)
    readiness = Readiness(router.store)
    add_operations_pages(app, readiness)
    # The producer object exists now and is started by faust before any message is consumed.
    publisher = router.publisher or FaustPublisher(app.producer)
    policy = MessagePolicy("router", publisher)

    async def prepare() -> None:
        await router.store.ensure_indexes()
        await rules.ensure_indexes(router.store)
        await router.routing.refresh(router.store)
        await refresh_model()

    app.task(prepare)

    async def refresh_model() -> None:
        # A model version activated with `pasokh models activate` is used without a restart.
        try:
            await registry.refresh(router.classifier, router.store)
        except Exception:  # MongoDB away or a bad version: keep classifying with the current model
            log.warning("classifier model not re-read", exc_info=True)

    app.timer(settings.classifier.reload_seconds, name="router.refresh_model")(refresh_model)

    async def refresh_routing() -> None:
        # Rules, departments and districts edited through the API or CLI apply without a restart.
        try:
            await router.routing.refresh(router.store)
        except Exception:  # MongoDB away for a moment: keep routing with what we have
            log.warning("routing configuration not re-read", exc_info=True)

    app.timer(settings.router.refresh_seconds, name="router.refresh_routing")(refresh_routing)

    backfilled = False

    async def sla_scan() -> None:
        nonlocal backfilled
        try:
            await sla.scan(
                store=router.store,
                publisher=publisher,
                batch=settings.sla.scan_batch,
                backfill_first=not backfilled,  # records of an older version get their sla_slot once
            )
            backfilled = True
        except Exception:  # the next scan picks up whatever this one left
            log.warning("SLA scan failed", exc_info=True)

    app.timer(settings.sla.scan_seconds, name="router.sla_scan")(sla_scan)

    async def retention_sweep() -> None:
        try:
            await retention.sweep(
                router.store,
                now=datetime.now(UTC),
                closed_days=settings.retention.closed_days,
                batch=settings.retention.batch,
            )
            await ledgers.expire(router.store, now=datetime.now(UTC), settings=settings.retention)
        except Exception:  # idempotent: the next pass does what this one could not
            log.warning("retention sweep failed", exc_info=True)

    app.timer(settings.retention.interval_seconds, name="router.retention")(retention_sweep)

    def deciding() -> dict[str, Any]:
        """What every decision needs (one complaint, a batch, one unlinked from a duplicate), read at
        each call: an activated model brings its own threshold."""
        return {
            "store": router.store,
            "publisher": publisher,
            "classifier": router.classifier,
            "taxonomy": router.taxonomy,
            "threshold": router.classifier.threshold,
            "routing": router.routing,
            "sla": router.sla,
        }

    # The open complaints of grid cells read lately, kept current with this worker's decisions and
    # the changes it applies (router/duplicates.py): most duplicate look-ups need no query.
    options = settings.duplicates
    nearby = (
        duplicates.NearbyCache(options.cache_seconds, sole_seconds=options.sole_cache_seconds)
        if options.cache_seconds > 0
        else None
    )
    if nearby is not None:

        async def alone(sole: bool) -> None:
            nearby.alone(sole)

        # No other worker decides or changes a complaint while this one holds both topics.
        watch_sole(app, (topics.SUBMITTED, topics.EVENTS), alone, what="duplicate cache")

    async def handle(envelope: Envelope) -> None:
        try:
            await handle_submitted(envelope, **deciding(), dedupe=settings.duplicates)
        finally:
            if nearby is not None:  # decided outside a batch: its cell may not know it
                nearby.clear()

    async def apply(envelope: Envelope) -> None:
        try:
            await _apply(envelope)
        finally:
            if nearby is not None:
                changes(nearby, envelope)

    async def _apply(envelope: Envelope) -> None:
        if envelope.type in SMS_REPORTS:
            return
        if envelope.type in actions.MODELS:
            await actions.apply_action(envelope, store=router.store)
            if envelope.type == ComplaintReassigned.TYPE:  # staff's correction: a training example
                await learning.record_reassignment(envelope, store=router.store)
        elif envelope.type == ComplaintStatusUpdated.TYPE:
            await actions.apply_status_update(envelope, store=router.store)
        elif envelope.type == ComplaintDuplicateUnlinked.TYPE:
            await handle_unlinked(envelope, **deciding())
        if booked_when_decided(envelope):
            return
        await stats.count(envelope, store=router.store)  # the public rollups (services/stats.py)

    rollups = Rollups()  # which public rollups exist, for the whole life of the worker

    async def handle_batch(envelopes: list[Envelope]) -> Rest:
        try:
            return await decide_batch(
                envelopes, **deciding(), dedupe=settings.duplicates, rollups=rollups, nearby=nearby
            )
        except BaseException:
            if nearby is not None:  # part of it may be stored: what the cache holds is not known
                nearby.clear()
            raise

    if settings.router.batch_size > 1:
        consume_batches(
            app,
            topics.SUBMITTED,
            policy,
            handle_batch,
            handle,
            size=settings.router.batch_size,
            within=settings.router.batch_seconds,
        )
    else:
        consume(app, topics.SUBMITTED, policy, handle)
    consume(app, topics.EVENTS, policy, apply)
    return app
