"""What intake does with an SMS provider's webhook, free of HTTP: a citizen's SMS, a delivery report.

A citizen's SMS becomes one event on ``pasokh.complaints.events`` (opted-out, opted-in,
status-requested, rated) or a new complaint on ``pasokh.complaints.submitted``. Each provider message
is acted on once: a claim with the unique ``_id`` ``sms-in:<provider>:<message id>`` (a delivery
report: ``sms-dlr:<provider>:<message id>:<status>``) is inserted in ``inbound_sms`` before anything is
published, deleted again if publishing fails (so that the provider's retry does the work), and
completed with the answer once the broker has the event (so that a repeat is answered "duplicate").
The phone number is never logged or published in clear.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from intake import handlers, sms_commands
from intake.errors import SmsInProgress
from intake.metrics import RATINGS
from intake.phone import normalize_phone
from intake.schemas import ComplaintIn
from intake.sms_webhooks import DeliveryReport, InboundSms
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.actions import ComplaintReopened
from services.contracts.citizens import CitizenOptedIn, CitizenOptedOut, CitizenStatusRequested
from services.contracts.complaints import ComplaintRated
from services.contracts.envelope import EventPayload, derived_id, new_event
from services.contracts.notifications import NotificationDelivered
from services.errors import DependencyUnavailable
from services.privacy import Sealer, mask_phone
from services.settings import CitySettings
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
SOURCE = handlers.SOURCE
CLAIMS = "inbound_sms"
# A claim still pending after this long was left by a process that died mid-way: a retry takes it over.
STALE_CLAIM = timedelta(minutes=2)
REOPEN_REASON = "شهروند با پیامک درخواست بازگشایی کرد (the citizen asked by SMS to reopen)"

Action = Literal[
    "opted-out",
    "opted-in",
    "status-requested",
    "rated",
    "reopened",
    "complaint",
    "ignored",
    "duplicate",
    "reported",
    "unknown-notification",
]


@dataclass(frozen=True)
class SmsOutcome:
    """What was done with a webhook call, as the provider is told."""

    action: Action
    complaint_id: str | None = None
    tracking_code: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def _database(what: str) -> AsyncIterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise DependencyUnavailable(f"{what}: {exc}") from exc


async def claim(store: Store, claim_id: str, now: datetime) -> Doc | None:
    """Claim ``claim_id``; None when this request does the work, else the finished claim (a repeat).

    Raises :class:`SmsInProgress` while another request holds a fresh claim on the same message.
    """
    claims = store.db[CLAIMS]
    async with _database("could not claim the SMS"):
        try:
            await claims.insert_one({"_id": claim_id, "state": "pending", "at": now})
            return None
        except DuplicateKeyError:
            pass
        existing = await claims.find_one({"_id": claim_id})
        if existing is not None and existing.get("state") == "done":
            return existing
        taken = await claims.update_one(
            {"_id": claim_id, "state": "pending", "at": {"$lte": now - STALE_CLAIM}}, {"$set": {"at": now}}
        )
    if taken.modified_count == 1:
        log.warning("took over a stale SMS claim", extra={"claim_id": claim_id})
        return None
    raise SmsInProgress()


async def release(store: Store, claim_id: str) -> None:
    """Drop a claim whose work failed, so that the provider's retry can do it."""
    try:
        await store.db[CLAIMS].delete_one({"_id": claim_id, "state": "pending"})
    except PyMongoError:
        # The claim goes stale and a retry takes it over after STALE_CLAIM.
        log.warning("could not release an SMS claim", extra={"claim_id": claim_id})


async def complete(store: Store, claim_id: str, outcome: SmsOutcome, now: datetime) -> None:
    """Remember the answer, so that a repeat of the message is answered "duplicate"."""
    answer = {k: v for k, v in asdict(outcome).items() if v is not None}
    try:
        await store.db[CLAIMS].update_one(
            {"_id": claim_id}, {"$set": {"state": "done", "answer": answer, "done_at": now}}
        )
    except PyMongoError:
        # The event is safe in Kafka; a repeat after STALE_CLAIM could publish it again with the same
        # event id, which consumers drop.
        log.warning("could not complete an SMS claim", extra={"claim_id": claim_id})


