"""The notifier's handler on real MongoDB and Kafka, SMS to a real local HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier import outbox
from notifier.handlers import Retry, handle_event
from notifier.settings import PolicySettings
from notifier.sms import InMemorySms, SmsGateway, SmsRejected
from notifier.sms.http import HttpSms
from services import records
from services.bus import KafkaPublisher
from services.contracts.complaints import ComplaintSubmitted
from services.contracts.envelope import Envelope, derived_id, from_kafka, new_event, to_kafka
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import SEALER, routed, submitted
from tests.support.clock import no_wait
from tests.support.sms_server import SmsCapture

TAXONOMY = load_taxonomy()
# Every SMS at once: no quiet hours (start = end), no coalescing window.
AT_ONCE = PolicySettings(quiet_start="00:00", quiet_end="00:00", coalesce_seconds=0)


async def routed_event(store: Store) -> tuple[ComplaintSubmitted, Envelope]:
    sub = submitted()
    await records.record_received(store, sub, event_id="e1")
    decision = routed(sub)
    key, value = to_kafka(new_event(decision, subject=sub.complaint_id, source="/pasokh/router"))
    return sub, from_kafka(value, key)


async def notify(envelope: Envelope, store: Store, publisher: KafkaPublisher, sms: SmsGateway) -> str | None:
    return await handle_event(
        envelope,
        store=store,
        publisher=publisher,
        sms=sms,
        sealer=SEALER,
        taxonomy=TAXONOMY,
        retry=Retry(max_attempts=3, base_seconds=0.01, sleep=no_wait),
        policy=AT_ONCE,
    )


async def test_one_sms_however_often_the_event_arrives(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    sub, envelope = await routed_event(store)

    states = [await notify(envelope, store, publisher, gateway) for _ in range(3)]

    assert states == ["sent", "sent", "sent"]
    assert len(capture.for_text("ارجاع")) == 1
    assert capture.received[0]["to"] == "+989121234567"


async def test_crash_after_claim_resends_with_the_same_id(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    sub, envelope = await routed_event(store)
    # A previous notifier claimed the notification, then died before the provider answered.
    notification_id = derived_id(envelope.source, envelope.id, SEALER.lookup_hash("+989121234567"), "routed")
    await outbox.claim(store, notification_id, {"complaint_id": sub.complaint_id}, datetime.now(UTC))

    assert await notify(envelope, store, publisher, gateway) == "sent"

    [message] = capture.received
    assert message["id"] == notification_id  # idempotent providers drop a repeat by this id


async def test_provider_refusal_fails_at_once(store: Store, publisher: KafkaPublisher) -> None:
    sub, envelope = await routed_event(store)
    refusing = InMemorySms(failures=[SmsRejected("invalid number")])

    state = await notify(envelope, store, publisher, refusing)

    assert state == "failed" and refusing.sent == []
    [record] = await store.notifications.find({"complaint_id": sub.complaint_id}).to_list()
    assert (record["state"], record["attempts"], record["reason"]) == ("failed", 1, "invalid number")


async def test_provider_outage_gives_up_after_the_last_try(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    sub, envelope = await routed_event(store)
    capture.fail_next = 10

    state = await notify(envelope, store, publisher, gateway)

    assert state == "failed"
    assert capture.received == []
    [record] = await store.notifications.find({"complaint_id": sub.complaint_id}).to_list()
    assert (record["state"], record["attempts"]) == ("failed", 3)
