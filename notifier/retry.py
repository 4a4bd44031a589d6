"""How the notifier retries a provider that is unavailable, and what it does after the last try.

Retriable failures (:class:`notifier.sms.SmsUnavailable`) wait ``delay(attempt)`` before the next try:
exponential backoff with full jitter (a uniform draw between 0 and ``base * 2**(attempt-1)``, capped
at ``max_seconds``), so that many notifiers do not hammer a recovering provider in step. A rejection
(:class:`notifier.sms.SmsRejected`) is not retried at all. After the last try the SMS is given up:
:func:`dead_letter` puts it on ``pasokh.deadletter`` (an operator can replay it once the provider is
back), and the handler records the notification ``failed`` and publishes ``notification.failed``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.bus import DeadLettered, Publisher
from services.contracts import topics
from services.contracts.envelope import derived_id, new_event
from services.metrics import DEAD_LETTERS

SOURCE = "/pasokh/notifier"
# What of a notification record goes to the dead-letter topic: enough to send it again, the phone
# only sealed (the record's own ciphertext), never in clear.
REPLAYABLE = (
    "_id",
    "complaint_id",
    "cause_event_id",
    "template",
    "language",
    "text",
    "recipient_hash",
    "phone_sealed",
    "attempts",
)


@dataclass
class Retry:
    """How often and how patiently to retry a provider that is unavailable."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_seconds: float = 60.0
    uniform: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based): full jitter, capped."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return float(self.uniform(0, ceiling))

    def exhausted(self, attempt: int) -> bool:
        """True when try number ``attempt`` was the last one."""
        return attempt >= self.max_attempts


async def dead_letter(publisher: Publisher, record: dict[str, Any], reason: str, attempts: int) -> None:
    """Put the given-up SMS on ``pasokh.deadletter`` once (its event id derives from the notification).

    The SMS is sent from the notifier's outbox, not from a Kafka message in hand, so ``partition`` and
    ``offset`` are -1; ``value_b64`` holds the replayable part of the notification record as JSON.
    """
    replay = {name: record[name] for name in REPLAYABLE if name in record}
    value = json.dumps(replay, ensure_ascii=False, default=str).encode()
    payload = DeadLettered(
        reason=f"SMS given up after {attempts} tries: {reason}"[:2000],
        topic=topics.EVENTS,
        partition=-1,
        offset=-1,
        key=record.get("complaint_id"),
        value_b64=base64.b64encode(value).decode(),
        failed_at=datetime.now(UTC),
        service="notifier",
    )
    event_id = derived_id(SOURCE, str(record["_id"]), "deadletter")
    subject = str(record.get("complaint_id") or record["_id"])
    await publisher.publish(
        topics.DEADLETTER, new_event(payload, subject=subject, source=SOURCE, event_id=event_id)
    )
    DEAD_LETTERS.labels("notifier", topics.EVENTS, "sms").inc()
