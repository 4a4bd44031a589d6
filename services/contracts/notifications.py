"""Payloads of notification events (``org.pasokh.notification.*``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

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


DeliveryStatus = Literal["delivered", "undeliverable", "expired", "failed"]


class NotificationDelivered(EventPayload):
    """The provider's final delivery report for an SMS it had accepted (see :class:`NotificationSent`).

    ``status`` is the outcome on the handset's side: ``delivered``, or why not (``undeliverable``:
    the phone could not be reached or refuses such SMS; ``expired``: not delivered in time; ``failed``:
    the operator gave up). Not to be confused with ``notification.failed``: that one says the SMS could
    not even be handed to the provider after the last try.
    """

    TYPE: ClassVar[str] = "org.pasokh.notification.delivered"

    complaint_id: str
    notification_id: str
    provider: str
    status: DeliveryStatus
    reason: str | None = Field(default=None, max_length=500)
    reported_at: datetime
