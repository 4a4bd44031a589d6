"""CloudEvents 1.0 envelopes for Pasokh events, in Kafka's structured content mode.

The ``type`` of an event is a stable string from the payload class's ``TYPE`` attribute, never a class
path; ``dataschema`` carries the payload version so consumers can upcast old payloads.
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from services.errors import InvalidEvent

SCHEMA_BASE = "https://pasokh.org/schemas/events"
# Event ids derived from other ids (e.g. "the routed event of submission X") use this namespace, so a
# redelivered input yields the same output id and consumers can drop the repeat.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2d9e-7a51-4b1f-9d0e-2c8a9b7e4f30")


class EventPayload(BaseModel):
    """Base of every event payload: a stable type string and a schema version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        """The JSON Schema URI of this payload's current version."""
        return f"{SCHEMA_BASE}/{cls.TYPE}/v{cls.VERSION}.json"


P = TypeVar("P", bound=EventPayload)


@dataclass(frozen=True)
class Envelope:
    """One decoded event: CloudEvents attributes plus the raw JSON payload."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    dataschema: str | None
    data: dict[str, Any]

    def payload(self, model: builtins.type[P]) -> P:
        """Validate ``data`` as ``model``; raise :class:`InvalidEvent` when it does not fit."""
        if self.type != model.TYPE:
            raise InvalidEvent(f"expected type {model.TYPE}, got {self.type}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise InvalidEvent(
                f"{self.type} payload does not match its schema: {exc.error_count()} errors"
            ) from exc


def derived_id(*parts: str) -> str:
    """A deterministic event id from the ids it is derived from."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "/".join(parts)))


def new_event(
    payload: EventPayload,
    *,
    subject: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap ``payload`` in a CloudEvents 1.0 envelope about complaint ``subject``."""
    return CloudEvent(
        {
            "id": event_id or str(uuid.uuid4()),
            "type": payload.TYPE,
            "source": source,
            "subject": subject,
            "time": time or datetime.now(UTC),
            "datacontenttype": "application/json",
            "dataschema": payload.dataschema(),
        },
        payload.model_dump(mode="json", exclude_none=True),
    )


def to_kafka(event: CloudEvent) -> tuple[bytes, bytes]:
    """Encode ``event`` for Kafka: (key = subject = complaint id, structured JSON value)."""
    subject = event.get_subject()
    if not subject:
        raise ValueError("Pasokh events need a subject (the complaint id): it is the Kafka key")
    message = ce_kafka.to_structured_event(event, key_mapper=lambda e: e.get_subject())
    return subject.encode(), message.value


def from_kafka(value: bytes | None, key: bytes | None = None) -> Envelope:
    """Decode a structured-mode Kafka message; raise :class:`InvalidEvent` on anything malformed."""
    if not value:
        raise InvalidEvent("empty message")
    message = ce_kafka.KafkaMessage(headers={}, key=None, value=value)
    try:
        event = ce_kafka.from_structured_event(message)
    except (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError) as exc:
        # AttributeError: valid JSON that is not an object (an array, a string, null).
        raise InvalidEvent(f"not a CloudEvents 1.0 structured JSON message: {exc}") from exc
    if event.get_specversion() != "1.0":
        raise InvalidEvent(f"unsupported CloudEvents specversion {event.get_specversion()}")
    envelope = envelope_of(event)
    if key is not None and key.decode("utf-8", "replace") != envelope.subject:
        raise InvalidEvent("Kafka key does not match the event subject")
    return envelope


def envelope_of(event: BaseCloudEvent) -> Envelope:
    """The :class:`Envelope` of an event in hand (one this process made, or one just decoded), without
    encoding it; :class:`InvalidEvent` when its data is not an object or it has no subject."""
    data = event.get_data()
    if not isinstance(data, dict):
        raise InvalidEvent("event data must be a JSON object")
    subject = event.get_subject()
    if not subject:
        raise InvalidEvent("event has no subject (complaint id)")
    return Envelope(
        id=event.get_id(),
        type=event.get_type(),
        source=event.get_source(),
        subject=subject,
        time=event.get_time() or datetime.now(UTC),
        dataschema=event.get_dataschema(),
        data=data,
    )
