"""The notifier's batched path (notifier/batch.py) on real MongoDB and Kafka, SMS to a real local HTTP
gateway: the same guarantees as one event at a time, in a few round trips per batch."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import monitoring

from notifier import preferences
from notifier.batch import handle_batch
from notifier.facts import ComplaintFacts
from notifier.handlers import Context, Retry, flush, handle
from notifier.settings import PolicySettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from services import records
from services.bus import KafkaPublisher
from services.contracts.actions import ComplaintAcknowledged
from services.contracts.citizens import CitizenOptedOut
from services.contracts.complaints import ComplaintSubmitted, ComplaintTriageNeeded
from services.contracts.envelope import Envelope, EventPayload
from services.settings import MongoSettings
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import SEALER, routed, submitted, wired
from tests.support.clock import Clock, no_wait
from tests.support.sms_server import SmsCapture

TAXONOMY = load_taxonomy()
DAY = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # 10:00 in Tehran
# Every SMS at once unless a test says otherwise: no quiet hours (start = end), no coalescing window.
AT_ONCE: dict[str, Any] = {"quiet_start": "00:00", "quiet_end": "00:00", "coalesce_seconds": 0}


class Commands(monitoring.CommandListener):
    """Counts the commands (round trips) a client sends."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(infra: LocalInfra, database: str) -> AsyncIterator[tuple[Store, Commands]]:
    """The test's database through a client whose every command is counted."""
    commands = Commands()
    store = Store.connect(MongoSettings(uri=infra.mongo_uri, database=database), listeners=[commands])
    yield store, commands
    await store.close()


def context(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, clock: Clock, **policy: Any
) -> Context:
    return Context(
        store=store,
        publisher=publisher,
        sms=gateway,
        sealer=SEALER,
        taxonomy=TAXONOMY,
        retry=Retry(max_attempts=3, base_seconds=0.01, sleep=no_wait),
        policy=PolicySettings.model_validate(AT_ONCE | policy),
        clock=clock,
    )


def event(payload: EventPayload, subject: str, at: datetime) -> Envelope:
    return wired(payload, subject, at=at)


async def complaint(store: Store, phone: str) -> ComplaintSubmitted:
    sub = submitted(phone=phone)
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    return sub


def phone(i: int) -> str:
    return f"+98912{i:07d}"


