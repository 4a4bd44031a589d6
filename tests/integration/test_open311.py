"""Open311 GeoReport v2 (+ mySociety's servicerequestupdates) on the real Kafka and MongoDB-wire server.

Field names, types and element names are those of wiki.open311.org/GeoReport_v2, its Service
Discovery page and mySociety's "Open311 FMS - Proposed differences to Open311".
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from intake import auth, tracking
from intake.bootstrap import Intake
from pasokh.infra.local import LocalInfra
from services import records
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.store import Store
from tests.factories import submitted
from tests.support.kafka import read_topic

IntakeApp = tuple[httpx.AsyncClient, Intake]
V2 = "/open311/v2"
FORMATS = ("json", "xml")
W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TEHRAN = {"lat": "35.7219", "long": "51.3347"}

SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
CREATED_FIELDS = ["service_request_id", "service_notice", "account_id"]
UPDATE_FIELDS = ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]
DISCOVERY_FIELDS = ["changeset", "contact", "key_service", "endpoints"]
ENDPOINT_FIELDS = ["specification", "url", "changeset", "type", "formats"]

# The submitter's personal data: none of it may come back from any Open311 response.
PHONE, PHONE_DIGITS = "0912 345 6789", "9123456789"
FIRST, LAST, EMAIL = "Kourosh", "Farahmandpour", "kourosh.f@example.org"


# ---------------------------------------------------------------- helpers


def xml(response: httpx.Response) -> ET.Element:
    """The parsed XML body, after checking the spec's content type and declaration."""
    assert response.headers["content-type"] == "text/xml; charset=utf-8", response.text
    declaration = response.content.split(b"?>", 1)[0].lower()
    assert declaration.startswith(b"<?xml") and b"encoding='utf-8'" in declaration.replace(b'"', b"'")
    return ET.fromstring(response.content)


