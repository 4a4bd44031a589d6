"""The published contract: the committed JSON Schemas and AsyncAPI document match the code; events fit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError
from referencing import Registry, Resource

from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.settings import IntakeSettings
from pasokh.cli import main
from services.bus import DeadLettered, InMemoryPublisher
from services.contracts import schemas, topics
from services.contracts.complaints import (
    ComplaintRouted,
    ComplaintStatusUpdated,
    ComplaintSubmitted,
    ComplaintTriageNeeded,
    Location,
)
from services.contracts.envelope import EventPayload, new_event, to_kafka
from services.contracts.notifications import NotificationFailed, NotificationSent

NOW = datetime(2024, 3, 20, 8, 30, tzinfo=UTC)
COMPLAINT = str(uuid.uuid4())
DECISION: dict[str, Any] = {
    "complaint_id": COMPLAINT,
    "tracking_code": "4820193756",
    "category": "lighting",
    "department": "lighting",
    "priority": "normal",
    "confidence": 0.91,
    "classifier": "keywords-v1",
    "language": "fa",
    "due_at": NOW,
}
SAMPLES: dict[str, EventPayload] = {
    p.TYPE: p
    for p in (
        ComplaintSubmitted(
            complaint_id=COMPLAINT,
            tracking_code="4820193756",
            text="چراغ‌های کوچه ما سه شب است خاموش است",
            channel="web",
            language="fa",
            location=Location(lat=35.8327, lon=50.9915),
            media_urls=["https://example.org/a.jpg"],
            phone_sealed="sealed",
            phone_hash="hash",
            submitted_at=NOW,
        ),
        ComplaintRouted(**DECISION),
        ComplaintTriageNeeded(**{**DECISION, "department": "triage", "confidence": 0.31}),
        ComplaintStatusUpdated(
            complaint_id=COMPLAINT,
            tracking_code="4820193756",
            status="resolved",
            note="لامپ‌ها تعویض شد.",
            internal_note="crew 4",
            external_id="WO-88121",
            updated_at=NOW,
        ),
        NotificationSent(
            complaint_id=COMPLAINT,
            notification_id="n-1",
            cause_event_id="e-1",
            template="received",
            provider="log",
            segments=1,
            sent_at=NOW,
        ),
        NotificationFailed(
            complaint_id=COMPLAINT,
            notification_id="n-1",
            cause_event_id="e-1",
            template="received",
            provider="http",
            reason="HTTP 500",
            attempts=5,
        ),
        DeadLettered(
            reason="not JSON",
            topic=topics.SUBMITTED,
            partition=2,
            offset=41,
            key=COMPLAINT,
            value_b64="bm90IGpzb24=",
            failed_at=NOW,
            service="router",
        ),
    )
}
# Data that the schema and the pydantic model must both refuse.
INVALID: list[Any] = [
    pytest.param(ComplaintSubmitted, {"tracking_code": None}, id="submitted without tracking code"),
    pytest.param(ComplaintSubmitted, {"channel": "fax"}, id="submitted by fax"),
    pytest.param(ComplaintSubmitted, {"location": {"lat": 91, "lon": 51}}, id="submitted off the globe"),
    pytest.param(ComplaintSubmitted, {"secret": "x"}, id="submitted with an unknown field"),
    pytest.param(ComplaintRouted, {"confidence": 1.5}, id="routed with confidence over 1"),
    pytest.param(ComplaintRouted, {"priority": "whenever"}, id="routed with unknown priority"),
    pytest.param(
        ComplaintStatusUpdated, {"complaint_id": None, "tracking_code": None}, id="status names no complaint"
    ),
    pytest.param(ComplaintStatusUpdated, {"note": "ب" * 1001}, id="status note over 1000"),
    pytest.param(ComplaintStatusUpdated, {"status": "done"}, id="status unknown"),
    pytest.param(ComplaintStatusUpdated, {"tracking_code": "12345"}, id="status short tracking code"),
    pytest.param(ComplaintStatusUpdated, {"external_id": "WO 1"}, id="status external id with a space"),
    pytest.param(NotificationSent, {"segments": "one"}, id="sent segments not a number"),
    pytest.param(NotificationFailed, {"attempts": None}, id="failed without attempts"),
    pytest.param(DeadLettered, {"offset": None}, id="dead letter without offset"),
]
REQUIRED_TYPES = sorted(SAMPLES)


def data_of(payload: EventPayload) -> dict[str, Any]:
    return payload.model_dump(mode="json", exclude_none=True)


def contract_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "services" / "contracts"


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_committed_files_are_what_the_code_generates() -> None:
    stale = schemas.stale(contract_dir())

    assert stale == [], f"stale contract files {stale}: run `pasokh contracts export` and commit them"


def test_every_type_of_the_contract_has_a_published_schema() -> None:
    published = {m.TYPE for m in schemas.payload_types()}

    assert set(REQUIRED_TYPES) <= published
    for model in schemas.payload_types():
        schema = json.loads((contract_dir() / "schemas" / schemas.file_name(model)).read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == model.dataschema()
        assert schema["x-cloudevents-type"] == model.TYPE


@pytest.mark.parametrize("event_type", REQUIRED_TYPES)
def test_a_sample_event_fits_its_schema(event_type: str) -> None:
    payload = SAMPLES[event_type]
    schema = schemas.published(schemas.file_name(type(payload)))
    assert schema is not None

    validator(schema).validate(data_of(payload))


@pytest.mark.parametrize(("model", "changes"), INVALID)
def test_schema_and_model_refuse_the_same_bad_data(
    model: type[EventPayload], changes: dict[str, Any]
) -> None:
    data = {k: v for k, v in {**data_of(SAMPLES[model.TYPE]), **changes}.items() if v is not None}
    schema = schemas.published(schemas.file_name(model))
    assert schema is not None

    with pytest.raises(SchemaError):
        validator(schema).validate(data)
    with pytest.raises(ValidationError):
        model.model_validate(data)


def _registry() -> Registry:
    """Every schema file, found both by its path beside asyncapi.json and by its $id."""
    resources = []
    for path in sorted((contract_dir() / "schemas").glob("*.json")):
        resource = Resource.from_contents(json.loads(path.read_text()))
        resources += [(f"file:///contracts/schemas/{path.name}", resource), (resource.id() or "", resource)]
    return Registry().with_resources(resources)


@pytest.mark.parametrize("event_type", REQUIRED_TYPES)
def test_a_sample_kafka_message_fits_its_asyncapi_message(event_type: str) -> None:
    document = json.loads((contract_dir() / "asyncapi.json").read_text())
    payload = SAMPLES[event_type]
    key, value = to_kafka(new_event(payload, subject=COMPLAINT, source="/pasokh/test"))
    [topic] = [
        t
        for t, channel in document["channels"].items()
        if f"#/components/messages/{event_type}" in json.dumps(channel)
    ]
    message = document["components"]["messages"][event_type]
    envelope = {"$id": "file:///contracts/asyncapi.json", **message["payload"]["schema"]}
    check = Draft202012Validator(
        envelope, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )

    check.validate(json.loads(value))
    assert topic == schemas.topic_of(event_type)
    assert key.decode() == json.loads(value)["subject"]
    wrong = {**json.loads(value), "data": {**data_of(payload), "unexpected": 1}}
    with pytest.raises(SchemaError):
        check.validate(wrong)


def test_asyncapi_has_the_three_topics_and_each_type_once() -> None:
    document = json.loads((contract_dir() / "asyncapi.json").read_text())

    assert document["asyncapi"] == "3.0.0"
    assert [c["address"] for c in document["channels"].values()] == list(topics.ALL)
    by_topic = {c["address"]: set(c["messages"]) for c in document["channels"].values()}
    assert by_topic[topics.SUBMITTED] == {"org.pasokh.complaint.submitted"}
    assert by_topic[topics.DEADLETTER] == {"org.pasokh.deadletter"}
    assert set(REQUIRED_TYPES) - by_topic[topics.EVENTS] == {
        "org.pasokh.complaint.submitted",
        "org.pasokh.deadletter",
    }
    every = [t for types in by_topic.values() for t in types]
    assert sorted(every) == sorted(document["components"]["messages"]) == sorted(set(every))
    for event_type, message in document["components"]["messages"].items():
        assert message["contentType"] == "application/cloudevents+json"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        ref = message["payload"]["schema"]["properties"]["data"]["$ref"]
        assert (contract_dir() / ref).is_file(), ref
        assert json.loads((contract_dir() / ref).read_text())["x-cloudevents-type"] == event_type


def test_export_writes_and_check_fails_on_drift(tmp_path: Path) -> None:
    cli = CliRunner()
    root = str(tmp_path)
    routed = tmp_path / "schemas" / "org.pasokh.complaint.routed.v1.json"

    empty = cli.invoke(main, ["contracts", "export", "--check", "--dir", root])
    written = cli.invoke(main, ["contracts", "export", "--dir", root])
    clean = cli.invoke(main, ["contracts", "export", "--check", "--dir", root])
    routed.write_text(routed.read_text().replace('"maximum": 1.0', '"maximum": 2.0'))
    (tmp_path / "schemas" / "org.pasokh.complaint.renamed.v1.json").write_text("{}")
    drifted = cli.invoke(main, ["contracts", "export", "--check", "--dir", root])

    assert empty.exit_code == 1 and "stale: asyncapi.json" in empty.output
    assert written.exit_code == 0 and (tmp_path / "asyncapi.json").is_file()
    assert clean.exit_code == 0, clean.output
    assert drifted.exit_code == 1
    assert "stale: schemas/org.pasokh.complaint.routed.v1.json" in drifted.output
    assert "stale: schemas/org.pasokh.complaint.renamed.v1.json" in drifted.output


def test_a_new_version_is_exported_beside_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = CliRunner()
    root = str(tmp_path)
    cli.invoke(main, ["contracts", "export", "--dir", root])
    monkeypatch.setattr(ComplaintRouted, "VERSION", 2)

    bumped = cli.invoke(main, ["contracts", "export", "--check", "--dir", root])
    exported = cli.invoke(main, ["contracts", "export", "--dir", root])
    clean = cli.invoke(main, ["contracts", "export", "--check", "--dir", root])

    assert bumped.exit_code == 1 and "stale: schemas/org.pasokh.complaint.routed.v2.json" in bumped.output
    assert "routed.v1.json" not in bumped.output
    assert exported.exit_code == 0 and clean.exit_code == 0, clean.output
    v2 = json.loads((tmp_path / "schemas" / "org.pasokh.complaint.routed.v2.json").read_text())
    assert v2["$id"].endswith("/org.pasokh.complaint.routed/v2.json")
    assert (tmp_path / "schemas" / "org.pasokh.complaint.routed.v1.json").is_file()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # Never entered as a context manager: the lifespan does not run, nothing needs Kafka or MongoDB.
    settings = IntakeSettings(
        mongo={"uri": "mongodb://127.0.0.1:1/"}, kafka={"bootstrap_servers": "127.0.0.1:1"}
    )
    client = TestClient(create_app(bootstrap(settings, publisher=InMemoryPublisher())))
    yield client
    client.close()


def test_intake_serves_the_asyncapi_document_and_every_schema_it_names(client: TestClient) -> None:
    response = client.get("/asyncapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["channels"] == json.loads((contract_dir() / "asyncapi.json").read_text())["channels"]
    for event_type, message in document["components"]["messages"].items():
        ref = message["payload"]["schema"]["properties"]["data"]["$ref"]
        assert ref.startswith("/v1/schemas/"), ref
        schema = client.get(ref)
        assert schema.status_code == 200, ref
        assert schema.headers["content-type"].startswith("application/schema+json")
        assert schema.json()["x-cloudevents-type"] == event_type


def test_schemas_are_served_by_name_and_unknown_names_are_404(client: TestClient) -> None:
    with_suffix = client.get("/v1/schemas/org.pasokh.complaint.status-updated.v1.json")
    without = client.get("/v1/schemas/org.pasokh.complaint.status-updated.v1")
    inbound = client.get("/v1/schemas/partner.org.pasokh.complaint.submitted.v1.json")
    unknown = client.get("/v1/schemas/org.pasokh.complaint.nothing.v1.json")
    index = client.get("/v1/schemas").json()

    assert with_suffix.json() == without.json()
    assert with_suffix.json()["$id"] == ComplaintStatusUpdated.dataschema()
    assert "tracking_code" not in inbound.json()["properties"]
    assert set(inbound.json()["required"]) == {"text"}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert schemas.file_name(ComplaintSubmitted) in index["published"]
    assert "partner.org.pasokh.complaint.submitted.v1.json" in index["inbound"]
