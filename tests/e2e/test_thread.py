"""One complaint from HTTP to SMS through real Kafka and a real MongoDB-wire server."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from pasokh.infra.local import LocalInfra
from services.contracts import topics
from services.text import to_latin_digits
from tests.support.kafka import produce, read_topic
from tests.support.sms_server import SmsCapture
from tests.support.system import PasokhUp

LIGHTS = "چراغ‌های كوچه ما سه شب است خاموش است و شب‌ها خیلی تاریک است"


def submit(system: PasokhUp, body: dict[str, Any], **headers: str) -> httpx.Response:
    body = {"district": "3", **body}
    return httpx.post(f"{system.url('intake')}/v1/complaints", json=body, headers=headers, timeout=10)


def status(system: PasokhUp, code: str) -> dict[str, Any]:
    response = httpx.get(f"{system.url('intake')}/v1/complaints/{code}", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def persian(code: str) -> str:
    return code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def test_persian_complaint_is_routed_stored_and_texted(system: PasokhUp, sms: SmsCapture, db: Any) -> None:
    response = submit(system, {"text": LIGHTS, "phone": "۰۹۱۲ ۳۴۵ ۶۷۸۹", "district": "3", "channel": "web"})

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"id", "tracking_code", "status"} and accepted["status"] == "received"
    code = accepted["tracking_code"]

    [message] = sms.wait_for(persian(code))
    assert message["to"] == "+989123456789"
    assert "معاونت خدمات شهری (روشنایی)" in message["text"]
    assert code in to_latin_digits(message["text"])

    seen = status(system, code)
    assert seen["status"] == "routed"
    assert seen["category"] == "lighting"
    assert seen["department"] == "lighting"
    assert [t["type"] for t in seen["timeline"]] == ["received", "routed"]
    assert "phone" not in json.dumps(seen)

    stored = db.complaints.find_one({"_id": accepted["id"]})
    assert stored["status"] == "routed" and stored["tracking_code"] == code
    assert "9123456789" not in json.dumps(stored, default=str), "phone stored in clear"
    notifications = list(db.notifications.find({"complaint_id": accepted["id"]}))
    # The "received" SMS was replaced by the routed one within the coalescing window.
    assert sorted((n["state"], n["template"], n["attempts"]) for n in notifications) == [
        ("sent", "routed", 1),
        ("superseded", "received", 0),
    ]


def test_submitted_event_is_cloudevent_keyed_by_complaint_id(system: PasokhUp, infra: LocalInfra) -> None:
    accepted = submit(system, {"text": "سطل زباله سر کوچه پر شده و بو می‌دهد", "channel": "app"}).json()
    key = accepted["id"].encode()

    messages = read_topic(
        infra.bootstrap_servers, topics.SUBMITTED, until=lambda m: any(k == key for k, _ in m)
    )

    [value] = [v for k, v in messages if k == key]
    event = json.loads(value)
    assert event["specversion"] == "1.0"
    assert event["type"] == "org.pasokh.complaint.submitted"
    assert event["subject"] == accepted["id"]
    assert event["data"]["tracking_code"] == accepted["tracking_code"]
    routed = read_topic(infra.bootstrap_servers, topics.EVENTS, until=lambda m: any(k == key for k, _ in m))
    assert [json.loads(v)["type"] for k, v in routed if k == key][:1] == ["org.pasokh.complaint.routed"]


def test_redelivered_submission_changes_nothing(
    system: PasokhUp, sms: SmsCapture, db: Any, infra: LocalInfra
) -> None:
    accepted = submit(system, {"text": LIGHTS, "phone": "09121110000", "channel": "web"}).json()
    code = accepted["tracking_code"]
    sms.wait_for(persian(code))
    before = db.complaints.find_one({"_id": accepted["id"]})
    key = accepted["id"].encode()
    [original] = [
        v
        for k, v in read_topic(
            infra.bootstrap_servers, topics.SUBMITTED, until=lambda m: any(k == key for k, _ in m)
        )
        if k == key
    ]

    produce(infra.bootstrap_servers, topics.SUBMITTED, key, original)
    # A later complaint on the same partition is processed only after the redelivered one.
    marker = submit(system, {"text": LIGHTS, "phone": "09121110000", "channel": "web"}).json()
    sms.wait_for(persian(marker["tracking_code"]))
    processed = read_topic(
        infra.bootstrap_servers, topics.EVENTS, until=lambda m: sum(k == key for k, _ in m) >= 3, timeout=15
    )

    after = db.complaints.find_one({"_id": accepted["id"]})
    assert after == before
    assert len(sms.for_text(persian(code))) == 1
    assert db.notifications.count_documents({"complaint_id": accepted["id"], "state": "sent"}) == 1
    routed_ids = {json.loads(v)["id"] for k, v in processed if k == key and b"complaint.routed" in v}
    assert len(routed_ids) == 1, "a redelivery must announce the same decision under the same event id"
    # Listed in the staff inbox and counted in the public rollups once, when decided (router/bookkeeping.py):
    # every decided complaint is counted once, however often its events were delivered or read back.
    entry = db.inbox.find_one({"_id": accepted["id"]})
    assert entry is not None and entry["status"] == "routed" and entry["tracking_code"] == code
    total = db.stats.find_one({"_id": "all|-|total|-"})
    assert total is not None
    assert total["submitted"] == db.complaints.count_documents({"counted_events": {"$exists": True}})


def test_unclear_complaint_goes_to_triage(system: PasokhUp, sms: SmsCapture) -> None:
    accepted = submit(system, {"text": "سلام، لطفاً با من تماس بگیرید", "phone": "09351234567"}).json()

    [message] = sms.wait_for(persian(accepted["tracking_code"]))

    assert "بررسی" in message["text"]
    seen = status(system, accepted["tracking_code"])
    assert (seen["status"], seen["category"], seen["department"]) == ("triage", "other", "triage")


def test_poison_message_is_dead_lettered_and_work_goes_on(
    system: PasokhUp, sms: SmsCapture, infra: LocalInfra
) -> None:
    key = f"poison-{uuid.uuid4()}".encode()
    produce(infra.bootstrap_servers, topics.SUBMITTED, key, b"\xff not a cloudevent")

    # Both consumers of the submitted topic (router: routing; notifier: the "received" SMS) set it aside.
    dead = read_topic(
        infra.bootstrap_servers,
        topics.DEADLETTER,
        until=lambda m: sum(k == key for k, _ in m) >= 2,
        timeout=30,
    )

    letters = [json.loads(v) for k, v in dead if k == key]
    assert sorted(letter["data"]["service"] for letter in letters) == ["notifier", "router"]
    for letter in letters:
        assert letter["type"] == "org.pasokh.deadletter"
        assert letter["data"]["topic"] == topics.SUBMITTED and "invalid event" in letter["data"]["reason"]
    accepted = submit(system, {"text": LIGHTS, "phone": "09121112222"}).json()
    sms.wait_for(persian(accepted["tracking_code"]))


def test_sms_provider_outage_is_retried_without_duplicates(
    system: PasokhUp, sms: SmsCapture, db: Any
) -> None:
    sms.fail_next = 2
    accepted = submit(system, {"text": LIGHTS, "phone": "09121113333"}).json()

    messages = sms.wait_for(persian(accepted["tracking_code"]))

    assert len(messages) == 1
    [note] = db.notifications.find({"complaint_id": accepted["id"], "state": "sent"})
    assert (note["state"], note["attempts"]) == ("sent", 3)


def test_idempotency_key_replays_the_first_answer(system: PasokhUp) -> None:
    key = str(uuid.uuid4())
    body = {"text": LIGHTS, "channel": "app"}

    first = submit(system, body, **{"Idempotency-Key": key})
    again = submit(system, body, **{"Idempotency-Key": key})
    other = submit(system, {**body, "text": "متن دیگر"}, **{"Idempotency-Key": key})

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_every_service_reports_health_readiness_and_metrics(system: PasokhUp) -> None:
    for service in ("intake", "router", "notifier"):
        base = system.url(service)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "process_resident_memory_bytes" in metrics.text
    assert "pasokh_complaints_submitted_total" in httpx.get(f"{system.url('intake')}/metrics").text