async def test_one_sms_per_event_in_a_few_round_trips_and_none_again_on_redelivery(
    counted: tuple[Store, Commands], publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    store, commands = counted
    subs = [await complaint(store, phone(i)) for i in range(40)]
    envelopes = [event(routed(sub), sub.complaint_id, DAY) for sub in subs]
    ctx = context(store, publisher, gateway, Clock(DAY))
    commands.sent.clear()

    # Four at a time: the test gateway (http.server, listen backlog 5) refuses more new connections.
    await handle_batch(envelopes, ctx, send_concurrency=4)

    assert sorted(m["to"] for m in capture.received) == sorted(phone(i) for i in range(40))
    assert len({m["id"] for m in capture.received}) == 40
    # Per SMS: the complaint record, the opt-out, the phone's earlier SMS; per batch: one insert of
    # the records and one update per 20 marking them sent (one at a time it was eight or nine per SMS).
    assert commands.sent == {"find": 3 * 40, "insert": 1, "update": 2}
    docs = await store.notifications.find({}).to_list()
    assert {(d["state"], d["attempts"]) for d in docs} == {("sent", 1)}
    assert all(SEALER.open(d["phone_sealed"]) == phone(i) for i, d in enumerate(sorted(docs, key=_phone_of)))

    await handle_batch(envelopes, ctx)  # the same events again (a worker died before committing)

    assert len(capture.received) == 40
    assert {d["state"] for d in await store.notifications.find({}).to_list()} == {"sent"}


def _phone_of(doc: dict[str, Any]) -> str:
    return SEALER.open(doc["phone_sealed"])


async def test_a_record_claimed_by_a_dead_worker_is_sent_with_its_id_once(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    sub = await complaint(store, phone(1))
    envelope = event(routed(sub), sub.complaint_id, DAY)
    ctx = context(store, publisher, gateway, Clock(DAY))
    # What a batch leaves when its worker is killed after the claim, before the provider answered.
    await handle_batch([envelope], ctx)
    [record] = await store.notifications.find({}).to_list()
    await store.notifications.update_one({"_id": record["_id"]}, {"$set": {"state": "sending"}})

    await handle_batch([envelope], ctx)

    assert [m["id"] for m in capture.received] == [
        record["_id"],
        record["_id"],
    ]  # same id: dropped as a repeat
    [record] = await store.notifications.find({}).to_list()
    assert (record["state"], record["attempts"]) == ("sent", 2)


async def test_opt_out_per_phone_limit_and_coalescing_hold_in_a_batch(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, max_per_hour=2)
    opted = await complaint(store, phone(1))
    await preferences.set_opted_out(store, opted.phone_hash or "", True, DAY - timedelta(days=1))
    busy = [await complaint(store, phone(2)) for _ in range(3)]  # three complaints, one phone
    late = await complaint(store, phone(3))
    # The routing SMS of ``late`` was sent already; its older "received" comes afterwards.
    await handle(event(routed(late), late.complaint_id, DAY), ctx)
    sent_before = len(capture.received)

    batch = [
        event(routed(opted), opted.complaint_id, DAY),
        *(event(_ack(sub), sub.complaint_id, DAY) for sub in busy),
        event(late, late.complaint_id, DAY - timedelta(minutes=1)),
    ]
    await handle_batch(batch, ctx)

    states = {(d["complaint_id"], d["template"]): d for d in await store.notifications.find({}).to_list()}
    assert states[(opted.complaint_id, "routed")]["state"] == "suppressed"
    busy_states = sorted(states[(sub.complaint_id, "acknowledged")]["state"] for sub in busy)
    assert busy_states == ["deferred", "sent", "sent"]
    [limited] = [
        states[(s.complaint_id, "acknowledged")]
        for s in busy
        if states[(s.complaint_id, "acknowledged")]["state"] == "deferred"
    ]
    assert limited["attempts"] == 0 and limited["send_at"] > DAY
    assert states[(late.complaint_id, "received")]["state"] == "superseded"
    assert len(capture.received) == sent_before + 2
    assert phone(1) not in {m["to"] for m in capture.received}

    clock.now = DAY + timedelta(hours=1, seconds=1)
    assert await flush(ctx) == 1  # the limited one goes when the hour is over


def _ack(sub: ComplaintSubmitted) -> ComplaintAcknowledged:
    return ComplaintAcknowledged(complaint_id=sub.complaint_id, actor_id="k1", actor_name="کارشناس", at=DAY)


async def test_a_provider_failure_in_a_batch_is_retried_alone(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    subs = [await complaint(store, phone(i)) for i in range(5)]
    capture.fail_next = 1  # the first request of the batch is answered 503

    await handle_batch(
        [event(routed(sub), sub.complaint_id, DAY) for sub in subs],
        context(store, publisher, gateway, Clock(DAY)),
    )

    assert len(capture.received) == 5 and len({m["id"] for m in capture.received}) == 5
    attempts = sorted(d["attempts"] for d in await store.notifications.find({"state": "sent"}).to_list())
    assert attempts == [1, 1, 1, 1, 2]


async def test_a_decision_about_a_complaint_seen_submitted_reads_no_record_and_a_restart_reads_it(
    counted: tuple[Store, Commands], publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    store, commands = counted
    subs = [await complaint(store, phone(i)) for i in range(10)]
    ctx = context(store, publisher, gateway, Clock(DAY), citizen_templates={"complaint.routed": ["routed"]})
    ctx.facts = ComplaintFacts()
    await handle_batch([event(sub, sub.complaint_id, DAY) for sub in subs[:6]], ctx)  # seen submitted
    assert capture.received == []  # no "received" SMS under this policy
    commands.sent.clear()

    await handle_batch([event(routed(sub), sub.complaint_id, DAY) for sub in subs], ctx, send_concurrency=4)

    # The six seen submitted: the opt-out and the phone's earlier SMS; the other four read their record too.
    assert commands.sent["find"] == 2 * 10 + 4
    assert sorted(m["to"] for m in capture.received) == sorted(phone(i) for i in range(10))
    by_phone = {m["to"]: m["text"] for m in capture.received}
    assert all(_digits(sub.tracking_code) in by_phone[phone(i)] for i, sub in enumerate(subs))

    # A restart forgets everything: the next decisions read their records and are sent all the same.
    ctx.facts = ComplaintFacts()
    commands.sent.clear()
    again = [event(routed(sub), sub.complaint_id, DAY + timedelta(minutes=1)) for sub in subs[:3]]
    await handle(again[0], ctx)
    await handle_batch(again[1:], ctx)

    assert commands.sent["find"] >= 3 * 3
    assert len(capture.received) == 13
    assert sorted(m["to"] for m in capture.received[10:]) == sorted(phone(i) for i in range(3))


async def test_an_opt_out_between_two_sms_stops_the_second_though_the_phone_is_remembered(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    sub = await complaint(store, phone(7))
    ctx = context(
        store,
        publisher,
        gateway,
        Clock(DAY),
        citizen_templates={
            "complaint.routed": ["routed"],
            "complaint.triage-needed": ["triage"],
            "citizen.opted-out": ["opted_out"],
        },
    )
    ctx.facts = ComplaintFacts()
    await handle_batch([event(sub, sub.complaint_id, DAY)], ctx)
    await handle_batch([event(_triage(sub), sub.complaint_id, DAY)], ctx)
    assert [m["to"] for m in capture.received] == [phone(7)]

    opt_out = CitizenOptedOut(
        phone_hash=sub.phone_hash or "",
        phone_sealed=sub.phone_sealed or "",
        provider="http",
        message_id=str(uuid.uuid4()),
        received_at=DAY + timedelta(seconds=1),
    )
    assert await handle(event(opt_out, sub.phone_hash or "", DAY + timedelta(seconds=1)), ctx) == "sent"
    later = DAY + timedelta(seconds=2)
    await handle_batch([event(routed(sub), sub.complaint_id, later)], ctx)

    assert ctx.facts.hits == 2  # both decisions took the phone from memory
    routed_record = await store.notifications.find_one(
        {"complaint_id": sub.complaint_id, "template": "routed"}
    )
    assert routed_record is not None and routed_record["state"] == "suppressed"
    assert [m["to"] for m in capture.received] == [phone(7), phone(7)]  # the triage SMS, the confirmation


def _triage(sub: ComplaintSubmitted) -> ComplaintTriageNeeded:
    return ComplaintTriageNeeded(**routed(sub).model_dump(exclude={"department"}), department="triage")


def _digits(code: str) -> str:
    return code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
