"""Many complaint events at once: the notifier's throughput path, with the guarantees of one at a time.

:func:`handle_batch` does for a batch of events of different keys what :func:`notifier.handlers.handle`
does for one, with the MongoDB work folded: the complaint records, opt-outs and each phone's earlier
SMS are read concurrently (one query on an indexed field each; FerretDB v1 scans the collection for an
``$in``, so no ``$in``), the SMS records are claimed with one ``insert_many`` whose duplicate-key
refusals mark the events seen before, the first try of every SMS is counted by that insert
(``attempts`` 1) and made concurrently over the provider's pooled connections, and the records of the
SMS the provider took are marked ``sent`` with one ``bulk_write``.

What stays as it was: the record of an SMS exists (state ``sending``) before its send, so a crash
between claim and send is resumed with the same SMS id (the periodic sender, or the event's
redelivery through the one-at-a-time path); an event seen before, a provider's refusal or a retriable
failure takes the one-at-a-time path (:func:`notifier.handlers.deliver`,
:func:`notifier.handlers.send_claimed`) with its retries and dead letter; quiet hours, the coalescing
window, opt-outs and the per-phone limit are decided by the same functions. Events that need more than
the complaint record to plan their SMS (status requests, opt-outs, reopenings) and delivery reports
are not batched (:func:`batchable`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from notifier import delivery, handlers, outbox
from notifier.handlers import HOUR, Context, Draft, Outgoing
from notifier.metrics import SMS
from notifier.sms import Sms, SmsReceipt, SmsRejected, SmsUnavailable
from services import records
from services.contracts.envelope import Envelope
from services.contracts.notifications import NotificationDelivered
from services.store import Doc

log = logging.getLogger(__name__)

T = TypeVar("T")
# Record states in which an SMS of a coalescing group reports its complaint's state to the citizen.
LIVE = ("deferred", "sending", "sent")
# MongoDB lookups of a batch in flight at once: FerretDB opens a PostgreSQL connection for each
# concurrent operation (hundreds of them for an unbounded batch), while 16 are as fast as 200.
LOOKUP_CONCURRENCY = 16
# SMS of a batch with the provider at once (PASOKH_NOTIFIER__SEND_CONCURRENCY): within the HTTP
# client's pool of kept-alive connections (httpx keeps 20), so that a batch opens no connection per SMS.
SEND_CONCURRENCY = 16


def batchable(envelope: Envelope) -> bool:
    """Whether :func:`handle_batch` takes ``envelope`` (the others go one at a time)."""
    return envelope.type not in handlers.NEEDS_MORE and envelope.type != NotificationDelivered.TYPE


def rounds(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """``items`` split into rounds with one item per key each, in order: the n-th item of a key goes
    in round n, so one key's items are handled one after the other and different keys' together."""
    out: list[list[T]] = []
    seen: dict[Hashable, int] = {}
    for item in items:
        k = key(item)
        n = seen.get(k, 0)
        seen[k] = n + 1
        if n == len(out):
            out.append([])
        out[n].append(item)
    return out


@dataclass
class _Claim:
    envelope: Envelope
    item: Outgoing
    draft: Draft
    record: Doc


async def _gather(calls: Iterable[Awaitable[T]], limit: int = LOOKUP_CONCURRENCY) -> list[T]:
    """The results of ``calls``, at most ``limit`` of them in flight."""
    slots = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with slots:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def handle_batch(
    envelopes: list[Envelope], ctx: Context, *, send_concurrency: int = SEND_CONCURRENCY
) -> None:
    """Act on ``envelopes`` (each :func:`batchable`, no two of one key) as :func:`handlers.handle` would.

    Raises on MongoDB and Kafka errors like the one-at-a-time path; every step is idempotent, so the
    caller may hand each event to :func:`handlers.handle` afterwards.
    """
    # Department notices beside the SMS, not before them: a slow department webhook (retried with
    # backoff) does not hold up the citizens' SMS of the batch.
    await asyncio.gather(
        _gather(handlers.notify_departments(envelope, ctx) for envelope in envelopes),
        _citizens(envelopes, ctx, send_concurrency),
    )


async def _citizens(envelopes: list[Envelope], ctx: Context, send_concurrency: int) -> None:
    needed = [handlers.record_needed(envelope, ctx) for envelope in envelopes]
    # A decision about a complaint seen submitted needs no read (notifier/facts.py).
    known = [handlers.remembered(envelope, ctx) for envelope in envelopes]
    ids = sorted({cid for cid, doc in zip(needed, known, strict=True) if cid and doc is None})
    docs = dict(zip(ids, await _gather(handlers.find_for_sms(ctx.store, cid) for cid in ids), strict=True))
    planned = [
        (envelope, item)
        for envelope, complaint_id, doc in zip(envelopes, needed, known, strict=True)
        for item in handlers.plan_from(
            envelope, ctx, doc if doc is not None else docs.get(complaint_id) if complaint_id else None
        )
    ]
    if not planned:
        return
    now = ctx.clock()
    drafts = [handlers.draft(item, envelope, ctx, now) for envelope, item in planned]
    opted = await _gather(handlers.opted_out(item, ctx) for _, item in planned)

    claims: list[_Claim] = []
    for (envelope, item), drafted, out in zip(planned, drafts, opted, strict=True):
        if out:
            record = outbox.new_record(drafted.notification_id, drafted.fields, now, state="suppressed")
        elif drafted.send_at > now:
            record = outbox.new_record(
                drafted.notification_id, {**drafted.fields, "send_at": drafted.send_at}, now, state="deferred"
            )
        else:
            # The first try is counted here: it is made right after the claim.
            record = outbox.new_record(
                drafted.notification_id, {**drafted.fields, "send_at": drafted.send_at}, now, attempts=1
            )
        claims.append(_Claim(envelope, item, drafted, record))
    refused = await outbox.claim_many(ctx.store, [claim.record for claim in claims])

    # Events seen before find their records and go the one-at-a-time way (resume, or announce again).
    again = [claims[i] for i in sorted(refused)]
    fresh = [claim for i, claim in enumerate(claims) if i not in refused]
    for claim in fresh:
        if claim.record["state"] == "suppressed":
            log.info(
                "citizen opted out; SMS not sent", extra={"notification_id": claim.draft.notification_id}
            )
    live = [claim for claim in fresh if claim.record["state"] != "suppressed"]
    # Each phone's SMS records, read after ours were written: of two events of one complaint handled
    # at once by two workers, at least one sees the other's record (the coalescing needs no lock).
    phones = sorted({claim.item.phone_hash for claim in live})
    history = dict(zip(phones, await _gather(outbox.of_recipient(ctx.store, h) for h in phones), strict=True))
    to_send: list[_Claim] = []
    just_sent: dict[str, list[datetime]] = {}
    for claim in live:
        if not await _coalesce(claim, history[claim.item.phone_hash], ctx, now):
            continue
        if claim.record["state"] != "sending":
            continue
        if not claim.draft.urgent:
            recent = sorted(
                [
                    r["sent_at"]
                    for r in history[claim.item.phone_hash]
                    if r.get("state") == "sent" and r.get("sent_at") and r["sent_at"] > now - HOUR
                ]
                + just_sent.get(claim.item.phone_hash, [])
            )
            later = handlers.limited_until(ctx, recent)
            if later is not None:
                await outbox.defer(ctx.store, claim.draft.notification_id, later, attempts=0)
                SMS.labels(ctx.sms.name, claim.item.template, "limited").inc()
                continue
            just_sent.setdefault(claim.item.phone_hash, []).append(now)
        to_send.append(claim)

    await asyncio.gather(
        _send_all(to_send, ctx, send_concurrency),
        *(handlers.deliver(claim.item, claim.envelope, ctx) for claim in again),
    )


async def _coalesce(claim: _Claim, history: list[Doc], ctx: Context, now: datetime) -> bool:
    """:func:`handlers.deliver`'s coalescing on the phone's records read at once: False when a newer
    state of the complaint was reported already (this SMS is superseded), else True after superseding
    the deferred SMS about older states."""
    group = claim.item.group
    if not group:
        return True
    own = claim.draft.notification_id
    at = records.store_precision(claim.envelope.time)
    others = [r for r in history if r["_id"] != own and r.get("group") == group and r.get("state") in LIVE]
    if any(r["event_at"] > at for r in others if r.get("event_at")):
        await outbox.take(ctx.store, own, claim.record["state"], now)
        await outbox.finish(ctx.store, own, "superseded", now, "a newer state was reported")
        return False
    if any(r.get("state") == "deferred" for r in others):
        await outbox.supersede(ctx.store, group, before=claim.envelope.time, keep=own)
    return True


async def _send_all(claims: list[_Claim], ctx: Context, concurrency: int) -> None:
    """First try of every claimed SMS, ``concurrency`` at a time over the provider's pooled
    connections; the records of those the provider took are marked sent in one write."""
    if not claims:
        return

    slots = asyncio.Semaphore(concurrency)

    async def first_try(claim: _Claim) -> SmsReceipt | SmsRejected | SmsUnavailable:
        record = claim.record
        message = Sms(id=record["_id"], to=ctx.sealer.open(record["phone_sealed"]), text=record["text"])
        async with slots:
            try:
                return await ctx.sms.send(message)
            except (SmsRejected, SmsUnavailable) as exc:
                return exc

    results = await asyncio.gather(*(first_try(claim) for claim in claims))
    sent_at = records.store_precision(ctx.clock())
    taken = [
        (claim, delivery.receipt_fields(result))
        for claim, result in zip(claims, results, strict=True)
        if isinstance(result, SmsReceipt)
    ]
    await outbox.finish_many(ctx.store, [(c.record["_id"], "sent", sent_at, fields) for c, fields in taken])
    await asyncio.gather(
        *(handlers.announce_sent(claim.record, fields, sent_at, ctx) for claim, fields in taken),
        *(
            handlers.send_claimed(claim.record, ctx, failed_try=(1, result))
            for claim, result in zip(claims, results, strict=True)
            if not isinstance(result, SmsReceipt)
        ),
    )
