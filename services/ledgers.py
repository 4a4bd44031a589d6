"""Expiry of the ledgers that only remember what was already done, so that a retry is answered once.

Without it they grow with every request for ever. Each entry is deleted once it is older than its
ledger's period; a repeat that arrives later is treated as new:

- ``idempotency_keys`` (intake's ``Idempotency-Key``, field ``at``): 24 hours by default. The IETF
  draft leaves the expiry to the server and asks that it be documented (docs/intake.md).
- ``inbound_sms`` (the SMS providers' message ids and delivery reports, ``at``): 30 days; providers
  retry within minutes.
- ``partner_events`` (``source`` + ``id`` of partners' CloudEvents, ``claimed_at``): 30 days.

``tracking_codes`` are not a ledger: a code stays reserved for good, or a new complaint could draw the
code of an old one. FerretDB v1 has no TTL index (INFRA.md), so the router's retention timer and
``pasokh retention sweep`` call :func:`expire`; deleting by time is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.settings import RetentionSettings
from services.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ledger:
    """A collection whose entries may go once ``field`` is older than the period."""

    collection: str
    field: str


IDEMPOTENCY_KEYS = Ledger("idempotency_keys", "at")
INBOUND_SMS = Ledger("inbound_sms", "at")
PARTNER_EVENTS = Ledger("partner_events", "claimed_at")


def periods(settings: RetentionSettings) -> dict[Ledger, timedelta]:
    """How long each ledger keeps an entry, from the settings."""
    return {
        IDEMPOTENCY_KEYS: timedelta(hours=settings.idempotency_hours),
        INBOUND_SMS: timedelta(days=settings.inbound_sms_days),
        PARTNER_EVENTS: timedelta(days=settings.partner_events_days),
    }


async def expire(store: Store, *, now: datetime, settings: RetentionSettings) -> dict[str, int]:
    """Delete every ledger entry past its period; the number deleted, by collection."""
    deleted: dict[str, int] = {}
    for ledger, period in periods(settings).items():
        result = await store.db[ledger.collection].delete_many({ledger.field: {"$lt": now - period}})
        deleted[ledger.collection] = result.deleted_count
    if any(deleted.values()):
        log.info("expired ledger entries", extra={"deleted": deleted})
    return deleted
