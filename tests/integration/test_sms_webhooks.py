"""SMS provider webhooks in-process on the real Kafka and MongoDB: each SMS publishes what it asks for,
once, keyed so that one complaint's (or one citizen's) events stay in order."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from pydantic import SecretStr

from intake import tracking
from intake.bootstrap import Intake
from intake.sms_webhooks import sign
from pasokh.infra.local import LocalInfra
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope, from_kafka
from services.settings import KafkaSettings
from services.text import to_persian_digits
from tests import factories

SECRET = "sms-webhook-secret-for-integration-tests"
IntakeApp = tuple[httpx.AsyncClient, Intake]
LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"


@pytest.fixture
def sms(intake_app: IntakeApp) -> IntakeApp:
    """``intake_app`` with the SMS webhook secret set."""
    intake_app[1].settings.intake.sms_webhook_secret = SecretStr(SECRET)
    return intake_app


def new_phone() -> str:
    """A random Iranian mobile in E.164, so that tests never share a citizen (or a Kafka key)."""
    return f"+98912{secrets.randbelow(10**7):07d}"


def local_form(e164: str) -> str:
    """``+989121234567`` → ``۰۹۱۲۱۲۳۴۵۶۷``, as a provider might pass it on."""
    return to_persian_digits("0" + e164[3:])


def new_id() -> str:
    return f"msg-{secrets.token_hex(6)}"


async def post_json(client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> httpx.Response:
    """POST ``payload`` signed like the generic ``http`` provider."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-pasokh-timestamp": timestamp,
        "x-pasokh-signature": "sha256=" + sign(SECRET, timestamp, body),
    }
    return await client.post(path, content=body, headers=headers)


async def inbound(client: httpx.AsyncClient, phone: str, text: str, message_id: str | None = None) -> Any:
    response = await post_json(
        client,
        "/v1/sms/inbound",
        {"id": message_id or new_id(), "from": local_form(phone), "to": "3000137", "text": text},
    )
    assert response.status_code == 200, response.text
    return response.json()


