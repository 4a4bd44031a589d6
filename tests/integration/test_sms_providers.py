"""The notifier's provider side on real Kafka and MongoDB, providers as real local HTTP servers:
Kavenegar and SMS.ir through the handler, failover, the dead letter after the last try, and a
delivery report's way back from intake's webhook handler to the notification's record."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time

import pytest

from intake.sms_handlers import handle_delivery
from intake.sms_webhooks import DeliveryReport
from notifier import delivery, outbox
from notifier.handlers import handle_event
from notifier.retry import Retry
from notifier.settings import PolicySettings
from notifier.sms import SmsGateway
from notifier.sms.failover import FailoverSms
from notifier.sms.http import HttpSms
from notifier.sms.kavenegar import KavenegarSms
from notifier.sms.smsir import SmsIrSms
from pasokh.infra.local import LocalInfra
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope, from_kafka, new_event, to_kafka
from services.contracts.notifications import NotificationDelivered
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import SEALER, routed, submitted
from tests.support.kafka import read_topic
from tests.support.sms_providers import Kavenegar, SmsIr
from tests.support.sms_server import SmsCapture

TAXONOMY = load_taxonomy()
AT_ONCE = PolicySettings(quiet_start=time(0), quiet_end=time(0), coalesce_seconds=0)


class Sleeps:
    """Records the backoff the handler asks for instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def kavenegar() -> Iterator[Kavenegar]:
    server = Kavenegar().start()
    yield server
    server.stop()


@pytest.fixture
def smsir() -> Iterator[SmsIr]:
    server = SmsIr().start()
    yield server
    server.stop()


@pytest.fixture
async def kavenegar_sms(kavenegar: Kavenegar) -> AsyncIterator[KavenegarSms]:
    gateway = KavenegarSms(kavenegar.api_key, kavenegar.sender, url=kavenegar.url, timeout=5)
    yield gateway
    await gateway.close()


async def routed_event(store: Store, phone: str = "+989121234567") -> tuple[str, Envelope]:
    sub = submitted(phone=phone)
    await records.record_received(store, sub, event_id="e1")
    key, value = to_kafka(new_event(routed(sub), subject=sub.complaint_id, source="/pasokh/router"))
    return sub.complaint_id, from_kafka(value, key)


async def notify(
    envelope: Envelope, store: Store, publisher: KafkaPublisher, sms: SmsGateway, retry: Retry | None = None
) -> str | None:
    return await handle_event(
        envelope,
        store=store,
        publisher=publisher,
        sms=sms,
        sealer=SEALER,
        taxonomy=TAXONOMY,
        retry=retry or Retry(max_attempts=3, base_seconds=0.01, sleep=Sleeps()),
        policy=AT_ONCE,
    )


def events_about(infra: LocalInfra, topic: str, subject: str, count: int = 1) -> list[dict[str, object]]:
    """The CloudEvents (as JSON) on ``topic`` whose subject is ``subject``."""

    def mine(messages: list[tuple[bytes | None, bytes]]) -> list[dict[str, object]]:
        found = [json.loads(value) for _, value in messages]
        return [event for event in found if event.get("subject") == subject]

    messages = read_topic(infra.bootstrap_servers, topic, until=lambda m: len(mine(m)) >= count, timeout=20)
    return mine(messages)


async def test_kavenegar_sends_and_its_delivery_report_reaches_the_record(
    infra: LocalInfra,
    store: Store,
    publisher: KafkaPublisher,
    kavenegar: Kavenegar,
    kavenegar_sms: KavenegarSms,
) -> None:
    complaint_id, envelope = await routed_event(store)

    assert await notify(envelope, store, publisher, kavenegar_sms) == "sent"

    [form] = kavenegar.sent
    assert form["receptor"] == "09121234567" and "ارجاع" in form["message"]
    [record] = await store.notifications.find({"complaint_id": complaint_id}).to_list()
    assert (record["state"], record["provider"], record["provider_message_id"]) == (
        "sent",
        "kavenegar",
        "8792343",
    )

    # Kavenegar calls intake's webhook with its own message id; intake publishes notification.delivered.
    report = DeliveryReport("kavenegar", "8792343", "delivered", "delivered to the handset", None)
    outcome = await handle_delivery(report, store=store, publisher=publisher)
    assert outcome.action == "reported"
    [*_, event] = [
        e for e in events_about(infra, topics.EVENTS, complaint_id, 2) if "delivered" in str(e["type"])
    ]
    delivered = from_kafka(json.dumps(event).encode())

    assert await delivery.apply(delivered, store=store) == "delivered"
    assert await delivery.apply(delivered, store=store) is None  # the same report again changes nothing
    stored = await store.notifications.find_one({"_id": record["_id"]})
    assert stored is not None
    assert (stored["state"], stored["delivery"], stored["delivery_reason"]) == (
        "sent",
        "delivered",
        "delivered to the handset",
    )


async def test_a_negative_report_is_kept_until_a_delivered_one_replaces_it(
    store: Store, publisher: KafkaPublisher, kavenegar_sms: KavenegarSms
) -> None:
    complaint_id, envelope = await routed_event(store)
    await notify(envelope, store, publisher, kavenegar_sms)
    [record] = await store.notifications.find({"complaint_id": complaint_id}).to_list()

    def report(status: str) -> Envelope:
        payload = NotificationDelivered(
            complaint_id=complaint_id,
            notification_id=record["_id"],
            provider="kavenegar",
            status=status,  # type: ignore[arg-type]
            reported_at=datetime.now(UTC),
        )
        key, value = to_kafka(new_event(payload, subject=complaint_id, source="/pasokh/intake"))
        return from_kafka(value, key)

    assert await delivery.apply(report("undeliverable"), store=store) == "undeliverable"
    assert await delivery.apply(report("expired"), store=store) is None  # the first final report stays
    assert await delivery.apply(report("delivered"), store=store) == "delivered"
    assert await delivery.apply(report("failed"), store=store) is None
    stored = await store.notifications.find_one({"_id": record["_id"]})
    assert stored is not None and stored["delivery"] == "delivered"


