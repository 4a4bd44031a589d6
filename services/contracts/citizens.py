"""Payloads of what citizens ask for by SMS (``org.pasokh.citizen.*`` on pasokh.complaints.events).

DESIGN.md lists ``org.pasokh.citizen.opted-out``; ``opted-in`` (the way back) and ``status-requested``
(a tracking code texted to the short code) extend that list. None of them carries the phone in clear:
the notifier opens ``phone_sealed`` to answer, and finds the citizen's preferences by ``phone_hash``.
The Kafka key and the subject are the complaint id when there is one, else ``phone_hash``, so that one
citizen's messages stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from services.contracts.envelope import EventPayload


class CitizenMessage(EventPayload):
    """Common fields: who wrote (sealed, and its keyed hash), through which provider, which message."""

    phone_sealed: str
    phone_hash: str
    provider: str
    # The provider's id of the inbound SMS: with ``provider`` it identifies the message.
    message_id: str = Field(min_length=1, max_length=128)
    received_at: datetime


class CitizenOptedOut(CitizenMessage):
    """The citizen asked for no more SMS (لغو، ۱۱، توقف، STOP)."""

    TYPE: ClassVar[str] = "org.pasokh.citizen.opted-out"


class CitizenOptedIn(CitizenMessage):
    """The citizen asked for SMS again after opting out (شروع، START)."""

    TYPE: ClassVar[str] = "org.pasokh.citizen.opted-in"


class CitizenStatusRequested(CitizenMessage):
    """The citizen texted a tracking code: the notifier answers with the public status, or "not found"."""

    TYPE: ClassVar[str] = "org.pasokh.citizen.status-requested"

    tracking_code: str = Field(pattern=r"^[0-9]{10}$")
    found: bool
    complaint_id: str | None = None
