"""Payloads of notification events (``org.pasokh.notification.*``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from services.contracts.envelope import EventPayload


class NotificationSent(EventPayload):
    """An SMS was handed to the provider and accepted by it."""

    TYPE: ClassVar[str] = "org.pasokh.notification.sent"

    complaint_id: str
    notification_id: str
    cause_event_id: str
    template: str
    provider: str
    segments: int
    sent_at: datetime


class NotificationFailed(EventPayload):
    """An SMS could not be sent after the last try."""

    TYPE: ClassVar[str] = "org.pasokh.notification.failed"

    complaint_id: str
    notification_id: str
    cause_event_id: str
    template: str
    provider: str
    reason: str
    attempts: int