async def _once(
    store: Store, claim_id: str, now: datetime, work: Callable[[], Awaitable[SmsOutcome]]
) -> SmsOutcome:
    existing = await claim(store, claim_id, now)
    if existing is not None:
        answer = existing.get("answer") or {}
        return SmsOutcome("duplicate", answer.get("complaint_id"), answer.get("tracking_code"))
    try:
        outcome = await work()
    except BaseException:
        await release(store, claim_id)
        raise
    await complete(store, claim_id, outcome, now)
    return outcome


async def _publish(publisher: Publisher, payload: EventPayload, *, subject: str, claim_id: str) -> None:
    # The event id follows from the message, so a message processed twice yields one event to consumers.
    event = new_event(payload, subject=subject, source=SOURCE, event_id=derived_id(SOURCE, claim_id))
    await publisher.publish(topics.EVENTS, event)


async def last_resolved(store: Store, phone_hash: str | Sequence[str]) -> Doc | None:
    """The citizen's most recently resolved complaint, found by the phone's keyed hash (or any of
    several: one per key while a key rotation is under way, services/privacy.py)."""
    hashes = [phone_hash] if isinstance(phone_hash, str) else list(phone_hash)
    async with _database("could not look up the citizen's complaints"):
        return await store.complaints.find_one(
            {"phone_hash": {"$in": hashes}, "status": "resolved"},
            sort=[("resolved_at", DESCENDING), ("created_at", DESCENDING)],
        )


async def handle_inbound(
    message: InboundSms,
    *,
    store: Store,
    publisher: Publisher,
    sealer: Sealer,
    taxonomy: Taxonomy,
    city: CitySettings,
    clock: Callable[[], datetime] = _now,
) -> SmsOutcome:
    """Act on a citizen's SMS once: publish what it asks for; answer only once the broker has it."""
    context: dict[str, Any] = {"provider": message.provider, "message_id": message.message_id}
    try:
        phone = normalize_phone(message.sender)
    except ValueError:
        log.info("SMS from a number that is not an Iranian mobile; ignored", extra=context)
        return SmsOutcome("ignored")
    context["phone"] = mask_phone(phone)
    command = sms_commands.classify(message.text)
    if command.kind == "ignored":
        log.info("SMS ignored: no command and too short for a complaint", extra=context)
        return SmsOutcome("ignored")
    now = records.store_precision(clock())
    claim_id = f"sms-in:{message.provider}:{message.message_id}"

    async def work() -> SmsOutcome:
        phone_hash = sealer.lookup_hash(phone)
        fields: dict[str, Any] = {
            "phone_sealed": sealer.seal(phone),
            "phone_hash": phone_hash,
            "provider": message.provider,
            "message_id": message.message_id,
            "received_at": message.received_at or now,
        }
        if command.kind == "opt-out":
            await _publish(publisher, CitizenOptedOut(**fields), subject=phone_hash, claim_id=claim_id)
            return SmsOutcome("opted-out")
        if command.kind == "opt-in":
            await _publish(publisher, CitizenOptedIn(**fields), subject=phone_hash, claim_id=claim_id)
            return SmsOutcome("opted-in")
        if command.kind == "status" and command.tracking_code:
            code = command.tracking_code
            async with _database("could not look up the tracking code"):
                doc = await records.find_by_tracking_code(store, code)
            complaint_id = doc["_id"] if doc else None
            payload = CitizenStatusRequested(
                **fields, tracking_code=code, found=doc is not None, complaint_id=complaint_id
            )
            await _publish(publisher, payload, subject=complaint_id or phone_hash, claim_id=claim_id)
            return SmsOutcome("status-requested", complaint_id, code)
        if command.kind == "rating" and command.rating:
            resolved = await last_resolved(store, sealer.lookup_hashes(phone))
            if resolved is not None:
                rated = ComplaintRated(
                    complaint_id=resolved["_id"],
                    rating=command.rating,
                    channel="sms",
                    answered_at=fields["received_at"],
                    phone_hash=phone_hash,
                )
                await _publish(publisher, rated, subject=resolved["_id"], claim_id=claim_id)
                RATINGS.labels(str(command.rating)).inc()
                return SmsOutcome("rated", resolved["_id"], resolved.get("tracking_code"))
            # Nothing to rate: the text is read as any other text.
            if not sms_commands.is_complaint_text(message.text):
                return SmsOutcome("ignored")
        if command.kind == "reopen":
            resolved = await last_resolved(store, sealer.lookup_hashes(phone))
            if resolved is None:
                return SmsOutcome("ignored")
            # Back to the department that resolved it (the record keeps it); the notifier flags the
            # reopening to the department's supervisor.
            reopened = ComplaintReopened(
                complaint_id=resolved["_id"],
                actor_id="citizen",
                actor_name="citizen (SMS)",
                at=fields["received_at"],
                reason=REOPEN_REASON,
                by="citizen",
            )
            await _publish(publisher, reopened, subject=resolved["_id"], claim_id=claim_id)
            return SmsOutcome("reopened", resolved["_id"], resolved.get("tracking_code"))
        try:
            body = ComplaintIn(text=message.text, phone=phone, channel="sms")
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
        accepted = await handlers.submit_complaint(
            body, store=store, publisher=publisher, sealer=sealer, taxonomy=taxonomy, city=city
        )
        return SmsOutcome("complaint", accepted.id, accepted.tracking_code)

    outcome = await _once(store, claim_id, now, work)
    log.info(
        "SMS handled",
        extra={**context, "action": outcome.action, "complaint_id": outcome.complaint_id},
    )
    return outcome