async def test_a_delivery_report_beside_the_sent_mark_is_kept(store: Store) -> None:
    # FerretDB v1 applies an update as a read then a write of the whole document: a report written at
    # the moment the batch marks its records sent could be undone by it. They take turns
    # (outbox.writing); without that, 2 of 3 runs lost the sent mark of some of these records.
    now = records.store_precision(datetime.now(UTC))
    ids = [f"n-{uuid.uuid4().hex}" for _ in range(200)]
    await outbox.claim_many(
        store, [outbox.new_record(i, {"complaint_id": "c"}, now, attempts=1) for i in ids]
    )

    def report(notification_id: str) -> Envelope:
        payload = NotificationDelivered(
            complaint_id="c",
            notification_id=notification_id,
            provider="http",
            status="delivered",
            reported_at=now,
        )
        key, value = to_kafka(new_event(payload, subject="c", source="/pasokh/intake"))
        return from_kafka(value, key)

    sent = outbox.finish_many(store, [(i, "sent", now, {"provider": "http"}) for i in ids])
    applied = await asyncio.gather(sent, *(delivery.apply(report(i), store=store) for i in ids))

    assert applied[1:] == ["delivered"] * len(ids)
    docs = await store.notifications.find({"_id": {"$in": ids}}).to_list()
    assert sorted((d["state"], d.get("delivery")) for d in docs) == [("sent", "delivered")] * len(ids)


async def test_smsir_takes_over_while_kavenegar_is_down(
    store: Store, publisher: KafkaPublisher, kavenegar: Kavenegar, smsir: SmsIr, kavenegar_sms: KavenegarSms
) -> None:
    complaint_id, envelope = await routed_event(store)
    kavenegar.script = [(503, 503)]
    secondary = SmsIrSms(smsir.api_key, smsir.line_number, url=smsir.url, timeout=5)
    gateway = FailoverSms(kavenegar_sms, secondary)
    try:
        assert await notify(envelope, store, publisher, gateway) == "sent"
    finally:
        await secondary.close()

    assert kavenegar.sent == [] and [m["mobiles"] for m in smsir.sent] == [["09121234567"]]
    [record] = await store.notifications.find({"complaint_id": complaint_id}).to_list()
    assert (record["provider"], record["provider_message_id"], record["attempts"]) == ("smsir", "86522023", 1)


async def test_an_invalid_number_fails_at_once_everywhere(
    infra: LocalInfra, store: Store, publisher: KafkaPublisher, kavenegar: Kavenegar, smsir: SmsIr
) -> None:
    complaint_id, envelope = await routed_event(store, phone="+98912123")
    primary = KavenegarSms(kavenegar.api_key, kavenegar.sender, url=kavenegar.url, timeout=5)
    secondary = SmsIrSms(smsir.api_key, smsir.line_number, url=smsir.url, timeout=5)
    sleeps = Sleeps()
    try:
        state = await notify(
            envelope, store, publisher, FailoverSms(primary, secondary), Retry(3, 0.01, sleep=sleeps)
        )
    finally:
        await primary.close()
        await secondary.close()

    assert state == "failed" and sleeps.delays == []
    assert (kavenegar.requests, smsir.requests) == (1, 0)  # no retry, no failover
    [record] = await store.notifications.find({"complaint_id": complaint_id}).to_list()
    assert (record["state"], record["attempts"]) == ("failed", 1) and "411" in record["reason"]
    [failed] = [e for e in events_about(infra, topics.EVENTS, complaint_id) if "failed" in str(e["type"])]
    assert failed["data"]["attempts"] == 1  # type: ignore[index]


async def test_after_the_last_try_the_sms_is_dead_lettered_and_reported_failed(
    infra: LocalInfra, store: Store, publisher: KafkaPublisher
) -> None:
    complaint_id, envelope = await routed_event(store)
    capture = SmsCapture().start()
    capture.fail_next = 10  # the provider answers 503 to every try
    gateway = HttpSms(capture.url, timeout=5)
    sleeps = Sleeps()
    try:
        state = await notify(envelope, store, publisher, gateway, Retry(3, 0.5, sleep=sleeps))
    finally:
        await gateway.close()
        capture.stop()

    assert state == "failed" and capture.received == []
    assert len(sleeps.delays) == 2 and 0 <= sleeps.delays[0] <= 0.5 and 0 <= sleeps.delays[1] <= 1.0
    [record] = await store.notifications.find({"complaint_id": complaint_id}).to_list()
    assert (record["state"], record["attempts"]) == ("failed", 3)

    [failed] = [e for e in events_about(infra, topics.EVENTS, complaint_id) if "failed" in str(e["type"])]
    assert failed["data"]["notification_id"] == record["_id"] and failed["data"]["attempts"] == 3  # type: ignore[index]

    [dead] = events_about(infra, topics.DEADLETTER, complaint_id)
    data = dead["data"]
    assert isinstance(data, dict)
    assert data["service"] == "notifier" and data["topic"] == topics.EVENTS and "3 tries" in data["reason"]
    replay = json.loads(base64.b64decode(data["value_b64"]))
    assert replay["_id"] == record["_id"] and replay["phone_sealed"] == record["phone_sealed"]
    assert "+989121234567" not in json.dumps(dead, ensure_ascii=False)  # the phone only sealed