def events(infra: LocalInfra, topic: str, key: str) -> list[Envelope]:
    """Every event on ``topic`` with Kafka key ``key``, read up to the end of the log as it is now.

    Publishing is acknowledged before intake answers, so the end offsets read after a request cover
    everything that request published: "exactly one" is checked, not hoped for.
    """
    consumer = KafkaConsumer(bootstrap_servers=infra.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[Envelope] = []
        deadline = time.monotonic() + 20
        while any(consumer.position(p) < end[p] for p in partitions):
            assert time.monotonic() < deadline, "could not read the topic to its end"
            for batch in consumer.poll(timeout_ms=300).values():
                found.extend(from_kafka(r.value, r.key) for r in batch if r.key == key.encode())
        return found
    finally:
        consumer.close()


async def complaint_of(intake: Intake, phone: str, *, status: str, created: datetime, **fields: Any) -> str:
    """A complaint record of ``phone`` (as intake and the router write it) in ``status``."""
    submitted = factories.submitted(phone=phone, submitted_at=records.store_precision(created))
    await records.record_received(intake.store, submitted, event_id=f"test-{submitted.complaint_id}")
    await intake.store.complaints.update_one(
        {"_id": submitted.complaint_id}, {"$set": {"status": status, **fields}}
    )
    return submitted.complaint_id


def assert_no_phone_in_clear(envelope: Envelope, phone: str) -> None:
    raw = json.dumps(envelope.data, ensure_ascii=False)
    assert phone not in raw and phone[3:] not in raw and local_form(phone) not in raw


# --- who may call ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/sms/inbound", "/v1/sms/delivery"])
async def test_without_a_secret_the_webhooks_answer_503(intake_app: IntakeApp, path: str) -> None:
    client, _ = intake_app

    response = await post_json(client, path, {"id": new_id(), "from": "09121234567", "text": "لغو"})

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "sms_webhooks_not_configured"
    assert "SMS webhooks are not configured" in error["message"]["en"] and error["message"]["fa"]


@pytest.mark.parametrize("how", ["missing", "bad", "expired"])
async def test_unsigned_bad_or_expired_signatures_get_401_and_change_nothing(
    sms: IntakeApp, infra: LocalInfra, how: str
) -> None:
    client, intake = sms
    phone = new_phone()
    message_id = new_id()
    body = json.dumps({"id": message_id, "from": phone, "to": "3000137", "text": "لغو"}).encode()
    timestamp = str(int(time.time()) - (400 if how == "expired" else 0))
    headers = {"content-type": "application/json", "x-pasokh-timestamp": timestamp}
    if how != "missing":
        secret = "not-the-secret" if how == "bad" else SECRET
        headers["x-pasokh-signature"] = "sha256=" + sign(secret, timestamp, body)

    response = await client.post("/v1/sms/inbound", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await intake.store.db["inbound_sms"].count_documents({}) == 0
    assert events(infra, topics.EVENTS, intake.sealer.lookup_hash(phone)) == []


# --- what a citizen's SMS does --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action", "event_type"),
    [
        ("لغو", "opted-out", "org.pasokh.citizen.opted-out"),
        ("۱۱", "opted-out", "org.pasokh.citizen.opted-out"),
        ("STOP", "opted-out", "org.pasokh.citizen.opted-out"),
        ("شروع", "opted-in", "org.pasokh.citizen.opted-in"),
    ],
)
async def test_stop_and_start_publish_one_event_keyed_by_the_phone_hash(
    sms: IntakeApp, infra: LocalInfra, text: str, action: str, event_type: str
) -> None:
    client, intake = sms
    phone = new_phone()
    message_id = new_id()

    answer = await inbound(client, phone, text, message_id)

    assert answer == {"action": action}
    phone_hash = intake.sealer.lookup_hash(phone)
    [event] = events(infra, topics.EVENTS, phone_hash)
    assert (event.type, event.subject) == (event_type, phone_hash)
    assert event.data["phone_hash"] == phone_hash and event.data["message_id"] == message_id
    assert event.data["provider"] == "http"
    assert intake.sealer.open(event.data["phone_sealed"]) == phone
    assert_no_phone_in_clear(event, phone)


async def test_kavenegar_form_callback_with_the_token(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    form = urlencode({"messageid": "8792343", "from": "0" + phone[3:], "to": "10004346", "message": "لغو"})

    response = await client.post(
        f"/v1/sms/inbound?token={SECRET}",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200 and response.json() == {"action": "opted-out"}
    [event] = events(infra, topics.EVENTS, intake.sealer.lookup_hash(phone))
    assert event.type == "org.pasokh.citizen.opted-out"
    assert (event.data["provider"], event.data["message_id"]) == ("kavenegar", "8792343")


async def test_a_tracking_code_asks_for_that_complaints_status(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    complaint_id = await complaint_of(intake, new_phone(), status="routed", created=datetime.now(UTC))
    doc = await records.find(intake.store, complaint_id)
    assert doc is not None
    code = doc["tracking_code"]

    answer = await inbound(client, phone, f"پیگیری {to_persian_digits(code[:5] + ' ' + code[5:])}")

    assert answer == {"action": "status-requested", "complaint_id": complaint_id, "tracking_code": code}
    [event] = events(infra, topics.EVENTS, complaint_id)
    assert (event.type, event.subject) == ("org.pasokh.citizen.status-requested", complaint_id)
    assert event.data["found"] is True and event.data["tracking_code"] == code
    assert event.data["complaint_id"] == complaint_id
    assert event.data["phone_hash"] == intake.sealer.lookup_hash(phone)
    assert_no_phone_in_clear(event, phone)


async def test_an_unknown_tracking_code_is_still_asked_about_keyed_by_the_phone(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    phone = new_phone()
    code = tracking.new_code()

    answer = await inbound(client, phone, f"status {code}")

    assert answer == {"action": "status-requested", "tracking_code": code}
    phone_hash = intake.sealer.lookup_hash(phone)
    [event] = events(infra, topics.EVENTS, phone_hash)
    assert event.type == "org.pasokh.citizen.status-requested"
    assert event.data["found"] is False and event.data["tracking_code"] == code
    assert "complaint_id" not in event.data


async def test_a_rating_goes_to_the_phones_newest_resolved_complaint(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    phone, neighbour = new_phone(), new_phone()
    now = datetime.now(UTC)
    # Resolved in another order than submitted: the survey answers the last resolution.
    newest_resolved = await complaint_of(
        intake, phone, status="resolved", created=now - timedelta(days=9), resolved_at=now - timedelta(days=1)
    )
    older = await complaint_of(
        intake, phone, status="resolved", created=now - timedelta(days=8), resolved_at=now - timedelta(days=3)
    )
    still_open = await complaint_of(intake, phone, status="routed", created=now - timedelta(hours=1))
    others = await complaint_of(
        intake, neighbour, status="resolved", created=now - timedelta(hours=2), resolved_at=now
    )

    answer = await inbound(client, phone, "۵")

    assert answer["action"] == "rated" and answer["complaint_id"] == newest_resolved
    [event] = events(infra, topics.EVENTS, newest_resolved)
    assert (event.type, event.subject) == ("org.pasokh.complaint.rated", newest_resolved)
    assert event.data["rating"] == 5 and event.data["channel"] == "sms"
    assert event.data["phone_hash"] == intake.sealer.lookup_hash(phone)
    for other in (older, still_open, others):
        assert events(infra, topics.EVENTS, other) == []

    worded = await inbound(client, phone, "خیلی‌بد")
    assert worded["complaint_id"] == newest_resolved
    assert [e.data["rating"] for e in events(infra, topics.EVENTS, newest_resolved)] == [5, 1]


async def test_a_rating_without_a_resolved_complaint_rates_nothing(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    open_one = await complaint_of(intake, phone, status="acknowledged", created=datetime.now(UTC))

    answer = await inbound(client, phone, "عالی")

    # Too short to be a complaint of its own either.
    assert answer == {"action": "ignored"}
    assert events(infra, topics.EVENTS, open_one) == []
    assert events(infra, topics.EVENTS, intake.sealer.lookup_hash(phone)) == []


async def test_other_text_becomes_an_sms_complaint_with_a_tracking_code(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    phone = new_phone()

    answer = await inbound(client, phone, LIGHTS)

    assert answer["action"] == "complaint" and tracking.is_valid(answer["tracking_code"])
    complaint_id = answer["complaint_id"]
    [event] = events(infra, topics.SUBMITTED, complaint_id)
    assert event.type == "org.pasokh.complaint.submitted"
    assert event.data["channel"] == "sms" and event.data["tracking_code"] == answer["tracking_code"]
    assert event.data["phone_hash"] == intake.sealer.lookup_hash(phone)
    assert event.data["text"] == LIGHTS
    assert_no_phone_in_clear(event, phone)
    status = await client.get(f"/v1/complaints/{answer['tracking_code']}")
    assert status.status_code == 200 and status.json()["status"] == "received"


# --- once per provider message ----------------------------------------------------------------------


async def test_the_same_message_twice_publishes_once(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    message_id = new_id()

    first = await inbound(client, phone, "لغو", message_id)
    second = await inbound(client, phone, "لغو", message_id)

    assert (first, second) == ({"action": "opted-out"}, {"action": "duplicate"})
    assert len(events(infra, topics.EVENTS, intake.sealer.lookup_hash(phone))) == 1


async def test_the_same_complaint_sms_twice_is_one_complaint(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    message_id = new_id()

    first = await inbound(client, phone, LIGHTS, message_id)
    second = await inbound(client, phone, LIGHTS, message_id)

    assert first["action"] == "complaint"
    assert second == {**first, "action": "duplicate"}
    assert len(events(infra, topics.SUBMITTED, first["complaint_id"])) == 1
    phone_hash = intake.sealer.lookup_hash(phone)
    assert await intake.store.complaints.count_documents({"phone_hash": phone_hash}) == 1


async def test_a_failed_publish_releases_the_message_for_the_providers_retry(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    phone = new_phone()
    message_id = new_id()
    working = intake.publisher
    # A producer that was never started: every publish fails as when Kafka does not acknowledge.
    intake.publisher = KafkaPublisher(
        KafkaSettings(bootstrap_servers=infra.bootstrap_servers), client_id="pasokh-test-unstarted"
    )

    refused = await post_json(
        client, "/v1/sms/inbound", {"id": message_id, "from": phone, "to": "3000137", "text": "لغو"}
    )

    assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
    assert await intake.store.db["inbound_sms"].count_documents({}) == 0
    phone_hash = intake.sealer.lookup_hash(phone)
    assert events(infra, topics.EVENTS, phone_hash) == []

    intake.publisher = working
    retried = await inbound(client, phone, "لغو", message_id)

    assert retried == {"action": "opted-out"}
    assert len(events(infra, topics.EVENTS, phone_hash)) == 1


# --- delivery reports ---------------------------------------------------------------------------------


async def sent_notification(intake: Intake, **fields: Any) -> tuple[str, str]:
    """A notification record as the notifier writes it before sending; (notification id, complaint id)."""
    notification_id, complaint_id = secrets.token_hex(16), f"complaint-{secrets.token_hex(8)}"
    await intake.store.notifications.insert_one(
        {
            "_id": notification_id,
            "state": "sent",
            "attempts": 1,
            "created_at": datetime.now(UTC),
            "complaint_id": complaint_id,
            "cause_event_id": secrets.token_hex(8),
            "template": "routed",
            "recipient_hash": secrets.token_hex(32),
            "provider": "http",
            **fields,
        }
    )
    return notification_id, complaint_id


async def test_a_delivery_report_publishes_notification_delivered_once(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    notification_id, complaint_id = await sent_notification(intake)
    report = {"id": notification_id, "status": "delivered", "at": "2026-03-01T08:00:00Z"}

    first = await post_json(client, "/v1/sms/delivery", report)
    second = await post_json(client, "/v1/sms/delivery", report)

    assert first.status_code == second.status_code == 200
    assert (first.json(), second.json()) == ({"action": "reported"}, {"action": "duplicate"})
    [event] = events(infra, topics.EVENTS, complaint_id)
    assert (event.type, event.subject) == ("org.pasokh.notification.delivered", complaint_id)
    assert event.data["notification_id"] == notification_id and event.data["status"] == "delivered"
    assert event.data["reported_at"].startswith("2026-03-01T08:00:00")


async def test_a_kavenegar_report_finds_the_notification_by_the_providers_id(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    notification_id, complaint_id = await sent_notification(
        intake, provider="kavenegar", provider_message_id="8792343"
    )
    form = urlencode({"messageid": "8792343", "status": 11, "statustext": "نرسیده به گیرنده"})

    response = await client.post(
        f"/v1/sms/delivery?token={SECRET}",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200 and response.json() == {"action": "reported"}
    [event] = events(infra, topics.EVENTS, complaint_id)
    assert event.data["notification_id"] == notification_id and event.data["status"] == "undeliverable"
    assert "نرسیده به گیرنده" in event.data["reason"]


async def test_a_report_on_an_unknown_notification_publishes_nothing(sms: IntakeApp) -> None:
    client, intake = sms

    response = await post_json(client, "/v1/sms/delivery", {"id": secrets.token_hex(16), "status": "failed"})

    assert response.status_code == 200 and response.json() == {"action": "unknown-notification"}
    assert await intake.store.db["inbound_sms"].count_documents({}) == 0
