"""The notifier's work on one complaint event: at most one SMS per (event, recipient, template)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from notifier import outbox
from notifier.messages import render
from notifier.metrics import SMS
from notifier.segments import segments
from notifier.sms import Sms, SmsGateway, SmsRejected, SmsUnavailable
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintTriageNeeded, Decision
from services.contracts.envelope import Envelope, derived_id, new_event
from services.contracts.notifications import NotificationFailed, NotificationSent
from services.privacy import Sealer
from services.store import Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
SOURCE = "/pasokh/notifier"

# Event type → (payload model, template) of the SMS the citizen gets for it.
CITIZEN_SMS: dict[str, tuple[type[Decision], str]] = {
    ComplaintRouted.TYPE: (ComplaintRouted, "routed"),
    ComplaintTriageNeeded.TYPE: (ComplaintTriageNeeded, "triage"),
}


@dataclass
class Retry:
    """How often and how patiently to retry a provider that is unavailable."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return float(random.uniform(0, self.base_seconds * 2 ** (attempt - 1)))


async def handle_event(
    envelope: Envelope,
    *,
    store: Store,
    publisher: Publisher,
    sms: SmsGateway,
    sealer: Sealer,
    taxonomy: Taxonomy,
    retry: Retry,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str | None:
    """Send the citizen's SMS for ``envelope`` if it calls for one; return the notification's state."""
    if envelope.type not in CITIZEN_SMS:
        return None
    model, template = CITIZEN_SMS[envelope.type]
    decision = envelope.payload(model)
    complaint = await records.find(store, decision.complaint_id)
    if complaint is None or not complaint.get("phone_sealed"):
        log.info("no phone for SMS", extra={"complaint_id": decision.complaint_id, "event_id": envelope.id})
        return None
    notification_id = derived_id(envelope.source, envelope.id, complaint["phone_hash"], template)
    record = await outbox.claim(
        store,
        notification_id,
        {
            "complaint_id": decision.complaint_id,
            "cause_event_id": envelope.id,
            "template": template,
            "recipient_hash": complaint["phone_hash"],
            "provider": sms.name,
        },
        clock(),
    )
    note = _Notification(decision.complaint_id, notification_id, envelope.id, template, sms.name)
    department = taxonomy.departments.get(decision.department)
    text = render(
        template,
        decision.language,
        tracking_code=decision.tracking_code,
        department=(department.en if decision.language == "en" else department.fa) if department else "",
    )
    if record["state"] == "sent":
        log.info("SMS already sent; not sending again", extra={"notification_id": notification_id})
        await _announce_sent(publisher, note, text)
        return "sent"
    if record["state"] == "failed":
        return "failed"
    message = Sms(id=notification_id, to=sealer.open(complaint["phone_sealed"]), text=text)
    while True:
        attempt = await outbox.count_attempt(store, notification_id)
        try:
            await sms.send(message)
            break
        except SmsRejected as exc:
            return await _fail(store, publisher, note, str(exc), attempt, clock())
        except SmsUnavailable as exc:
            if attempt >= retry.max_attempts:
                return await _fail(store, publisher, note, str(exc), attempt, clock())
            SMS.labels(sms.name, template, "retry").inc()
            await retry.sleep(retry.delay(attempt))
    await outbox.finish(store, notification_id, "sent", clock())
    SMS.labels(sms.name, template, "sent").inc()
    log.info("SMS sent", extra={"complaint_id": decision.complaint_id, "notification_id": notification_id})
    await _announce_sent(publisher, note, text)
    return "sent"


@dataclass(frozen=True)
class _Notification:
    complaint_id: str
    notification_id: str
    cause_event_id: str
    template: str
    provider: str


async def _announce_sent(publisher: Publisher, note: _Notification, text: str) -> None:
    payload = NotificationSent(**vars(note), segments=segments(text), sent_at=datetime.now(UTC))
    event_id = derived_id(SOURCE, note.notification_id, "sent")
    event = new_event(payload, subject=note.complaint_id, source=SOURCE, event_id=event_id)
    await publisher.publish(topics.EVENTS, event)


async def _fail(
    store: Store, publisher: Publisher, note: _Notification, reason: str, attempts: int, now: datetime
) -> str:
    await outbox.finish(store, note.notification_id, "failed", now, reason)
    SMS.labels(note.provider, note.template, "failed").inc()
    log.warning(
        "SMS failed",
        extra={"complaint_id": note.complaint_id, "notification_id": note.notification_id, "reason": reason},
    )
    payload = NotificationFailed(**vars(note), reason=reason, attempts=attempts)
    event_id = derived_id(SOURCE, note.notification_id, "failed")
    event = new_event(payload, subject=note.complaint_id, source=SOURCE, event_id=event_id)
    await publisher.publish(topics.EVENTS, event)
    return "failed"
