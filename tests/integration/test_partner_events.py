"""POST /v1/events on the real Kafka and MongoDB: partner CloudEvents validated, deduplicated, published."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cloudevents.core.v1.event import CloudEvent
from jsonschema import Draft202012Validator
from kafka import KafkaConsumer, TopicPartition

from intake import auth, tracking
from intake.bootstrap import Intake
from services.bus import Publisher
from services.contracts import schemas, topics
from services.contracts.complaints import ComplaintStatusUpdated
from services.errors import DependencyUnavailable
from tests.support.kafka import read_topic

IntakeApp = tuple[httpx.AsyncClient, Intake]
SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SUBMITTED = "org.pasokh.complaint.submitted"
STATUS = "org.pasokh.complaint.status-updated"
KARAJ = {"lat": 35.8327, "lon": 50.9915}


def complaint_data(**changes: Any) -> dict[str, Any]:
    # A marker in the text finds this test's complaint on the shared topic.
    data = {"text": f"چراغ‌های کوچه ما خاموش است {uuid.uuid4().hex[:8]}", "location": KARAJ}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def event(event_type: str = SUBMITTED, data: Any = ..., **attributes: Any) -> dict[str, Any]:
    ce: dict[str, Any] = {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": f"/partners/test-{uuid.uuid4().hex[:8]}",
        "type": event_type,
        "datacontenttype": "application/json",
        "data": complaint_data() if data is ... else data,
    }
    ce.update(attributes)
    return {k: v for k, v in ce.items() if v is not ...}


def status_data(**changes: Any) -> dict[str, Any]:
    data = {
        "status": "in_progress",
        "note": "اکیپ برق به محل اعزام شد.",
        "internal_note": "crew 4, ladder truck",
        "external_id": "WO-2024-00117",
        "updated_at": "2024-03-21T14:05:00+03:30",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


async def new_key(intake: Intake, *scopes: str) -> dict[str, str]:
    key, _ = await auth.create_key(intake.store, name=f"partner {uuid.uuid4().hex[:6]}", scopes=scopes)
    return {"Authorization": f"Bearer {key}"}


async def post(
    client: httpx.AsyncClient, body: Any, headers: dict[str, str], content_type: str | None = None
) -> httpx.Response:
    media = content_type or (BATCH if isinstance(body, list) else SINGLE)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/v1/events", content=raw, headers={**headers, "Content-Type": media})


def message_count(servers: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=servers)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end, start = consumer.end_offsets(partitions), consumer.beginning_offsets(partitions)
        return sum(end.values()) - sum(start.values())
    finally:
        consumer.close()


async def on_topic(intake: Intake, topic: str, key: str) -> list[dict[str, Any]]:
    """The events on ``topic`` keyed ``key`` (waiting for the first)."""
    servers = intake.settings.kafka.servers()
    messages = await asyncio.to_thread(
        read_topic, servers, topic, until=lambda ms: any(k == key.encode() for k, _ in ms)
    )
    return [json.loads(v) for k, v in messages if k == key.encode()]


async def whole_topic(intake: Intake, topic: str) -> list[dict[str, Any]]:
    """Every event on ``topic`` up to what it holds now (all that was acknowledged before the call)."""
    servers = intake.settings.kafka.servers()
    total = await asyncio.to_thread(message_count, servers, topic)
    messages = await asyncio.to_thread(
        read_topic, servers, topic, until=lambda ms: len(ms) >= total, timeout=30
    )
    return [json.loads(v) for _, v in messages]


class FirstPublishFails(Publisher):
    """The real Kafka publisher, except that its first publish fails as an unacknowledged send does."""

    def __init__(self, real: Publisher) -> None:
        self.real = real
        self.failed = False

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if not self.failed:
            self.failed = True
            raise DependencyUnavailable("Kafka did not acknowledge the event (injected)")
        await self.real.publish(topic, event)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]["fa"] and error["message"]["en"]
    return error


async def test_one_submitted_event_lands_on_the_submitted_topic_with_a_tracking_code(
    intake_app: IntakeApp,
) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    ce = event(data=complaint_data(phone="09121234567", district="3", language="fa"))

    response = await post(client, ce, headers)

    assert response.status_code == 202, response.text
    result = response.json()
    assert set(result) == {"id", "source", "status", "complaint_id", "tracking_code"}
    assert (result["id"], result["source"], result["status"]) == (ce["id"], ce["source"], "accepted")
    assert tracking.is_valid(result["tracking_code"])
    [published] = await on_topic(intake, topics.SUBMITTED, result["complaint_id"])
    assert published["type"] == SUBMITTED and published["subject"] == result["complaint_id"]
    data = published["data"]
    assert data["tracking_code"] == result["tracking_code"]
    assert data["channel"] == "partner"
    assert data["text"] == ce["data"]["text"] and data["district"] == "3"
    assert "09121234567" not in json.dumps(published)
    status = await client.get(f"/v1/complaints/{result['tracking_code']}")
    assert status.status_code == 200 and status.json()["status"] == "received"


async def test_a_batch_of_submitted_events_each_gets_its_own_complaint(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    batch = [event() for _ in range(3)]

    response = await post(client, batch, headers)

    assert response.status_code == 202, response.text
    results = response.json()
    assert [(r["id"], r["status"]) for r in results] == [(e["id"], "accepted") for e in batch]
    assert len({r["tracking_code"] for r in results}) == 3
    for ce, result in zip(batch, results, strict=True):
        [published] = await on_topic(intake, topics.SUBMITTED, result["complaint_id"])
        assert published["data"]["text"] == ce["data"]["text"]
        assert published["data"]["tracking_code"] == result["tracking_code"]


async def test_a_repeated_source_and_id_is_published_once(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    other_partner = await new_key(intake, "complaints:write")
    ce = event()
    same_id_other_source = {**ce, "source": ce["source"] + "-b", "data": complaint_data()}

    first = await post(client, ce, headers)
    again = await post(client, ce, headers)
    in_a_batch = await post(client, [same_id_other_source, ce, same_id_other_source], headers)
    from_another_key = await post(client, ce, other_partner)

    accepted = first.json()
    assert accepted["status"] == "accepted"
    assert again.status_code == 202
    assert again.json() == {**accepted, "status": "duplicate"}
    assert [r["status"] for r in in_a_batch.json()] == ["accepted", "duplicate", "duplicate"]
    assert in_a_batch.json()[1]["tracking_code"] == accepted["tracking_code"]
    assert in_a_batch.json()[0]["tracking_code"] != accepted["tracking_code"]
    # Another partner's key learns that the event exists, not which complaint it became.
    assert from_another_key.json() == {"id": ce["id"], "source": ce["source"], "status": "duplicate"}
    marker = ce["data"]["text"]
    published = [e for e in await whole_topic(intake, topics.SUBMITTED) if e["data"]["text"] == marker]
    assert [e["subject"] for e in published] == [accepted["complaint_id"]]
    claim = await intake.store.db["partner_events"].find_one({"_id": f"{ce['source']}\x1f{ce['id']}"})
    assert claim is not None and claim["state"] == "done"


async def test_status_update_by_tracking_code_lands_on_the_events_topic(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    submitter = await new_key(intake, "complaints:write")
    work_orders = await new_key(intake, "events:write")
    submitted = (await post(client, event(), submitter)).json()
    ce = event(STATUS, status_data(tracking_code=submitted["tracking_code"]))

    response = await post(client, ce, work_orders)

    assert response.status_code == 202, response.text
    assert response.json() == {
        "id": ce["id"],
        "source": ce["source"],
        "status": "accepted",
        "complaint_id": submitted["complaint_id"],
        "tracking_code": submitted["tracking_code"],
    }
    [update] = [
        e for e in await on_topic(intake, topics.EVENTS, submitted["complaint_id"]) if e["type"] == STATUS
    ]
    assert update["subject"] == submitted["complaint_id"]
    assert update["dataschema"] == ComplaintStatusUpdated.dataschema()
    assert update["data"] == {
        **ce["data"],
        "complaint_id": submitted["complaint_id"],
        "tracking_code": submitted["tracking_code"],
        "updated_at": "2024-03-21T14:05:00+03:30",
    }
    schema = schemas.published(schemas.file_name(ComplaintStatusUpdated))
    assert schema is not None
    Draft202012Validator(schema).validate(update["data"])


async def test_status_update_for_an_unknown_complaint_is_404(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "events:write")
    unknown = tracking.new_code()

    by_code = await post(client, event(STATUS, status_data(tracking_code=unknown)), headers)
    by_id = await post(client, event(STATUS, status_data(complaint_id=str(uuid.uuid4()))), headers)

    assert assert_error(by_code, 404, "complaint_not_found")["details"] == {"tracking_code": unknown}
    assert_error(by_id, 404, "complaint_not_found")
    assert await intake.store.db["partner_events"].count_documents({}) == 0


LONG = "ب" * 1001
SCHEMA_VIOLATIONS = [
    pytest.param(SUBMITTED, complaint_data(text=...), "data", "'text' is a required property", id="no text"),
    pytest.param(SUBMITTED, complaint_data(text=""), "data.text", "must not be empty", id="empty text"),
    pytest.param(
        SUBMITTED, complaint_data(location={"lat": 95, "lon": 51}), "data.location.lat",
        "95 is greater than the maximum of 90", id="latitude out of range",
    ),
    pytest.param(
        SUBMITTED, complaint_data(channel="web"), "data",
        "Additional properties are not allowed ('channel' was unexpected)", id="unknown field",
    ),
    pytest.param(
        SUBMITTED, "a string", "data", "'a string' is not of type 'object'", id="data not an object"
    ),
    pytest.param(
        SUBMITTED, complaint_data(phone="02112345678"), "data.phone",
        "Value error, not an Iranian mobile number", id="landline (model, not schema)",
    ),
    pytest.param(
        STATUS, status_data(), "data", "needs at least one of: complaint_id, tracking_code",
        id="names no complaint",
    ),
    pytest.param(
        STATUS, status_data(tracking_code="1234567897", note=LONG), "data.note",
        "is longer than 1000 characters", id="note over 1000",
    ),
    pytest.param(
        STATUS, status_data(tracking_code="1234567897", status="done"), "data.status",
        "must be one of: acknowledged, in_progress, resolved, rejected", id="unknown status",
    ),
    pytest.param(
        STATUS, status_data(tracking_code="1234567897", updated_at=...), "data",
        "'updated_at' is a required property", id="no updated_at",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("event_type", "data", "field", "problem"), SCHEMA_VIOLATIONS)
async def test_data_must_match_the_schema_of_its_type(
    intake_app: IntakeApp, event_type: str, data: Any, field: str, problem: str
) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write", "events:write")

    response = await post(client, event(event_type, data), headers)

    error = assert_error(response, 422, "invalid_event_data")
    assert {"field": field, "problem": problem} in error["details"], error["details"]
    assert await intake.store.db["partner_events"].count_documents({}) == 0


@pytest.mark.parametrize(
    ("attributes", "status", "code", "details"),
    [
        pytest.param(
            {"type": "org.pasokh.complaint.resolved"},
            422,
            "unknown_event_type",
            {"type": "org.pasokh.complaint.resolved", "accepted": sorted([SUBMITTED, STATUS])},
            id="unknown type",
        ),
        pytest.param(
            {"specversion": "0.3"},
            422,
            "unsupported_specversion",
            [{"field": "specversion", "problem": "is '0.3', not '1.0'"}],
            id="specversion 0.3",
        ),
        pytest.param(
            {"id": ..., "source": ""},
            422,
            "invalid_cloudevent",
            [
                {"field": "id", "problem": "is required (a non-empty string)"},
                {"field": "source", "problem": "is required (a non-empty string)"},
            ],
            id="no id, empty source",
        ),
        pytest.param(
            {"datacontenttype": "text/plain"},
            422,
            "invalid_cloudevent",
            [{"field": "datacontenttype", "problem": "must be application/json (or another JSON type)"}],
            id="text/plain data",
        ),
        pytest.param(
            {"time": "yesterday"},
            422,
            "invalid_cloudevent",
            [{"field": "time", "problem": "must be an RFC 3339 timestamp"}],
            id="bad time",
        ),
    ],
)
async def test_envelope_is_checked(
    intake_app: IntakeApp, attributes: dict[str, Any], status: int, code: str, details: Any
) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")

    response = await post(client, event(**attributes), headers)

    assert assert_error(response, status, code)["details"] == details


async def test_a_batch_over_100_events_is_refused_whole(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    batch = [event(data={"text": "x", "district": "1"}) for _ in range(101)]

    too_many = await post(client, batch, headers)

    assert assert_error(too_many, 413, "batch_too_large")["details"] == {"max_events": 100, "events": 101}
    assert await intake.store.db["partner_events"].count_documents({}) == 0
    hundred = await post(client, batch[:100], headers)
    assert hundred.status_code == 202 and len(hundred.json()) == 100


async def test_a_key_is_required(intake_app: IntakeApp) -> None:
    client, intake = intake_app

    missing = await post(client, event(), {})
    wrong = await post(client, event(), {"X-API-Key": "pk_000000000000_nope"})

    for response in (missing, wrong):
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await intake.store.db["partner_events"].count_documents({}) == 0


async def test_each_type_needs_its_scope(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    reader = await new_key(intake, "complaints:read")
    work_orders = await new_key(intake, "events:write")
    key, _ = await auth.create_key(intake.store, name="137", scopes=["complaints:write"])
    by_x_api_key = {"X-API-Key": key}

    no_scope = await post(client, event(), reader)
    submitted_with_events_key = await post(client, event(), work_orders)
    status_with_complaints_key = await post(
        client, event(STATUS, status_data(tracking_code="1234567897")), by_x_api_key
    )
    mixed = await post(
        client, [event(), event(STATUS, status_data(tracking_code="1234567897"))], by_x_api_key
    )

    assert_error(no_scope, 403, "forbidden")
    assert assert_error(submitted_with_events_key, 403, "forbidden")["details"] == {
        "type": SUBMITTED,
        "scope": "complaints:write",
    }
    assert assert_error(status_with_complaints_key, 403, "forbidden")["details"]["scope"] == "events:write"
    assert [r["status"] for r in mixed.json()] == ["accepted", "rejected"]
    assert mixed.json()[1]["error"]["code"] == "forbidden"


async def test_a_mixed_batch_answers_per_event(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write", "events:write")
    good, later_good = event(), event()
    batch = [
        good,
        event(specversion="2.0"),
        event(type="com.example.unknown"),
        event(data=complaint_data(text=...)),
        42,
        {**good, "data": complaint_data()},  # the same source + id again
        event(STATUS, status_data(tracking_code=tracking.new_code())),
        later_good,
    ]

    response = await post(client, batch, headers)

    assert response.status_code == 202, response.text
    results = response.json()
    assert [(r["status"], r.get("error", {}).get("code")) for r in results] == [
        ("accepted", None),
        ("rejected", "unsupported_specversion"),
        ("rejected", "unknown_event_type"),
        ("rejected", "invalid_event_data"),
        ("rejected", "invalid_cloudevent"),
        ("duplicate", None),
        ("rejected", "complaint_not_found"),
        ("accepted", None),
    ]
    assert [r["id"] for r in results] == [e["id"] if isinstance(e, dict) else None for e in batch]
    assert results[3]["error"]["details"] == [{"field": "data", "problem": "'text' is a required property"}]
    assert set(results[1]["error"]["message"]) == {"fa", "en"}
    assert results[5]["complaint_id"] == results[0]["complaint_id"]
    for result in (results[0], results[-1]):
        assert await on_topic(intake, topics.SUBMITTED, result["complaint_id"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        pytest.param(b"{}", "application/json", 415, "unsupported_media_type", id="plain json"),
        pytest.param(b'{"specversion": ', SINGLE, 400, "invalid_json", id="truncated json"),
        pytest.param(b'{"x": NaN}', SINGLE, 400, "invalid_json", id="NaN"),
        pytest.param(b"[" * 30000 + b"]" * 30000, BATCH, 400, "invalid_json", id="nested too deep"),
        pytest.param(b"[]", SINGLE, 422, "invalid_cloudevent", id="array as one event"),
        pytest.param(b"{}", BATCH, 422, "invalid_batch", id="object as a batch"),
    ],
)
async def test_the_request_must_be_structured_cloudevents(
    intake_app: IntakeApp, body: bytes, content_type: str, status: int, code: str
) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")

    assert_error(await post(client, body, headers, content_type), status, code)


async def test_an_empty_batch_is_an_empty_answer(intake_app: IntakeApp) -> None:
    client, intake = intake_app

    response = await post(client, [], await new_key(intake, "complaints:write"))

    assert (response.status_code, response.json()) == (202, [])


async def test_a_failed_publish_releases_the_claim_so_a_retry_succeeds(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    ce = event()
    real = intake.publisher
    intake.publisher = FirstPublishFails(real)
    try:
        failed = await post(client, ce, headers)
        claims_after_failure = await intake.store.db["partner_events"].count_documents({})
        retried = await post(client, ce, headers)
    finally:
        intake.publisher = real  # so that the fixture stops the real producer

    assert_error(failed, 503, "unavailable")
    assert claims_after_failure == 0
    assert retried.status_code == 202 and retried.json()["status"] == "accepted"
    assert await on_topic(intake, topics.SUBMITTED, retried.json()["complaint_id"])


async def test_a_claim_in_progress_is_409_until_it_goes_stale(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    headers = await new_key(intake, "complaints:write")
    fresh, stale = event(), event()
    now = datetime.now(UTC)
    for ce, at in ((fresh, now), (stale, now - timedelta(minutes=10))):
        await intake.store.db["partner_events"].insert_one(
            {"_id": f"{ce['source']}\x1f{ce['id']}", "state": "pending", "claim": "dead", "claimed_at": at}
        )

    in_progress = await post(client, fresh, headers)
    taken_over = await post(client, stale, headers)

    assert_error(in_progress, 409, "event_in_progress")
    assert taken_over.status_code == 202 and taken_over.json()["status"] == "accepted"
