"""services.contracts.envelope: the CloudEvents 1.0 Kafka contract every service and partner relies on."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.core.v1.event import CloudEvent

from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, Location
from services.contracts.envelope import Envelope, derived_id, from_kafka, new_event, to_kafka
from services.errors import InvalidEvent


def submitted(**overrides: Any) -> ComplaintSubmitted:
    fields: dict[str, Any] = {
        "complaint_id": str(uuid.uuid4()),
        "tracking_code": str(random.randrange(10**9, 10**10)),
        "text": "چراغ‌های کوچه ما سه شب است خاموش است",
        "channel": "web",
        "language": "fa",
        "location": Location(lat=35.8327, lon=50.9915),
        "media_urls": ["https://example.org/a.jpg"],
        "submitted_at": datetime.now(UTC).replace(microsecond=0),
    }
    fields.update(overrides)
    return ComplaintSubmitted(**fields)


def test_round_trip_through_kafka_bytes() -> None:
    payload = submitted()
    at = datetime(2024, 3, 20, 8, 30, tzinfo=UTC) + timedelta(seconds=random.randrange(10**6))
    event = new_event(payload, subject=payload.complaint_id, source="/pasokh/test", time=at)

    key, value = to_kafka(event)
    envelope = from_kafka(value, key)

    assert key == payload.complaint_id.encode()
    assert envelope.subject == payload.complaint_id
    assert envelope.type == "org.pasokh.complaint.submitted"
    assert envelope.source == "/pasokh/test"
    assert envelope.time == at
    assert envelope.id == event.get_id()
    assert envelope.payload(ComplaintSubmitted) == payload


def test_wire_format_is_structured_cloudevents_1_0() -> None:
    payload = submitted()
    key, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/intake"))
    doc = json.loads(value)
    assert doc["specversion"] == "1.0"
    assert doc["type"] == ComplaintSubmitted.TYPE == "org.pasokh.complaint.submitted"
    assert doc["subject"] == payload.complaint_id == key.decode()
    assert doc["source"] == "/pasokh/intake"
    assert doc["datacontenttype"] == "application/json"
    assert "/v1" in doc["dataschema"] and ComplaintSubmitted.TYPE in doc["dataschema"]
    assert doc["data"]["tracking_code"] == payload.tracking_code
    uuid.UUID(doc["id"])  # a fresh unique id
    datetime.fromisoformat(doc["time"].replace("Z", "+00:00"))


def test_persian_text_survives_the_round_trip() -> None:
    text = "آسفالت کوچه‌ی ما خراب است؛ «پلاک ۱۲» — لطفاً رسیدگی کنید 🙏"
    payload = submitted(text=text)
    key, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/test"))
    assert from_kafka(value, key).payload(ComplaintSubmitted).text == text


def test_type_comes_from_the_payload_class_and_dataschema_carries_its_version() -> None:
    payload = ComplaintRouted(
        complaint_id=str(uuid.uuid4()),
        tracking_code="1234567897",
        category="lighting",
        department="lighting",
        priority="normal",
        confidence=1.0,
        classifier="keywords-v1",
        language="fa",
        due_at=datetime.now(UTC),
    )
    key, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/router"))
    envelope = from_kafka(value, key)
    assert envelope.type == "org.pasokh.complaint.routed"
    assert envelope.dataschema is not None and envelope.dataschema.endswith(
        f"org.pasokh.complaint.routed/v{ComplaintRouted.VERSION}.json"
    )


def test_given_event_id_is_kept_and_new_ids_are_unique() -> None:
    payload = submitted()
    fixed = str(uuid.uuid4())
    assert new_event(payload, subject="s", source="/t", event_id=fixed).get_id() == fixed
    ids = {new_event(payload, subject="s", source="/t").get_id() for _ in range(50)}
    assert len(ids) == 50


def test_derived_ids_are_deterministic() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert derived_id(a, "decision") == derived_id(a, "decision")
    assert derived_id(a, "decision") != derived_id(b, "decision")
    assert derived_id(a, "decision") != derived_id(a, "notice")


def test_key_may_be_omitted_when_decoding() -> None:
    payload = submitted()
    _, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/test"))
    assert from_kafka(value).subject == payload.complaint_id


def _ce(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/pasokh/test",
        "type": ComplaintSubmitted.TYPE,
        "subject": str(uuid.uuid4()),
        "time": "2024-03-20T08:30:00Z",
        "datacontenttype": "application/json",
        "data": {},
    }
    for name, value in fields.items():
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"", id="empty bytes"),
        pytest.param(None, id="tombstone"),
        pytest.param(b"\xff\xfe\x00garbage", id="invalid utf-8"),
        pytest.param(b"{not json", id="invalid json"),
        pytest.param(b"hello", id="plain text"),
        pytest.param(b'{"hello": "world"}', id="json object that is not a cloudevent"),
        pytest.param(b"[1, 2, 3]", id="json array"),
        pytest.param(b'"a string"', id="json string"),
        pytest.param(b"42", id="json number"),
        pytest.param(b"null", id="json null"),
        pytest.param(_ce(specversion="0.3"), id="specversion 0.3"),
        pytest.param(_ce(type=None), id="no type"),
        pytest.param(_ce(source=None), id="no source"),
        pytest.param(_ce(subject=None), id="no subject"),
        pytest.param(_ce(subject=""), id="empty subject"),
        pytest.param(_ce(data=None), id="no data"),
        pytest.param(_ce(data=[1, 2]), id="data is a list"),
        pytest.param(_ce(data="چراغ"), id="data is a string"),
        pytest.param(_ce(data=7), id="data is a number"),
    ],
)
def test_malformed_messages_raise_invalid_event(value: bytes | None) -> None:
    # Anything else than InvalidEvent would be retried by the worker instead of dead-lettered.
    with pytest.raises(InvalidEvent):
        from_kafka(value)


def test_key_not_matching_the_subject_is_invalid() -> None:
    payload = submitted()
    _, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/test"))
    with pytest.raises(InvalidEvent, match="key"):
        from_kafka(value, str(uuid.uuid4()).encode())
    with pytest.raises(InvalidEvent):
        from_kafka(value, b"\xff" + payload.complaint_id.encode())


def test_to_kafka_refuses_an_event_without_subject() -> None:
    # without a subject there is no Kafka key, and one complaint's events could be reordered
    event = CloudEvent({"id": str(uuid.uuid4()), "source": "/partner", "type": ComplaintSubmitted.TYPE}, {})
    with pytest.raises(ValueError, match="subject"):
        to_kafka(event)


def _envelope(data: dict[str, Any], type_: str = ComplaintSubmitted.TYPE) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        type=type_,
        source="/pasokh/test",
        subject=str(uuid.uuid4()),
        time=datetime.now(UTC),
        dataschema=None,
        data=data,
    )


def test_payload_of_the_wrong_type_is_invalid() -> None:
    data = submitted().model_dump(mode="json")
    with pytest.raises(InvalidEvent, match="org.pasokh.complaint.routed"):
        _envelope(data).payload(ComplaintRouted)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"complaint_id": None}, id="missing field"),
        pytest.param({"channel": "fax"}, id="unknown channel"),
        pytest.param({"submitted_at": "yesterday"}, id="bad time"),
        pytest.param({"location": {"lat": 123, "lon": 0}}, id="lat out of range"),
        pytest.param({"unexpected": 1}, id="unknown field"),
    ],
)
def test_payload_not_matching_its_schema_is_invalid(change: dict[str, Any]) -> None:
    data = submitted().model_dump(mode="json")
    for name, value in change.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    with pytest.raises(InvalidEvent):
        _envelope(data).payload(ComplaintSubmitted)