def json_body(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/json; charset=utf-8", response.text
    return response.json()


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def flat(element: ET.Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in element}


def assert_errors(response: httpx.Response, fmt: str, status: int, *words: str) -> str:
    """The spec's error document with ``status``; returns the description."""
    assert response.status_code == status, response.text
    if fmt == "json":
        body = json_body(response)
        assert isinstance(body, list) and len(body) >= 1
        assert all(set(error) == {"code", "description"} for error in body)
        assert isinstance(body[0]["code"], int)
        description = str(body[0]["description"])
    else:
        root = xml(response)
        assert root.tag == "errors" and tags(root) and set(tags(root)) == {"error"}
        assert all(tags(error) == ["code", "description"] for error in root)
        int(root[0].findtext("code") or "")
        description = root[0].findtext("description") or ""
    assert description.strip()
    for word in words:
        assert word in description, description
    return description


async def partner_key(intake: Intake, *scopes: str, departments: Iterable[str] = ()) -> str:
    key, _ = await auth.create_key(
        intake.store, name=f"partner {uuid.uuid4().hex[:6]}", scopes=scopes, departments=departments
    )
    return key


def form(**fields: Any) -> dict[str, Any]:
    """A valid POST requests body for roads, changed by ``fields`` (None removes one)."""
    body: dict[str, Any] = {
        "service_code": "roads",
        **TEHRAN,
        "description": f"چاله بزرگ وسط خیابان {uuid.uuid4().hex[:8]}",
        "attribute[hazard_size]": "large",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


async def post_request(
    client: httpx.AsyncClient, fmt: str, data: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.post(f"{V2}/requests.{fmt}", data=data, headers=headers)


def routed_for(sub: ComplaintSubmitted, category: str, department: str, due: datetime) -> ComplaintRouted:
    return ComplaintRouted(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        category=category,
        department=department,
        priority="normal",
        confidence=0.9,
        classifier="keywords-v1",
        language="fa",
        due_at=due,
    )


async def routed(
    store: Store,
    *,
    category: str = "lighting",
    department: str = "lighting",
    at: datetime | None = None,
    **extra: Any,
) -> ComplaintSubmitted:
    """A complaint the router has routed (submitted ``at``, decided a minute later)."""
    at = records.store_precision(at or datetime.now(UTC) - timedelta(hours=2))
    sub = submitted(submitted_at=at, **extra)
    await records.apply_decision(
        store,
        sub,
        routed_for(sub, category, department, at + timedelta(hours=48)),
        submitted_event_id=f"s-{sub.complaint_id}",
        decision_event_id=f"d-{sub.complaint_id}",
        status="routed",
        at=at + timedelta(minutes=1),
    )
    return sub


async def resolve(store: Store, sub: ComplaintSubmitted, note: str, at: datetime) -> str:
    """Apply a resolution the way the router applies staff actions; returns its event id."""
    event_id = f"r-{sub.complaint_id}"
    entry = {
        **records.timeline_entry("resolved", at, event_id=event_id, note=note),
        "actor_id": "k1",
        "actor_name": FIRST,
    }
    assert await records.apply_event(
        store,
        sub.complaint_id,
        event_id=event_id,
        entry=entry,
        fields={"status": "resolved", "updated_at": at},
    )
    return event_id


def bare(at: datetime, **extra: Any) -> dict[str, Any]:
    """A minimal received record, for volume and date tests."""
    code = tracking.new_code()
    return {
        "_id": str(uuid.uuid4()),
        "tracking_code": code,
        "text": "سطل زباله پر است",
        "channel": "web",
        "status": "received",
        "created_at": at,
        "timeline": [records.timeline_entry("received", at, event_id=code)],
        **extra,
    }


async def request_ids(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get(f"{V2}/requests.json", params=params)
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in json_body(response)]


# ---------------------------------------------------------------- discovery and services


async def test_discovery_names_this_endpoint_in_both_formats(intake_app: IntakeApp) -> None:
    client, _ = intake_app

    doc = json_body(await client.get(f"{V2}/discovery.json"))
    root = xml(await client.get(f"{V2}/discovery.xml"))

    assert list(doc) == DISCOVERY_FIELDS
    assert all(isinstance(doc[f], str) and doc[f] for f in ("changeset", "contact", "key_service"))
    [endpoint] = doc["endpoints"]
    assert list(endpoint) == ENDPOINT_FIELDS
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://intake.test/open311/v2"
    assert endpoint["type"] in ("production", "test")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert root.tag == "discovery" and tags(root) == DISCOVERY_FIELDS
    assert tags(root.find("endpoints")) == ["endpoint"]  # type: ignore[arg-type]
    xml_endpoint = root.find("endpoints/endpoint")
    assert xml_endpoint is not None and tags(xml_endpoint) == ENDPOINT_FIELDS
    assert [f.text for f in xml_endpoint.iterfind("formats/format")] == endpoint["formats"]
    assert xml_endpoint.findtext("url") == endpoint["url"]


async def test_service_list_has_every_category_with_the_spec_fields(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    taxonomy = intake.taxonomy

    services = json_body(await client.get(f"{V2}/services.json"))
    root = xml(await client.get(f"{V2}/services.xml"))

    assert [s["service_code"] for s in services] == list(taxonomy.categories)
    for service in services:
        assert list(service) == SERVICE_FIELDS
        category = taxonomy.category(service["service_code"])
        assert service["metadata"] is bool(category.attributes)
        assert service["type"] == "realtime"
        assert service["service_name"] == category.fa  # Persian unless asked otherwise
        assert service["group"] == taxonomy.department(category.department).fa
        assert all(isinstance(service[f], str) for f in ("description", "keywords", "group"))
    assert {s["service_code"] for s in services if s["metadata"]} == {"roads", "waste", "lighting", "animals"}
    assert "چاله" in next(s for s in services if s["service_code"] == "roads")["keywords"].split(", ")
    assert root.tag == "services" and set(tags(root)) == {"service"} and len(root) == len(services)
    for element, service in zip(root, services, strict=True):
        assert tags(element) == SERVICE_FIELDS
        assert flat(element)["metadata"] == ("true" if service["metadata"] else "false")
        assert flat(element)["service_name"] == service["service_name"]


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        ({}, {}, "fa"),
        ({"locale": "en"}, {}, "en"),
        ({"locale": "en_US"}, {"Accept-Language": "fa"}, "en"),
        ({}, {"Accept-Language": "en-GB,en;q=0.9"}, "en"),
        ({}, {"Accept-Language": "en;q=0.4, fa;q=0.8"}, "fa"),
        ({"locale": "fa_IR"}, {"Accept-Language": "en"}, "fa"),
        ({}, {"Accept-Language": "de-DE"}, "fa"),
    ],
)
async def test_names_follow_locale_then_accept_language(
    intake_app: IntakeApp, query: dict[str, str], headers: dict[str, str], language: str
) -> None:
    client, intake = intake_app

    response = await client.get(f"{V2}/services.json", params=query, headers=headers)
    definition = json_body(await client.get(f"{V2}/services/roads.json", params=query, headers=headers))

    roads = intake.taxonomy.category("roads")
    [service] = [s for s in json_body(response) if s["service_code"] == "roads"]
    assert service["service_name"] == getattr(roads, language)
    assert response.headers["content-language"] == language
    hazard = definition["attributes"][0]
    assert hazard["description"] == getattr(roads.attributes[0].description, language)
    assert hazard["values"][0]["name"] == getattr(roads.attributes[0].values[0], language)


async def test_service_definition_lists_attributes_with_the_spec_fields(intake_app: IntakeApp) -> None:
    client, intake = intake_app

    roads = json_body(await client.get(f"{V2}/services/roads.json"))
    root = xml(await client.get(f"{V2}/services/roads.xml"))

    assert list(roads) == ["service_code", "attributes"] and roads["service_code"] == "roads"
    assert [a["code"] for a in roads["attributes"]] == ["hazard_size", "surface"]
    for attribute in roads["attributes"]:
        assert list(attribute) == ATTRIBUTE_FIELDS
        assert attribute["variable"] is True and isinstance(attribute["required"], bool)
        assert isinstance(attribute["order"], int) and attribute["order"] >= 1
        assert attribute["datatype"] in DATATYPES
        assert all(
            list(v) == ["key", "name"] and all(isinstance(x, str) for x in v.values())
            for v in attribute["values"]
        )
    hazard, surface = roads["attributes"]
    assert (hazard["datatype"], hazard["required"], surface["datatype"], surface["required"]) == (
        "singlevaluelist",
        True,
        "multivaluelist",
        False,
    )
    assert [v["key"] for v in hazard["values"]] == ["small", "medium", "large"]
    assert hazard["datatype_description"] is None
    assert root.tag == "service_definition" and tags(root) == ["service_code", "attributes"]
    xml_attributes = root.findall("attributes/attribute")
    assert [tags(a) for a in xml_attributes] == [ATTRIBUTE_FIELDS, ATTRIBUTE_FIELDS]
    assert flat(xml_attributes[0])["required"] == "true" and flat(xml_attributes[0])["order"] == "1"
    assert [tags(v) for v in xml_attributes[0].iterfind("values/value")] == [["key", "name"]] * 3
    assert [v.findtext("key") for v in xml_attributes[0].iterfind("values/value")] == [
        "small",
        "medium",
        "large",
    ]
    # Across the city's definitions every datatype of the spec is used; only lists have values.
    seen: set[str] = set()
    for code in ("roads", "waste", "lighting", "animals"):
        for attribute in json_body(await client.get(f"{V2}/services/{code}.json"))["attributes"]:
            seen.add(attribute["datatype"])
            assert bool(attribute["values"]) is (
                attribute["datatype"] in ("singlevaluelist", "multivaluelist")
            )
    assert seen == DATATYPES
    # A service without attributes still has a (empty) definition.
    assert json_body(await client.get(f"{V2}/services/other.json")) == {
        "service_code": "other",
        "attributes": [],
    }
    # A string attribute has an empty <values/>, in its place.
    pole = xml(await client.get(f"{V2}/services/lighting.xml")).find("attributes/attribute")
    assert pole is not None and pole.findtext("datatype") == "string"
    assert tags(pole) == ATTRIBUTE_FIELDS and len(pole.find("values")) == 0  # type: ignore[arg-type]
    assert intake.taxonomy.category("lighting").attributes[0].code == pole.findtext("code")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_what_does_not_exist_is_404_in_the_spec_error_format(intake_app: IntakeApp, fmt: str) -> None:
    client, _ = intake_app

    assert_errors(await client.get(f"{V2}/services/potholes.{fmt}"), fmt, 404, "potholes")
    assert_errors(await client.get(f"{V2}/requests/1234567890.{fmt}"), fmt, 404, "1234567890")
    assert_errors(await client.get(f"{V2}/requests/{tracking.new_code()}.{fmt}"), fmt, 404)
    assert_errors(await client.get(f"{V2}/tokens/{uuid.uuid4()}.{fmt}"), fmt, 404)
    assert_errors(await client.get(f"{V2}/nothing-here.{fmt}"), fmt, 404)
    # An unknown format: the resource does not exist; answered in XML, the spec's required format.
    assert_errors(await client.get(f"{V2}/services.csv"), "xml", 404, "csv")
    assert_errors(await client.get(f"{V2}/services"), "xml", 404)


# ---------------------------------------------------------------- POST requests


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_without_a_valid_key_is_403_and_records_nothing(intake_app: IntakeApp, fmt: str) -> None:
    client, intake = intake_app
    reader = await partner_key(intake, "complaints:read")
    revoked = await partner_key(intake, "complaints:write")
    await auth.revoke(intake.store, revoked.split("_")[1])

    assert_errors(await post_request(client, fmt, form()), fmt, 403, "api_key")
    assert_errors(await post_request(client, fmt, form(api_key="pk_nosuch_key")), fmt, 403, "api_key")
    assert_errors(await post_request(client, fmt, form(api_key=revoked)), fmt, 403, "api_key")
    assert_errors(await post_request(client, fmt, form(api_key=reader)), fmt, 403, "complaints:write")
    # A missing key is refused before anything else is looked at.
    assert_errors(await post_request(client, fmt, {"service_code": "nope"}), fmt, 403)

    assert await intake.store.complaints.count_documents({}) == 0


async def test_posted_request_is_on_kafka_and_reads_back_without_personal_data(
    intake_app: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = intake_app
    key = await partner_key(intake, "complaints:write")
    data = form(
        api_key=key,
        jurisdiction_id="tehran.ir",
        description="چاله بزرگ جلوی پلاک ۱۲؛ با ۰۹۳۵۱۱۱۲۲۳۳ یا me@example.net تماس بگیرید",
        address_string="خیابان انقلاب، نبش خیابان فلسطین",
        email=EMAIL,
        device_id="device-7f3a",
        account_id="acct-991",
        first_name=FIRST,
        last_name=LAST,
        phone=PHONE,
        media_url="https://cdn.example.org/photos/pothole.jpg",
        **{"attribute[hazard_size]": "large", "attribute[surface][]": ["roadway", "curb"]},
    )

    response = await post_request(client, "json", data)

    assert response.status_code == 200, response.text
    [created] = json_body(response)
    assert list(created) == CREATED_FIELDS and "token" not in created
    code = created["service_request_id"]
    assert isinstance(code, str) and tracking.is_valid(code)
    assert created["account_id"] == "acct-991"
    assert "۷۲" in created["service_notice"]  # the category's 72-hour target, in Persian
    messages = read_topic(
        infra.bootstrap_servers, topics.SUBMITTED, until=lambda m: any(code.encode() in v for _, v in m)
    )
    [(kafka_key, value)] = [(k, v) for k, v in messages if code.encode() in v]
    event = json.loads(value)
    assert event["type"] == "org.pasokh.complaint.submitted" and kafka_key == event["subject"].encode()
    payload = event["data"]
    assert payload["tracking_code"] == code and payload["channel"] == "partner"
    assert payload["category_hint"] == "roads"
    assert payload["attributes"] == {"hazard_size": "large", "surface": ["roadway", "curb"]}
    assert payload["location"] == {"lat": 35.7219, "lon": 51.3347}
    assert payload["media_urls"] == ["https://cdn.example.org/photos/pothole.jpg"]
    assert payload["phone_sealed"] and PHONE_DIGITS not in value.decode()
    for private in (FIRST, LAST, EMAIL, "device-7f3a", "acct-991"):
        assert private not in value.decode()
    stored = await intake.store.complaints.find_one({"tracking_code": code})
    assert stored is not None and stored["attributes"] == payload["attributes"]
    assert stored["status"] == "received" and stored["channel"] == "partner"

    one_json = await client.get(f"{V2}/requests/{code}.json")
    one_xml = await client.get(f"{V2}/requests/{code}.xml")
    listed = await client.get(f"{V2}/requests.json", params={"service_request_id": code})
    [seen] = json_body(one_json)
    assert json_body(listed) == [seen]
    assert seen["service_code"] == "roads" and seen["status"] == "open"
    assert seen["address"] == "خیابان انقلاب، نبش خیابان فلسطین"
    assert seen["media_url"] == "https://cdn.example.org/photos/pothole.jpg"
    assert seen["lat"] == 35.7219 and seen["long"] == 51.3347
    # What the citizen wrote is public, but not a phone number or an e-mail address written into it.
    assert seen["description"] == "چاله بزرگ جلوی پلاک 12؛ با *** یا *** تماس بگیرید"
    assert xml(one_xml).find("request/service_request_id").text == code  # type: ignore[union-attr]
    for text in (response.text, one_json.text, one_xml.text, listed.text):
        for private in (PHONE_DIGITS, "1112233", "me@example.net", FIRST, LAST, EMAIL, "device-7f3a"):
            assert private not in text


async def test_post_answers_in_xml_and_accepts_an_address_id_without_description(
    intake_app: IntakeApp,
) -> None:
    client, intake = intake_app
    key = await partner_key(intake, "complaints:write")
    data = {
        "api_key": key,
        "service_code": "waste",
        "address_id": "1968913341",
        "attribute[waste_type]": "bulky",
        "attribute[bags]": "۳",
        "description": "",
    }

    response = await post_request(client, "xml", data)

    root = xml(response)
    assert response.status_code == 200 and root.tag == "service_requests"
    [request] = root
    assert request.tag == "request" and tags(request) == CREATED_FIELDS
    assert flat(request)["account_id"] == ""
    code = flat(request)["service_request_id"]
    [seen] = json_body(await client.get(f"{V2}/requests/{code}.json", params={"locale": "en"}))
    assert seen["address_id"] == "1968913341" and seen["lat"] is None and seen["long"] is None
    assert seen["description"] == intake.taxonomy.category("waste").fa  # the name stands in for words
    assert seen["service_name"] == intake.taxonomy.category("waste").en
    stored = await intake.store.complaints.find_one({"tracking_code": code})
    assert stored is not None and stored["attributes"]["bags"] == "3"


async def test_post_validates_like_the_native_api_and_records_nothing(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    key = await partner_key(intake, "complaints:write")
    lights = {"service_code": "lighting", **TEHRAN, "description": "چراغ خاموش است"}
    bad: list[tuple[dict[str, Any], int, str]] = [
        (form(service_code=None), 400, "service_code"),
        (form(service_code="potholes"), 404, "potholes"),
        (form(lat=None, long=None), 400, "location"),
        (form(long=None), 400, "lat and long"),
        (form(lat="north"), 400, "lat"),
        (form(lat="95"), 400, "lat"),
        (form(lat="10.5", long="10.5"), 400, "city"),
        (form(phone="12345"), 400, "phone"),
        (form(email="not-an-address"), 400, "email"),
        (form(description="x" * 4001), 400, "description"),
        (form(media_url="ftp://example.org/a.jpg"), 400, "media_url"),
        (form(**{"attribute[hazard_size]": None}), 400, "attribute[hazard_size]"),
        (form(**{"attribute[hazard_size]": "enormous"}), 400, "enormous"),
        (form(**{"attribute[hazard_size]": ["small", "large"]}), 400, "one value"),
        (form(**{"attribute[surface][]": ["roadway", "river"]}), 400, "river"),
        (form(**{"attribute[colour]": "red"}), 400, "attribute[colour]"),
        ({**lights, "attribute[out_since]": "yesterday"}, 400, "attribute[out_since]"),
        ({**lights, "attribute[out_since]": "2024-01-31T20:00:00"}, 400, "time zone"),
        ({**lights, "attribute[pole_number]": "LP-1\nLP-2"}, 400, "line breaks"),
        (
            {
                **form(service_code="waste", **{"attribute[hazard_size]": None}),
                "attribute[waste_type]": "bulky",
                "attribute[bags]": "many",
            },
            400,
            "number",
        ),
        (form(first_name="x" * 101), 400, "first_name"),
        (form(description="bad \x01 byte"), 400, "control"),
    ]

    for data, status, words in bad:
        response = await post_request(client, "json", {**data, "api_key": key})
        assert_errors(response, "json", status, words)
    response = await client.post(
        f"{V2}/requests.json", json={**form(), "api_key": key}, headers={"Content-Type": "application/json"}
    )
    assert_errors(response, "json", 400, "x-www-form-urlencoded")

    assert await intake.store.complaints.count_documents({}) == 0


async def test_post_with_an_idempotency_key_is_submitted_once(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    key = await partner_key(intake, "complaints:write")
    data = form(api_key=key)

    first = await post_request(client, "json", data, **{"Idempotency-Key": "call-centre-0001"})
    again = await post_request(client, "json", data, **{"Idempotency-Key": "call-centre-0001"})
    other = await post_request(client, "json", form(api_key=key), **{"Idempotency-Key": "call-centre-0001"})

    assert first.status_code == again.status_code == 200
    assert json_body(again) == json_body(first) and again.headers["idempotent-replayed"] == "true"
    assert_errors(other, "json", 400)
    assert await intake.store.complaints.count_documents({}) == 1


# ---------------------------------------------------------------- GET requests


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_carry_every_spec_field_with_its_type(intake_app: IntakeApp, fmt: str) -> None:
    client, intake = intake_app
    now = datetime.now(UTC)
    lights = await routed(
        intake.store,
        at=now - timedelta(hours=3),
        location={"lat": 35.70, "lon": 51.40},
        address="میدان ولیعصر",
        media_urls=["https://cdn.example.org/l.jpg"],
    )
    fixed = await routed(
        intake.store, at=now - timedelta(hours=2), category="roads", department="civil-works"
    )
    resolved_at = records.store_precision(now - timedelta(minutes=5))
    await resolve(intake.store, fixed, "چاله با آسفالت پر شد.", resolved_at)

    response = await client.get(f"{V2}/requests.{fmt}", params={"locale": "en"})

    if fmt == "json":
        requests = json_body(response)
        for request in requests:
            assert list(request) == REQUEST_FIELDS
    else:
        root = xml(response)
        assert root.tag == "service_requests" and set(tags(root)) == {"request"}
        assert all(tags(r) == REQUEST_FIELDS for r in root)
        requests = [flat(r) for r in root]
    assert [r["service_request_id"] for r in requests] == [fixed.tracking_code, lights.tracking_code]
    done, light = requests
    assert (done["status"], light["status"]) == ("closed", "open")
    assert done["status_notes"] == "چاله با آسفالت پر شد."
    assert light["status_notes"] in (None, "")
    assert light["service_code"] == "lighting" and light["service_name"] == "Street and park lights"
    assert light["agency_responsible"] == "Urban Services Deputy (Lighting)"
    assert done["agency_responsible"] == "Technical and Civil Works Deputy"
    assert light["service_notice"] == "The city aims to deal with this request within 48 hours."
    assert light["address"] == "میدان ولیعصر" and light["media_url"] == "https://cdn.example.org/l.jpg"
    for request in requests:
        for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert W3.match(request[field]), (field, request[field])
    assert light["requested_datetime"] == lights.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert light["updated_datetime"] == (lights.submitted_at + timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert light["expected_datetime"] == (lights.submitted_at + timedelta(hours=48)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert done["updated_datetime"] == resolved_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "json":
        assert isinstance(light["lat"], float) and isinstance(light["long"], float)
        assert (light["lat"], light["long"]) == (35.70, 51.40)
        assert done["lat"] is None and done["zipcode"] is None and done["address_id"] is None
    else:
        assert (float(light["lat"]), float(light["long"])) == (35.70, 51.40)
        assert done["lat"] == "" and done["zipcode"] == ""
    # factories seal +989121234567; the resolver's key name is in the record, never in the answer.
    assert PHONE_DIGITS not in response.text and FIRST not in response.text


async def test_requests_default_to_the_last_90_days_newest_first_and_at_most_1000(
    intake_app: IntakeApp,
) -> None:
    client, intake = intake_app
    now = datetime.now(UTC)
    docs = [bare(now - timedelta(minutes=i + 1)) for i in range(1005)]
    old = bare(now - timedelta(days=91), category_hint="waste")
    inside = bare(now - timedelta(days=89), category_hint="waste")
    await intake.store.complaints.insert_many([*docs, old, inside])

    ids = await request_ids(client)

    assert len(ids) == 1000
    assert ids == [d["tracking_code"] for d in docs[:1000]]  # newest first
    assert old["tracking_code"] not in ids
    assert await request_ids(client, service_code="waste") == [inside["tracking_code"]]
    assert await request_ids(client, service_request_id=old["tracking_code"]) == [old["tracking_code"]]


async def test_each_filter_of_get_requests(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    now = datetime.now(UTC)
    lights = await routed(intake.store, at=now - timedelta(days=1))
    roads = await routed(intake.store, at=now - timedelta(days=2), category="roads", department="civil-works")
    await resolve(intake.store, roads, "done", now - timedelta(hours=1))
    # Not routed yet: the client's service_code (the hint) stands for its category.
    waiting = bare(now - timedelta(days=3), category_hint="waste")
    month_ago = bare(now - timedelta(days=30), category_hint="waste")
    ancient = bare(now - timedelta(days=200))
    await intake.store.complaints.insert_many([waiting, month_ago, ancient])
    codes = {
        "lights": lights.tracking_code,
        "roads": roads.tracking_code,
        "waiting": waiting["tracking_code"],
        "month": month_ago["tracking_code"],
        "ancient": ancient["tracking_code"],
    }

    async def names(**params: str) -> list[str]:
        by_code = {v: k for k, v in codes.items()}
        return [by_code[i] for i in await request_ids(client, **params)]

    assert await names() == ["lights", "roads", "waiting", "month"]
    assert await names(service_code="waste") == ["waiting", "month"]
    assert await names(service_code="lighting,roads") == ["lights", "roads"]
    assert await names(service_code="lighting", status="open") == ["lights"]
    assert await names(status="closed") == ["roads"]
    assert await names(status="open") == ["lights", "waiting", "month"]
    assert await names(status="open,closed") == ["lights", "roads", "waiting", "month"]
    assert await names(start_date=(now - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == [
        "lights",
        "roads",
    ]
    # end_date alone: the 90 days before it.
    assert await names(end_date=(now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%SZ")) == ["month"]
    # A zone offset counts: 2.5 days ago in Tehran time (+03:30).
    tehran = (now - timedelta(days=2, hours=12)).astimezone(timezone(timedelta(hours=3, minutes=30)))
    assert await names(start_date=tehran.isoformat(timespec="seconds")) == ["lights", "roads"]
    assert await names(
        start_date=(now - timedelta(days=220)).strftime("%Y-%m-%d"),
        end_date=(now - timedelta(days=150)).strftime("%Y-%m-%d"),
    ) == ["ancient"]
    # service_request_id overrides every other filter.
    assert await names(
        service_request_id=f"{codes['ancient']}, {codes['lights']}", status="closed", service_code="roads"
    ) == [
        "lights",
        "ancient",
    ]
    assert await names(service_code="no-such-service") == []

    for params, words in [
        ({"status": "pending"}, "status"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2024-01-01T10:00:00"}, "time zone"),
        ({"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, "after"),
    ]:
        for fmt in FORMATS:
            assert_errors(await client.get(f"{V2}/requests.{fmt}", params=params), fmt, 400, words)


@pytest.mark.parametrize("resource", ["requests", "servicerequestupdates"])
async def test_dates_at_the_ends_of_the_calendar_find_nothing_instead_of_failing(
    intake_app: IntakeApp, resource: str
) -> None:
    # Found by the API fuzz run: the 90-day window overflowed datetime there, a 500.
    client, intake = intake_app
    await routed(intake.store)

    for params in ({"end_date": "0001-01-01T00:00:00Z"}, {"start_date": "9999-12-31T00:00:00Z"}):
        assert json_body(await client.get(f"{V2}/{resource}.json", params=params)) == []
    before_year_1 = await client.get(f"{V2}/{resource}.xml", params={"end_date": "0001-01-01T00:00:00+01:00"})
    assert_errors(before_year_1, "xml", 400, "range")


async def test_a_token_is_the_submission_id(intake_app: IntakeApp) -> None:
    client, intake = intake_app
    sub = await routed(intake.store)

    answer = json_body(await client.get(f"{V2}/tokens/{sub.complaint_id}.json"))
    root = xml(await client.get(f"{V2}/tokens/{sub.complaint_id}.xml"))

    assert answer == [{"service_request_id": sub.tracking_code, "token": sub.complaint_id}]
    assert root.tag == "service_requests" and [tags(r) for r in root] == [["service_request_id", "token"]]
    assert root.findtext("request/service_request_id") == sub.tracking_code


# ---------------------------------------------------------------- servicerequestupdates


@pytest.mark.parametrize("fmt", FORMATS)
async def test_get_updates_lists_public_steps_with_their_status(intake_app: IntakeApp, fmt: str) -> None:
    client, intake = intake_app
    now = datetime.now(UTC)
    sub = await routed(intake.store, at=now - timedelta(hours=5))
    private = records.timeline_entry(
        "commented", now - timedelta(hours=4), event_id="c-1", note="crew 4", public=False
    )
    await records.apply_event(intake.store, sub.complaint_id, event_id="c-1", entry=private)
    resolved_id = await resolve(
        intake.store, sub, "لامپ تعویض شد.", records.store_precision(now - timedelta(hours=1))
    )
    long_ago = await routed(intake.store, at=now - timedelta(days=120))

    response = await client.get(f"{V2}/servicerequestupdates.{fmt}")
    window = await client.get(
        f"{V2}/servicerequestupdates.json",
        params={"start_date": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")},
    )

    if fmt == "json":
        updates = json_body(response)
        assert all(list(u) == UPDATE_FIELDS for u in updates)
    else:
        root = xml(response)
        assert root.tag == "service_request_updates" and set(tags(root)) == {"request_update"}
        assert all(tags(u) == UPDATE_FIELDS for u in root)
        updates = [flat(u) for u in root]
    assert [(u["update_id"], u["status"]) for u in updates] == [
        (f"d-{sub.complaint_id}", "open"),
        (resolved_id, "closed"),
    ]
    routed_update, resolved_update = updates
    assert {u["service_request_id"] for u in updates} == {sub.tracking_code}
    assert resolved_update["description"] == "لامپ تعویض شد." and routed_update["description"]
    assert all(W3.match(u["updated_datetime"]) for u in updates) and all(
        u["media_url"] == "" for u in updates
    )
    assert "crew 4" not in response.text and long_ago.tracking_code not in response.text
    assert [u["update_id"] for u in json_body(window)] == [resolved_id]
    assert_errors(
        await client.get(f"{V2}/servicerequestupdates.{fmt}", params={"end_date": "soon"}),
        fmt,
        400,
        "end_date",
    )


async def test_post_update_publishes_the_staff_action_once(intake_app: IntakeApp, infra: LocalInfra) -> None:
    client, intake = intake_app
    sub = await routed(intake.store)
    works = await partner_key(intake, "events:write", departments=["lighting"])
    elsewhere = await partner_key(intake, "events:write", departments=["waste"])
    submitter = await partner_key(intake, "complaints:write")
    update = {
        "service_request_id": sub.tracking_code,
        "update_id": f"wo-{uuid.uuid4().hex[:8]}",
        "status": "CLOSED",
        "updated_datetime": "2024-03-21T14:05:00+03:30",
        "description": "لامپ تیر ۱۲ تعویض شد.",
        "first_name": FIRST,
        "email": EMAIL,
    }

    response = await client.post(f"{V2}/servicerequestupdates.xml", data={**update, "api_key": works})
    again = await client.post(f"{V2}/servicerequestupdates.json", data={**update, "api_key": works})

    root = xml(response)
    assert response.status_code == 200 and root.tag == "service_request_updates"
    assert [tags(u) for u in root] == [["update_id", "account_id"]]
    update_id = root.findtext("request_update/update_id")
    assert update_id and json_body(again)[0]["update_id"] == update_id
    assert again.headers["idempotent-replayed"] == "true"
    events = read_topic(
        infra.bootstrap_servers, topics.EVENTS, until=lambda m: any(update_id.encode() in v for _, v in m)
    )
    published = [json.loads(v) for k, v in events if k == sub.complaint_id.encode()]
    [event] = [e for e in published if e["id"] == update_id]
    assert event["type"] == "org.pasokh.complaint.resolved"
    assert (
        event["data"]["note"] == "لامپ تیر ۱۲ تعویض شد." and event["data"]["complaint_id"] == sub.complaint_id
    )
    assert len([e for e in published if e["type"] == "org.pasokh.complaint.resolved"]) == 1
    assert FIRST not in json.dumps(event) and EMAIL not in json.dumps(event)

    working = {**update, "update_id": f"wo-{uuid.uuid4().hex[:8]}", "status": "IN_PROGRESS"}
    acknowledged = json_body(
        await client.post(f"{V2}/servicerequestupdates.json", data={**working, "api_key": works})
    )
    ack_id = acknowledged[0]["update_id"]
    events = read_topic(
        infra.bootstrap_servers, topics.EVENTS, until=lambda m: any(ack_id.encode() in v for _, v in m)
    )
    assert [json.loads(v)["type"] for _, v in events if ack_id.encode() in v] == [
        "org.pasokh.complaint.acknowledged"
    ]

    fresh = {**update, "update_id": f"wo-{uuid.uuid4().hex[:8]}"}
    url = f"{V2}/servicerequestupdates.json"
    assert_errors(await client.post(url, data=fresh), "json", 403, "api_key")
    assert_errors(await client.post(url, data={**fresh, "api_key": submitter}), "json", 403)
    assert_errors(await client.post(url, data={**fresh, "api_key": elsewhere}), "json", 403)
    assert_errors(
        await client.post(url, data={**fresh, "api_key": works, "service_request_id": tracking.new_code()}),
        "json",
        404,
    )
    assert_errors(
        await client.post(url, data={**fresh, "api_key": works, "status": "MAYBE"}), "json", 400, "status"
    )
    assert_errors(
        await client.post(url, data={**fresh, "api_key": works, "description": ""}),
        "json",
        400,
        "description",
    )
    assert_errors(
        await client.post(url, data={**fresh, "api_key": works, "updated_datetime": "now"}),
        "json",
        400,
        "updated_datetime",
    )
