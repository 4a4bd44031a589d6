"""What the provider told us after it took an SMS: its receipt, and later its delivery report.

- On send, :func:`receipt_fields` are stored on the notification record: the provider that took the
  SMS (with a failover, the one that actually sent it) and the provider's own message id, by which
  intake matches a delivery report that names only that id (Kavenegar's ``messageid``).
- intake turns each final delivery report into ``org.pasokh.notification.delivered``;
  :func:`apply` writes it on the record as ``delivery`` (``delivered``, ``undeliverable``, ``expired``
  or ``failed`` by the operator), ``delivery_reason`` and ``delivery_reported_at``.

``state`` stays ``sent``: the hand-over to the provider is what the outbox's exactly-once logic and
the per-phone limits count; ``delivery`` is what happened on the handset's side afterwards.
Applying a report is idempotent: the first final report is kept and a repeat changes nothing, except
that ``delivered`` replaces an earlier negative report (the handset's receipt is the last word, e.g.
a phone that was off and later came back).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from notifier import outbox
from notifier.sms import SmsReceipt
from services.contracts.envelope import Envelope
from services.contracts.notifications import NotificationDelivered
from services.metrics import PREFIX
from services.store import Store

log = logging.getLogger(__name__)

DELIVERY = Counter(
    f"{PREFIX}sms_delivery_reports",
    "Delivery reports applied, by provider and status",
    ["provider", "status"],
)


def receipt_fields(receipt: SmsReceipt | None) -> dict[str, Any]:
    """The record fields that say who took the SMS and under which id (nothing for no receipt)."""
    if receipt is None:
        return {}
    fields: dict[str, Any] = {"provider": receipt.provider}
    if receipt.message_id is not None:
        fields["provider_message_id"] = receipt.message_id
    return fields


async def apply(envelope: Envelope, *, store: Store) -> str | None:
    """Write a ``notification.delivered`` report on its notification; return the delivery status
    now recorded, or None when ``envelope`` is no delivery report or changes nothing."""
    if envelope.type != NotificationDelivered.TYPE:
        return None
    report = envelope.payload(NotificationDelivered)
    if report.status == "delivered":
        only_if: dict[str, Any] = {"delivery": {"$ne": "delivered"}}
    else:
        only_if = {"delivery": {"$exists": False}}
    async with outbox.writing(store, report.notification_id):  # not beside the record's "sent" update
        result = await store.notifications.update_one(
            {"_id": report.notification_id, **only_if},
            {
                "$set": {
                    "delivery": report.status,
                    "delivery_reason": report.reason,
                    "delivery_reported_at": report.reported_at,
                }
            },
        )
    context = {"notification_id": report.notification_id, "status": report.status, "event_id": envelope.id}
    if result.modified_count == 0:
        log.info("delivery report changes nothing (a repeat, or already final)", extra=context)
        return None
    DELIVERY.labels(report.provider, report.status).inc()
    log.info("delivery report applied", extra=context)
    return report.status