async def find_notification(store: Store, report: DeliveryReport) -> Doc | None:
    """The notifier's record of the SMS the report is about: by our id, else by the provider's id."""
    async with _database("could not look up the notification"):
        doc = await store.notifications.find_one({"_id": report.message_id})
        if doc is None and report.provider != "http":
            # Providers such as Kavenegar report on their own message id, which the notifier keeps.
            doc = await store.notifications.find_one(
                {"provider": report.provider, "provider_message_id": report.message_id}
            )
    return doc


async def handle_delivery(
    report: DeliveryReport,
    *,
    store: Store,
    publisher: Publisher,
    clock: Callable[[], datetime] = _now,
) -> SmsOutcome:
    """Publish ``notification.delivered`` once per (SMS, final status) for an SMS the notifier sent."""
    context: dict[str, Any] = {"provider": report.provider, "message_id": report.message_id}
    if report.status is None:
        log.info("delivery report is not final; nothing to tell", extra=context)
        return SmsOutcome("ignored")
    note = await find_notification(store, report)
    if note is None or not note.get("complaint_id"):
        log.info("delivery report for an unknown notification", extra=context)
        return SmsOutcome("unknown-notification")
    now = records.store_precision(clock())
    claim_id = f"sms-dlr:{report.provider}:{report.message_id}:{report.status}"
    status = report.status

    async def work() -> SmsOutcome:
        payload = NotificationDelivered(
            complaint_id=note["complaint_id"],
            notification_id=note["_id"],
            provider=report.provider,
            status=status,
            reason=report.reason,
            reported_at=report.reported_at or now,
        )
        await _publish(publisher, payload, subject=note["complaint_id"], claim_id=claim_id)
        return SmsOutcome("reported")

    outcome = await _once(store, claim_id, now, work)
    log.info(
        "delivery report handled",
        extra={**context, "action": outcome.action, "status": status, "notification_id": note["_id"]},
    )
    return outcome
