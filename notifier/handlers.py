"""The notifier's work on one complaint event: what the citizen and the department are told, and when.

Exactly one SMS per (event, recipient, template): the record is written before the send
(notifier.outbox). Non-urgent SMS wait out the quiet hours and a short coalescing window, in which a
later state of the same complaint replaces an earlier one; :func:`flush` (a periodic task) sends what
has become due and resumes what a crashed process left half-sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from notifier import delivery, mail, outbox, policy, preferences
from notifier.departments import DepartmentNotices, NoticeRejected, NoticeUnavailable, encode
from notifier.facts import ComplaintFacts
from notifier.mail import DepartmentMail
from notifier.messages import render
from notifier.metrics import DECIDED_TO_SMS, NOTICES, OVER_BUDGET, SMS
from notifier.retry import Retry as Retry  # re-exported: callers still import it from here
from notifier.retry import dead_letter
from notifier.segments import segments
from notifier.settings import PolicySettings
from notifier.sms import Sms, SmsGateway, SmsRejected, SmsUnavailable
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintReassigned,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    StaffAction,
)
from services.contracts.citizens import CitizenOptedIn, CitizenOptedOut, CitizenStatusRequested
from services.contracts.complaints import (
    ComplaintRated,
    ComplaintRouted,
    ComplaintSubmitted,
    ComplaintTriageNeeded,
    Decision,
)
from services.contracts.envelope import Envelope, derived_id, new_event
from services.contracts.notifications import NotificationFailed, NotificationSent
from services.contracts.routing import ComplaintDuplicateLinked, ComplaintEscalated, ComplaintSlaWarning
from services.errors import DependencyUnavailable
from services.metrics import seconds_between
from services.privacy import Sealer
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
SOURCE = "/pasokh/notifier"
HOUR = timedelta(hours=1)

DECISIONS: dict[str, type[Decision]] = {m.TYPE: m for m in (ComplaintRouted, ComplaintTriageNeeded)}
ACTIONS: dict[str, type[StaffAction]] = {
    m.TYPE: m for m in (ComplaintAcknowledged, ComplaintResolved, ComplaintRejected, ComplaintReopened)
}


@dataclass(frozen=True)
class Outgoing:
    """One SMS the policy calls for, before it is recorded."""

    template: str
    language: str
    context: dict[str, Any]
    phone_sealed: str
    phone_hash: str
    complaint_id: str
    priority: str | None = None
    always: bool = False  # the answer to the citizen's own SMS: sent even after an opt-out
    group: str | None = None  # coalescing: a later state replaces a deferred earlier one
    not_before: datetime | None = None


@dataclass
class Context:
    """The collaborators every step needs."""

    store: Store
    publisher: Publisher
    sms: SmsGateway
    sealer: Sealer
    taxonomy: Taxonomy
    retry: Retry
    policy: PolicySettings = field(default_factory=PolicySettings)
    departments: DepartmentNotices | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    mail: DepartmentMail | None = None  # department e-mail notices (notifier/mail.py)
    # Phones of complaints seen submitted, so that a decision's SMS reads no record (notifier/facts.py).
    facts: ComplaintFacts | None = None
    # Opted-out phones, exact while this is the only worker on the complaint events (notifier/preferences.py).
    opt_outs: preferences.Remembered | None = None


async def handle_event(
    envelope: Envelope,
    *,
    store: Store,
    publisher: Publisher,
    sms: SmsGateway,
    sealer: Sealer,
    taxonomy: Taxonomy,
    retry: Retry,
    policy: PolicySettings | None = None,
    departments: DepartmentNotices | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str | None:
    """Act on ``envelope``; return the state of its last citizen SMS (None when it calls for none)."""
    ctx = Context(
        store, publisher, sms, sealer, taxonomy, retry, policy or PolicySettings(), departments, clock
    )
    return await handle(envelope, ctx)


async def handle(envelope: Envelope, ctx: Context) -> str | None:
    """:func:`handle_event` with its collaborators in one object."""
    if envelope.type in (CitizenOptedOut.TYPE, CitizenOptedIn.TYPE):
        out = envelope.type == CitizenOptedOut.TYPE
        message = envelope.payload(CitizenOptedOut if out else CitizenOptedIn)
        # Under the active key's hash while a key rotation is under way (services/privacy.py).
        phone_hash = ctx.sealer.lookup_hashes_of(message.phone_sealed, message.phone_hash)[0]
        sealed = message.phone_sealed
        if (
            await preferences.set_opted_out(
                ctx.store, phone_hash, out, message.received_at, phone_sealed=sealed
            )
            and ctx.opt_outs is not None
        ):
            ctx.opt_outs.record(phone_hash, out)
        log.info("SMS preference recorded", extra={"event_id": envelope.id, "opted_out": out})
    await notify_departments(envelope, ctx)
    state: str | None = None
    for item in await plan(envelope, ctx):
        state = await deliver(item, envelope, ctx)
    return state


async def notify_departments(envelope: Envelope, ctx: Context) -> None:
    """What ``envelope`` tells departments (signed notice, e-mail); the batched path shares it."""
    await _notify_department(envelope, ctx)
    if ctx.mail is not None:
        # Only recorded here; the notifier.mail timer sends it, so SMTP never holds up the SMS.
        await mail.queue(envelope, store=ctx.store, mailer=ctx.mail, clock=ctx.clock)


def _department_name(taxonomy: Taxonomy, code: str | None, language: str) -> str:
    department = taxonomy.departments.get(code or "")
    if department is None:
        return ""
    return department.en if language == "en" else department.fa


async def plan(envelope: Envelope, ctx: Context) -> list[Outgoing]:
    """The citizen SMS ``envelope`` calls for under the policy."""
    kind = envelope.type
    if kind == CitizenStatusRequested.TYPE:
        return [await _status_answer(envelope.payload(CitizenStatusRequested), ctx)]
    if kind in (CitizenOptedOut.TYPE, CitizenOptedIn.TYPE):
        message = envelope.payload(CitizenOptedOut if kind == CitizenOptedOut.TYPE else CitizenOptedIn)
        template = "opted_out" if kind == CitizenOptedOut.TYPE else "opted_in"
        hashes = ctx.sealer.lookup_hashes_of(message.phone_sealed, message.phone_hash)
        last = await ctx.store.complaints.find_one({"phone_hash": {"$in": hashes}}, {"language": 1})
        lang = (last or {}).get("language", "fa")
        sealed, hashed = message.phone_sealed, message.phone_hash
        return [Outgoing(template, lang, {}, sealed, hashed, hashed, always=True)]
    complaint_id = record_needed(envelope, ctx)
    doc = remembered(envelope, ctx)
    if doc is None and complaint_id:
        doc = await find_for_sms(ctx.store, complaint_id)
    if kind == ComplaintReopened.TYPE and doc is not None and doc.get("phone_sealed"):
        # A survey not sent yet asks about work that is no longer done.
        await outbox.cancel_group(ctx.store, f"survey:{complaint_id}", "reopened")
    return plan_from(envelope, ctx, doc)


# Events whose SMS :func:`plan_from` works out from the complaint record alone (no other reads, no
# writes besides the SMS records): the notifier's batched path takes these (notifier/batch.py).
NEEDS_MORE = frozenset(
    {CitizenStatusRequested.TYPE, CitizenOptedOut.TYPE, CitizenOptedIn.TYPE, ComplaintReopened.TYPE}
)


def record_needed(envelope: Envelope, ctx: Context) -> str | None:
    """The complaint whose record :func:`plan_from` needs for ``envelope``; None when it needs none."""
    kind = envelope.type
    if kind in (
        ComplaintSubmitted.TYPE,
        CitizenStatusRequested.TYPE,
        CitizenOptedOut.TYPE,
        CitizenOptedIn.TYPE,
    ):
        return None
    if kind == ComplaintRated.TYPE:
        rated = envelope.payload(ComplaintRated)
        return rated.complaint_id if rated.rating <= ctx.policy.low_rating else None
    if policy.citizen_templates(ctx.policy, kind) or kind == ComplaintResolved.TYPE:
        return envelope.subject
    return None


# What plan_from reads of a complaint record: not its text, timeline or applied events, which grow
# with every event and would be decoded for nothing.
SMS_FIELDS = dict.fromkeys(
    ("phone_sealed", "phone_hash", "language", "tracking_code", "department", "priority"), 1
)


async def find_for_sms(store: Store, complaint_id: str) -> Doc | None:
    """The fields of the complaint record :func:`plan_from` needs (one read by ``_id``), or None."""
    return await store.complaints.find_one({"_id": complaint_id}, SMS_FIELDS)


def remembered(envelope: Envelope, ctx: Context) -> Doc | None:
    """For a router's decision whose complaint was seen submitted: what :func:`plan_from` needs of
    the complaint record, without reading it (notifier/facts.py); None when the record is to be read."""
    if ctx.facts is None or envelope.type not in DECISIONS or ctx.sealer.rotating:
        return None
    doc = ctx.facts.record(envelope.subject)
    if doc is not None and envelope.data.get("language"):
        doc["language"] = envelope.data["language"]  # the router stores the decision's on the record
    return doc


def plan_from(envelope: Envelope, ctx: Context, doc: Doc | None) -> list[Outgoing]:
    """The citizen SMS ``envelope`` calls for, given the record :func:`record_needed` named (None if
    it named none or there is none); status requests and opt-outs need :func:`plan`."""
    kind = envelope.type
    names = policy.citizen_templates(ctx.policy, kind)
    if kind == ComplaintSubmitted.TYPE:
        sub = envelope.payload(ComplaintSubmitted)
        if ctx.facts is not None:
            ctx.facts.remember(sub)
        if not (sub.phone_sealed and sub.phone_hash):
            return []
        lang = sub.language or "fa"
        ctx_vars = {"tracking_code": sub.tracking_code}
        status_group = f"status:{sub.complaint_id}"
        return [
            Outgoing(
                name, lang, ctx_vars, sub.phone_sealed, sub.phone_hash, sub.complaint_id, group=status_group
            )
            for name in names
        ]
    complaint_id = envelope.subject
    if kind == ComplaintRated.TYPE:
        rated = envelope.payload(ComplaintRated)
        if rated.rating > ctx.policy.low_rating:
            return []
        names, complaint_id = ["reopen_offer"], rated.complaint_id
    if not names and kind != ComplaintResolved.TYPE:
        return []
    if doc is None or not doc.get("phone_sealed"):
        log.info("no phone for SMS", extra={"complaint_id": complaint_id, "event_id": envelope.id})
        return []
    lang = doc.get("language", "fa")
    variables: dict[str, Any] = {
        "tracking_code": doc["tracking_code"],
        "department": _department_name(ctx.taxonomy, doc.get("department"), lang),
    }
    priority: str | None = doc.get("priority")
    extra: list[Outgoing] = []
    if kind in DECISIONS:
        decision = envelope.payload(DECISIONS[kind])
        variables["department"] = _department_name(ctx.taxonomy, decision.department, lang)
        variables["due_at"] = decision.due_at
        priority = decision.priority
    elif kind == ComplaintDuplicateLinked.TYPE:
        variables["primary_tracking_code"] = envelope.payload(ComplaintDuplicateLinked).primary_tracking_code
    elif kind in ACTIONS:
        action = envelope.payload(ACTIONS[kind])
        if isinstance(action, ComplaintResolved):
            variables["note"] = action.note
            if ctx.policy.survey:
                extra.append(
                    Outgoing(
                        "survey",
                        lang,
                        dict(variables),
                        doc["phone_sealed"],
                        doc["phone_hash"],
                        complaint_id,
                        group=f"survey:{complaint_id}",
                        not_before=action.at + timedelta(minutes=ctx.policy.survey_delay_minutes),
                    )
                )
        elif isinstance(action, ComplaintRejected):
            variables["reason"] = action.reason
    group: str | None = None if kind == ComplaintRated.TYPE else f"status:{complaint_id}"
    planned = [
        Outgoing(
            name,
            lang,
            variables,
            doc["phone_sealed"],
            doc["phone_hash"],
            complaint_id,
            priority=priority,
            group=group,
        )
        for name in names
    ]
    return planned + extra


async def _status_answer(request: CitizenStatusRequested, ctx: Context) -> Outgoing:
    doc = await records.find(ctx.store, request.complaint_id) if request.complaint_id else None
    lang = "fa"
    variables: dict[str, Any] = {"tracking_code": request.tracking_code}
    template = "status_unknown"
    if doc is not None:
        lang = doc.get("language", "fa")
        timeline = doc.get("timeline") or []
        variables |= {
            "status": doc.get("status", "received"),
            "department": _department_name(ctx.taxonomy, doc.get("department"), lang),
            "at": timeline[-1]["at"] if timeline else doc["created_at"],
        }
        template = "status"
    subject = request.complaint_id or request.phone_hash
    return Outgoing(template, lang, variables, request.phone_sealed, request.phone_hash, subject, always=True)


@dataclass(frozen=True)
class Draft:
    """An :class:`Outgoing` SMS rendered into the fields of its record, before the record exists."""

    notification_id: str
    fields: Doc
    urgent: bool
    send_at: datetime  # when it may go (now, or later: quiet hours, coalescing window, a survey's delay)


def draft(item: Outgoing, envelope: Envelope, ctx: Context, now: datetime) -> Draft:
    """Render ``item`` and work out when it may be sent (no I/O)."""
    notification_id = derived_id(envelope.source, envelope.id, item.phone_hash, item.template)
    text = render(item.template, item.language, timezone=ctx.policy.timezone, **item.context)
    cost, allowed = segments(text), policy.budget(ctx.policy, item.template)
    if cost > allowed:
        OVER_BUDGET.labels(item.template).inc()
        log.warning(
            "SMS over its segment budget",
            extra={"template": item.template, "segments": cost, "budget": allowed},
        )
    urgent = policy.is_urgent(ctx.policy, item.template, item.priority)
    fields: Doc = {
        "complaint_id": item.complaint_id,
        "cause_event_id": envelope.id,
        "template": item.template,
        "language": item.language,
        "recipient_hash": item.phone_hash,
        "phone_sealed": item.phone_sealed,
        "text": text,
        "provider": ctx.sms.name,
        "urgent": urgent,
        "group": item.group,
        "event_at": envelope.time,
        "always": item.always,
    }
    send_at = item.not_before or now
    if not urgent:
        if item.group and item.not_before is None and ctx.policy.coalesce_seconds:
            send_at = max(send_at, now + timedelta(seconds=ctx.policy.coalesce_seconds))
        send_at = policy.allowed_at(ctx.policy, send_at)
    return Draft(notification_id, fields, urgent, send_at)


async def opted_out(item: Outgoing, ctx: Context) -> bool:
    """Whether ``item`` is not to be sent because its recipient opted out (the batched path asks too)."""
    if item.always:
        return False
    return await _phone_opted_out(item.phone_sealed, item.phone_hash, ctx)


# Answers to the citizen's own SMS (Outgoing.always): sent even after an opt-out. Records written
# before "always" was stored on them are recognised by their template.
ALWAYS_TEMPLATES = frozenset({"status", "status_unknown", "opted_out", "opted_in"})


async def _record_opted_out(record: Doc, ctx: Context) -> bool:
    """Whether a recorded SMS, about to go later than it was planned, is to a phone opted out since."""
    if record.get("always", record.get("template") in ALWAYS_TEMPLATES):
        return False
    if not (record.get("phone_sealed") and record.get("recipient_hash")):
        return False  # erased by retention: send_claimed fails it
    return await _phone_opted_out(record["phone_sealed"], record["recipient_hash"], ctx)


async def _phone_opted_out(phone_sealed: str, phone_hash: str, ctx: Context) -> bool:
    hashes = ctx.sealer.lookup_hashes_of(phone_sealed, phone_hash)  # all keys while rotating
    if len(hashes) == 1 and ctx.opt_outs is not None:
        known = ctx.opt_outs.known(hashes[0])
        if known is not None:
            return known
    # One hash (no rotation under way): a lookup by _id, which FerretDB serves from its index (it
    # scans the collection for an $in).
    return await preferences.opted_out(ctx.store, hashes[0] if len(hashes) == 1 else hashes)


async def deliver(item: Outgoing, envelope: Envelope, ctx: Context) -> str:
    """Record ``item`` once and send it now, or leave it deferred for :func:`flush`; return its state."""
    now = ctx.clock()
    drafted = draft(item, envelope, ctx, now)
    notification_id, fields, send_at = drafted.notification_id, drafted.fields, drafted.send_at
    if await opted_out(item, ctx):
        record, _ = await outbox.claim(ctx.store, notification_id, fields, now, state="suppressed")
        log.info("citizen opted out; SMS not sent", extra={"notification_id": notification_id})
        return str(record["state"])
    state = "deferred" if send_at > now else "sending"
    record, created = await outbox.claim(
        ctx.store, notification_id, {**fields, "send_at": send_at}, now, state=state
    )
    if created and item.group:
        if await outbox.newer_in_group(ctx.store, item.group, envelope.time, notification_id):
            await outbox.take(ctx.store, notification_id, state, now)
            await outbox.finish(ctx.store, notification_id, "superseded", now, "a newer state was reported")
            return "superseded"
        await outbox.supersede(ctx.store, item.group, before=envelope.time, keep=notification_id)
    if not created:
        record = {**fields, "send_at": send_at, **record}  # a record of an older version lacks the text
    if record["state"] == "sending":
        if not created:
            log.info("resuming an SMS a previous run recorded", extra={"notification_id": notification_id})
        return await send_record(record, ctx)
    if record["state"] == "sent":
        log.info("SMS already sent; not sending again", extra={"notification_id": notification_id})
        await _announce_sent(ctx.publisher, record)
    return str(record["state"])


async def send_record(record: Doc, ctx: Context) -> str:
    """Hand the recorded SMS to the provider (same id on every try); return ``sent``, ``failed`` or
    ``deferred`` (the per-phone limit is reached)."""
    notification_id = record["_id"]
    now = ctx.clock()
    if not record.get("urgent"):
        later = limited_until(ctx, await outbox.sent_since(ctx.store, record["recipient_hash"], now - HOUR))
        if later is not None:
            await outbox.defer(ctx.store, notification_id, later)
            SMS.labels(ctx.sms.name, record["template"], "limited").inc()
            return "deferred"
    return await send_claimed(record, ctx)


def limited_until(ctx: Context, recent: list[datetime]) -> datetime | None:
    """When the per-phone limit lets the next non-urgent SMS go, given the phone's SMS sent in the
    last hour (oldest first); None when it may go now."""
    if len(recent) < ctx.policy.max_per_hour:
        return None
    return policy.allowed_at(ctx.policy, recent[-ctx.policy.max_per_hour] + HOUR)


async def send_claimed(record: Doc, ctx: Context, *, failed_try: tuple[int, Exception] | None = None) -> str:
    """Try the provider until it takes the SMS or it is given up; return ``sent`` or ``failed``.

    ``failed_try`` is (attempt, error) of a try the caller made already (the batched path counts the
    first try at the claim and makes it for many SMS at once).
    """
    notification_id = record["_id"]
    message = Sms(id=notification_id, to=ctx.sealer.open(record["phone_sealed"]), text=record["text"])
    pending = failed_try
    while True:
        if pending is None:
            attempt = await outbox.count_attempt(ctx.store, notification_id)
            try:
                receipt = await ctx.sms.send(message)
                break
            except (SmsRejected, SmsUnavailable) as exc:
                pending = (attempt, exc)
        attempt, error = pending
        pending = None
        if not isinstance(error, SmsUnavailable):
            return await _fail(ctx, record, str(error), attempt)
        if ctx.retry.exhausted(attempt):
            await dead_letter(ctx.publisher, record, str(error), attempt)
            return await _fail(ctx, record, str(error), attempt)
        SMS.labels(ctx.sms.name, record["template"], "retry").inc()
        await ctx.retry.sleep(ctx.retry.delay(attempt))
    sent_at = records.store_precision(ctx.clock())
    taken_by = delivery.receipt_fields(receipt)
    await outbox.finish(ctx.store, notification_id, "sent", sent_at, fields=taken_by)
    return await announce_sent(record, taken_by, sent_at, ctx)


async def announce_sent(record: Doc, taken_by: Doc, sent_at: datetime, ctx: Context) -> str:
    """Count, log and publish an SMS the provider took, once its record says ``sent``."""
    notification_id = record["_id"]
    SMS.labels(ctx.sms.name, record["template"], "sent").inc()
    if record["template"] in ("routed", "triage") and record.get("event_at"):
        # The decision's event time → its SMS accepted by the provider (queueing, quiet hours, retries).
        DECIDED_TO_SMS.labels(record["template"]).observe(seconds_between(record["event_at"], sent_at))
    log.info("SMS sent", extra={"complaint_id": record["complaint_id"], "notification_id": notification_id})
    await _announce_sent(ctx.publisher, {**record, **taken_by, "sent_at": sent_at})
    return "sent"


async def flush(ctx: Context) -> int:
    """Send every deferred SMS that is due (oldest first) and resume stale ones; return how many."""
    now = ctx.clock()
    done = 0
    for record in await outbox.due(ctx.store, now):
        group = record.get("group")
        if group and await outbox.newer_in_group(ctx.store, group, record["event_at"], record["_id"]):
            if await outbox.take(ctx.store, record["_id"], "deferred", now):
                await outbox.finish(ctx.store, record["_id"], "superseded", now, "a newer state was reported")
            continue
        taken = await outbox.take(ctx.store, record["_id"], "deferred", now)
        done += taken is not None and await _send_taken(taken, ctx) == "sent"
    stale_after = timedelta(seconds=ctx.policy.stale_sending_seconds)
    for record in await outbox.stale(ctx.store, now, stale_after):
        log.warning("resuming an SMS left half-sent", extra={"notification_id": record["_id"]})
        taken = await outbox.take(ctx.store, record["_id"], "sending", now, taken_before=now - stale_after)
        done += taken is not None and await _send_taken(taken, ctx) == "sent"
    return done


async def _send_taken(record: Doc, ctx: Context) -> str:
    """:func:`send_record`, but a record that cannot be sent at all fails alone instead of stopping
    the sender (MongoDB and Kafka errors still propagate: the next tick tries again)."""
    try:
        # Deferred for the night, a survey's delay or the per-phone limit: the citizen may have
        # opted out meanwhile, and that holds at once (a stale record is checked again too).
        if await _record_opted_out(record, ctx):
            await outbox.finish(ctx.store, record["_id"], "suppressed", ctx.clock(), "the citizen opted out")
            log.info("citizen opted out; SMS not sent", extra={"notification_id": record["_id"]})
            return "suppressed"
        return await send_record(record, ctx)
    except (PyMongoError, KafkaError, DependencyUnavailable):
        raise
    except Exception as exc:
        log.exception("deferred SMS cannot be sent", extra={"notification_id": record["_id"]})
        return await _fail(ctx, record, f"{type(exc).__name__}: {exc}", int(record.get("attempts", 0)))


def _sent_payload(record: Doc) -> NotificationSent:
    return NotificationSent(
        complaint_id=record["complaint_id"],
        notification_id=record["_id"],
        cause_event_id=record["cause_event_id"],
        template=record["template"],
        provider=record.get("provider", ""),
        segments=segments(record["text"]),
        sent_at=record.get("sent_at") or datetime.now(UTC),
    )


async def _announce_sent(publisher: Publisher, record: Doc) -> None:
    event_id = derived_id(SOURCE, record["_id"], "sent")
    event = new_event(_sent_payload(record), subject=record["complaint_id"], source=SOURCE, event_id=event_id)
    await publisher.publish(topics.EVENTS, event)


async def _fail(ctx: Context, record: Doc, reason: str, attempts: int) -> str:
    notification_id = record["_id"]
    await outbox.finish(ctx.store, notification_id, "failed", ctx.clock(), reason)
    SMS.labels(ctx.sms.name, record["template"], "failed").inc()
    log.warning(
        "SMS failed",
        extra={"complaint_id": record["complaint_id"], "notification_id": notification_id, "reason": reason},
    )
    payload = NotificationFailed(
        complaint_id=record["complaint_id"],
        notification_id=notification_id,
        cause_event_id=record["cause_event_id"],
        template=record["template"],
        provider=ctx.sms.name,
        reason=reason,
        attempts=attempts,
    )
    event_id = derived_id(SOURCE, notification_id, "failed")
    event = new_event(payload, subject=record["complaint_id"], source=SOURCE, event_id=event_id)
    await ctx.publisher.publish(topics.EVENTS, event)
    return "failed"


# Events a department hears about, and whether the notice is meant for its head or supervisor.
NOTICE_TYPES = {
    ComplaintRouted.TYPE: False,
    ComplaintReassigned.TYPE: False,  # to the department it was reassigned to
    ComplaintSlaWarning.TYPE: True,
    ComplaintEscalated.TYPE: True,
    ComplaintReopened.TYPE: True,  # only when the citizen reopened it
}


async def _notify_department(envelope: Envelope, ctx: Context) -> str | None:
    """Post the department's signed notice for ``envelope`` once; return its state."""
    if ctx.departments is None or envelope.type not in NOTICE_TYPES:
        return None
    reason: str | None = None
    if envelope.type == ComplaintReopened.TYPE:
        reopened = envelope.payload(ComplaintReopened)
        if reopened.by != "citizen":
            return None
        reason = reopened.reason
    doc = await records.find(ctx.store, envelope.subject)
    data = envelope.data
    named = data.get("to_department") or data.get("department")
    department = str(named or (doc or {}).get("department") or "")
    if ctx.departments.hook(department) is None:
        return None
    notice_id = derived_id(envelope.source, envelope.id, "department", department)
    now = ctx.clock()
    notice: Doc = {
        "id": notice_id,
        "event": envelope.type.removeprefix(policy.PREFIX),
        "event_id": envelope.id,
        "for_supervisor": NOTICE_TYPES[envelope.type],
        "complaint_id": envelope.subject,
        "department": department,
        "tracking_code": envelope.data.get("tracking_code") or (doc or {}).get("tracking_code"),
        "category": envelope.data.get("category") or (doc or {}).get("category"),
        "priority": envelope.data.get("priority") or (doc or {}).get("priority"),
        "due_at": envelope.data.get("due_at") or (doc or {}).get("due_at"),
        "text": (doc or {}).get("text"),
        "address": (doc or {}).get("address"),
        "location": (doc or {}).get("location"),
        "reason": reason,
        "at": envelope.time.isoformat(),
    }
    fields = {
        "kind": "department",
        "complaint_id": envelope.subject,
        "cause_event_id": envelope.id,
        "template": "department_notice",
        "department": department,
    }
    record, _ = await outbox.claim(ctx.store, notice_id, fields, now)
    if record["state"] != "sending":
        return str(record["state"])
    body = encode(notice)
    while True:
        attempt = await outbox.count_attempt(ctx.store, notice_id)
        try:
            await ctx.departments.post(department, notice_id, body)
            break
        except (NoticeRejected, NoticeUnavailable) as exc:
            if isinstance(exc, NoticeRejected) or attempt >= ctx.retry.max_attempts:
                await outbox.finish(ctx.store, notice_id, "failed", ctx.clock(), str(exc))
                NOTICES.labels("failed").inc()
                log.warning(
                    "department notice failed", extra={"notification_id": notice_id, "reason": str(exc)}
                )
                return "failed"
            await ctx.retry.sleep(ctx.retry.delay(attempt))
    await outbox.finish(ctx.store, notice_id, "sent", ctx.clock())
    NOTICES.labels("sent").inc()
    return "sent"
