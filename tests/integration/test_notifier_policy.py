"""What the citizen and the department are told, and when: the notifier's policy on real MongoDB and
Kafka, SMS to a real local HTTP gateway, department notices to a real local HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from notifier import preferences
from notifier.departments import DepartmentNotices
from notifier.handlers import Context, Retry, flush, handle
from notifier.settings import DepartmentHook, DepartmentSettings, PolicySettings
from notifier.sms.http import HttpSms
from services import records
from services.bus import KafkaPublisher
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintReassigned,
    ComplaintReopened,
    ComplaintResolved,
)
from services.contracts.citizens import CitizenOptedIn, CitizenOptedOut, CitizenStatusRequested
from services.contracts.complaints import ComplaintRated, ComplaintSubmitted
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.routing import ComplaintEscalated
from services.store import Store
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits
from tests.factories import SEALER, routed, submitted, wired
from tests.support.clock import Clock, no_wait
from tests.support.sms_server import SmsCapture

TAXONOMY = load_taxonomy()
PHONE = "+989121234567"
# 10:00 in Tehran; 23:30 in Tehran.
DAY = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
NIGHT = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
MORNING = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 07:00 in Tehran


class HookCapture:
    """A department's webhook endpoint: records each body and its headers."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                capture.received.append((body, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notices"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hooks() -> Iterator[HookCapture]:
    server = HookCapture()
    yield server
    server.stop()


def context(
    store: Store,
    publisher: KafkaPublisher,
    gateway: HttpSms,
    clock: Clock,
    *,
    opt_outs: preferences.Remembered | None = None,
    **policy: Any,
) -> Context:
    return Context(
        opt_outs=opt_outs,
        store=store,
        publisher=publisher,
        sms=gateway,
        sealer=SEALER,
        taxonomy=TAXONOMY,
        retry=Retry(max_attempts=3, base_seconds=0.01, sleep=no_wait),
        policy=PolicySettings(**policy),
        clock=clock,
    )


def event(payload: EventPayload, subject: str, at: datetime) -> Envelope:
    return wired(payload, subject, at=at)


async def complaint(store: Store, phone: str = PHONE, **extra: Any) -> ComplaintSubmitted:
    sub = submitted(phone=phone, **extra)
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    await store.complaints.update_one(
        {"_id": sub.complaint_id}, {"$set": {"department": "lighting", "status": "routed"}}
    )
    return sub


def staff(model: type[Any], sub: ComplaintSubmitted, at: datetime, **fields: Any) -> Envelope:
    payload = model(complaint_id=sub.complaint_id, actor_id="k1", actor_name="کارشناس", at=at, **fields)
    return event(payload, sub.complaint_id, at)


def fa(code: str) -> str:
    return to_persian_digits(code)


async def test_events_within_the_window_become_one_sms_with_the_latest_state(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=20)
    sub = submitted(phone=PHONE)
    await records.record_received(store, sub, event_id="e1")

    assert await handle(event(sub, sub.complaint_id, DAY), ctx) == "deferred"
    clock.now = DAY + timedelta(seconds=5)
    assert await handle(event(routed(sub), sub.complaint_id, clock.now), ctx) == "deferred"
    clock.now = DAY + timedelta(seconds=19)
    assert await flush(ctx) == 0 and capture.received == []
    clock.now = DAY + timedelta(seconds=26)

    assert await flush(ctx) == 1
    [message] = capture.received
    assert "ارجاع" in message["text"] and fa(sub.tracking_code) in message["text"]
    states = {d["template"]: d["state"] for d in await store.notifications.find().to_list()}
    assert states == {"received": "superseded", "routed": "sent"}


async def test_a_lone_received_sms_carries_the_tracking_code(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=20)
    sub = submitted(phone=PHONE)

    await handle(event(sub, sub.complaint_id, DAY), ctx)
    clock.now = DAY + timedelta(seconds=21)
    await flush(ctx)
    await flush(ctx)

    [message] = capture.received
    assert message["to"] == PHONE and f"کد پیگیری: {fa(sub.tracking_code)}" in message["text"]


async def test_quiet_hours_defer_to_the_morning_in_order_and_urgent_goes_at_once(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(NIGHT)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0)
    first, second = await complaint(store), await complaint(store, phone="+989351112233")
    urgent = await complaint(store, phone="+989191112233")

    assert await handle(staff(ComplaintAcknowledged, first, NIGHT), ctx) == "deferred"
    clock.now = NIGHT + timedelta(minutes=10)
    assert await handle(staff(ComplaintAcknowledged, second, clock.now), ctx) == "deferred"
    assert (
        await handle(event(routed(urgent, priority="urgent"), urgent.complaint_id, clock.now), ctx) == "sent"
    )
    assert [m["to"] for m in capture.received] == ["+989191112233"]

    clock.now = MORNING - timedelta(minutes=1)
    assert await flush(ctx) == 0
    clock.now = MORNING
    assert await flush(ctx) == 2
    assert [m["to"] for m in capture.received[1:]] == [PHONE, "+989351112233"]
    assert fa(first.tracking_code) in capture.received[1]["text"]


async def test_opt_out_is_honoured_at_once_and_kept_until_opt_in(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0)
    sub = await complaint(store)
    fields = {
        "phone_sealed": SEALER.seal(PHONE),
        "phone_hash": SEALER.lookup_hash(PHONE),
        "provider": "http",
        "received_at": DAY,
    }

    stop = event(CitizenOptedOut(message_id="m1", **fields), fields["phone_hash"], DAY)
    assert await handle(stop, ctx) == "sent"  # the confirmation
    assert await preferences.opted_out(store, fields["phone_hash"])
    assert await handle(staff(ComplaintAcknowledged, sub, DAY), ctx) == "suppressed"
    assert await handle(stop, ctx) == "sent"  # a redelivery: no second confirmation
    assert len(capture.received) == 1 and "«شروع»" in capture.received[0]["text"]

    start = CitizenOptedIn(message_id="m2", **{**fields, "received_at": DAY + timedelta(minutes=1)})
    assert await handle(event(start, fields["phone_hash"], DAY + timedelta(minutes=1)), ctx) == "sent"
    # An opt-out delivered late (older than the opt-in) does not undo the opt-in.
    await preferences.set_opted_out(store, fields["phone_hash"], True, DAY)
    assert not await preferences.opted_out(store, fields["phone_hash"])
    await handle(staff(ComplaintResolved, sub, DAY, note="لامپ تعویض شد"), ctx)
    assert "لامپ تعویض شد" in capture.received[-1]["text"]
    assert len(capture.received) == 3


async def test_opted_out_phones_held_in_memory_answer_as_the_store_does_without_reading_it(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    memory = preferences.Remembered()
    ctx = context(store, publisher, gateway, Clock(DAY), opt_outs=memory, coalesce_seconds=0)
    sub = await complaint(store)
    phone_hash = SEALER.lookup_hash(PHONE)
    # Chosen before this worker became the only one: read by the load.
    await preferences.set_opted_out(store, phone_hash, True, DAY - timedelta(days=1))
    assert memory.known(phone_hash) is None and not memory.exact  # not loaded: the store is asked
    await memory.load(store)
    assert memory.known(phone_hash) is True
    assert memory.known(SEALER.lookup_hash("+989351112233")) is False

    # The memory answers: with the store's record gone behind its back, the SMS is still held back.
    await store.db[preferences.COLLECTION].delete_one({"_id": phone_hash})
    assert await handle(staff(ComplaintAcknowledged, sub, DAY), ctx) == "suppressed"
    # Once another worker may receive opt-outs, the store is asked again (and says: not opted out).
    memory.forget()
    assert memory.known(phone_hash) is None
    again = staff(ComplaintAcknowledged, sub, DAY + timedelta(minutes=1))
    assert await handle(again, ctx) == "sent"

    # Choices this worker handles go to the store and the memory alike.
    await memory.load(store)
    fields = {"phone_sealed": SEALER.seal(PHONE), "phone_hash": phone_hash, "provider": "http"}
    at = DAY + timedelta(minutes=5)
    await handle(event(CitizenOptedOut(message_id="m1", received_at=at, **fields), phone_hash, at), ctx)
    assert memory.known(phone_hash) is True and await preferences.opted_out(store, phone_hash)
    # An older choice delivered late changes neither.
    late = CitizenOptedIn(message_id="m0", received_at=DAY, **fields)
    await handle(event(late, phone_hash, DAY), ctx)
    assert memory.known(phone_hash) is True and await preferences.opted_out(store, phone_hash)
    at += timedelta(minutes=1)
    await handle(event(CitizenOptedIn(message_id="m2", received_at=at, **fields), phone_hash, at), ctx)
    assert memory.known(phone_hash) is False and not await preferences.opted_out(store, phone_hash)

    # A choice recorded while a load is reading is kept, whichever the load saw.
    other = SEALER.lookup_hash("+989351112233")
    loading = asyncio.create_task(memory.load(store))
    await asyncio.sleep(0)  # the load has sent its query
    memory.record(other, True)
    await loading
    assert memory.known(other) is True
    # A load overtaken by forget() leaves the memory silent.
    loading = asyncio.create_task(memory.load(store))
    await asyncio.sleep(0)
    memory.forget()
    await loading
    assert memory.known(other) is None


async def test_an_sms_deferred_for_the_night_is_not_sent_after_an_opt_out_in_the_night(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(NIGHT)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0)
    sub = await complaint(store)
    other = await complaint(store, phone="+989351112233")
    assert await handle(staff(ComplaintAcknowledged, sub, NIGHT), ctx) == "deferred"
    assert await handle(staff(ComplaintAcknowledged, other, NIGHT), ctx) == "deferred"

    clock.now = NIGHT + timedelta(hours=1)
    fields = {
        "phone_sealed": SEALER.seal(PHONE),
        "phone_hash": SEALER.lookup_hash(PHONE),
        "provider": "http",
        "received_at": clock.now,
    }
    stop = event(CitizenOptedOut(message_id="m1", **fields), fields["phone_hash"], clock.now)
    assert await handle(stop, ctx) == "sent"  # the confirmation goes at once, also at night
    clock.now = DAY + timedelta(days=1)  # the next morning

    assert await flush(ctx) == 1
    assert [m["to"] for m in capture.received] == [PHONE, "+989351112233"]  # confirmation, other's SMS
    states = {
        d["complaint_id"]: d["state"]
        for d in await store.notifications.find({"template": "acknowledged"}).to_list()
    }
    assert states == {sub.complaint_id: "suppressed", other.complaint_id: "sent"}


async def test_a_status_request_is_answered_even_at_night(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(NIGHT)
    ctx = context(store, publisher, gateway, clock)
    sub = await complaint(store)
    fields = {
        "phone_sealed": SEALER.seal(PHONE),
        "phone_hash": SEALER.lookup_hash(PHONE),
        "provider": "http",
        "received_at": NIGHT,
    }
    found = CitizenStatusRequested(
        message_id="s1", tracking_code=sub.tracking_code, found=True, complaint_id=sub.complaint_id, **fields
    )
    missing = CitizenStatusRequested(message_id="s2", tracking_code="1111111111", found=False, **fields)

    assert await handle(event(found, sub.complaint_id, NIGHT), ctx) == "sent"
    assert await handle(event(missing, fields["phone_hash"], NIGHT), ctx) == "sent"

    answer, unknown = capture.received
    assert f"وضعیت درخواست {fa(sub.tracking_code)}: ارجاع شده" in answer["text"]
    assert "روشنایی" in answer["text"]
    assert unknown["text"] == "پاسخ: درخواستی با کد ۱۱۱۱۱۱۱۱۱۱ پیدا نشد."


async def test_per_phone_limit_defers_the_rest_to_the_next_hour(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0, max_per_hour=2)
    subs = [await complaint(store) for _ in range(3)]

    states = [await handle(staff(ComplaintAcknowledged, sub, DAY), ctx) for sub in subs]

    assert states == ["sent", "sent", "deferred"] and len(capture.received) == 2
    clock.now = DAY + timedelta(minutes=59)
    assert await flush(ctx) == 0
    clock.now = DAY + timedelta(hours=1, seconds=1)
    assert await flush(ctx) == 1
    assert fa(subs[2].tracking_code) in capture.received[2]["text"]


async def test_survey_after_the_delay_never_at_night_and_a_low_rating_offers_reopening(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    evening = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 21:00 in Tehran; +2 h is 23:00
    clock = Clock(evening)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0, survey_delay_minutes=120)
    sub = await complaint(store)

    assert await handle(staff(ComplaintResolved, sub, evening, note="انجام شد"), ctx) == "deferred"
    [resolved] = capture.received
    assert "انجام شد" in resolved["text"]
    clock.now = evening + timedelta(hours=3)  # 00:00 in Tehran: due, but quiet
    assert await flush(ctx) == 0
    clock.now = MORNING
    assert await flush(ctx) == 1
    survey = capture.received[1]["text"]
    assert "از ۱ تا ۵" in survey and fa(sub.tracking_code) in survey

    rated = ComplaintRated(complaint_id=sub.complaint_id, rating=4, channel="sms", answered_at=MORNING)
    assert await handle(event(rated, sub.complaint_id, MORNING), ctx) is None
    low = ComplaintRated(complaint_id=sub.complaint_id, rating=1, channel="sms", answered_at=MORNING)
    assert await handle(event(low, sub.complaint_id, MORNING), ctx) == "sent"
    assert "«بازگشایی» یا ۰" in capture.received[2]["text"]


async def test_a_reopened_complaint_gets_no_survey(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0, survey_delay_minutes=60)
    sub = await complaint(store)
    await handle(staff(ComplaintResolved, sub, DAY, note="انجام شد"), ctx)
    clock.now = DAY + timedelta(minutes=10)
    await handle(staff(ComplaintReopened, sub, clock.now, reason="درست نشد", by="citizen"), ctx)

    clock.now = DAY + timedelta(hours=2)
    assert await flush(ctx) == 0
    assert [m["text"].split(" ")[1] for m in capture.received] == ["درخواست", "درخواست"]
    assert not any("از ۱ تا ۵" in m["text"] for m in capture.received)


async def test_department_notices_are_signed_sent_once_and_escalations_skip_the_citizen(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture, hooks: HookCapture
) -> None:
    clock = Clock(DAY)
    secret = "lighting-" + uuid.uuid4().hex
    waste_secret = "waste-" + uuid.uuid4().hex
    settings = DepartmentSettings(
        hooks={
            "lighting": DepartmentHook(url=hooks.url, secret=secret),
            "waste": DepartmentHook(url=hooks.url, secret=waste_secret),
        }
    )
    departments = DepartmentNotices(settings)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=0)
    ctx.departments = departments
    sub = await complaint(store)
    routed_event = event(routed(sub), sub.complaint_id, DAY)
    escalated = ComplaintEscalated(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        category="lighting",
        department="lighting",
        priority="normal",
        due_at=DAY,
        at=DAY + timedelta(hours=1),
    )
    reassigned_away = staff(
        ComplaintReassigned,
        sub,
        DAY,
        from_department="lighting",
        to_department="waste",
        from_category="lighting",
        to_category="waste",
        reason="پسماند است",
    )
    try:
        await handle(routed_event, ctx)
        await handle(routed_event, ctx)  # redelivered
        assert await handle(event(escalated, sub.complaint_id, DAY), ctx) is None  # no citizen SMS
        await handle(reassigned_away, ctx)  # the new department is told
    finally:
        await departments.close()

    assert len(capture.received) == 1  # the citizen's routed SMS only
    assert len(hooks.received) == 3
    for (body, headers), key in zip(hooks.received, [secret, secret, waste_secret], strict=True):
        expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Pasokh-Signature"], expected)
    first, second, third = (json.loads(body) for body, _ in hooks.received)
    assert (third["event"], third["department"]) == ("complaint.reassigned", "waste")
    assert (first["event"], first["for_supervisor"]) == ("complaint.routed", False)
    assert (second["event"], second["for_supervisor"]) == ("complaint.escalated", True)
    assert first["tracking_code"] == sub.tracking_code and first["text"] == sub.text
    assert PHONE not in hooks.received[0][0].decode() and "phone" not in first


async def test_quiet_hours_can_be_switched_off(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    ctx = context(
        store, publisher, gateway, Clock(NIGHT), coalesce_seconds=0, quiet_start=time(0), quiet_end=time(0)
    )
    sub = await complaint(store)
    assert await handle(staff(ComplaintAcknowledged, sub, NIGHT), ctx) == "sent"


async def test_the_sender_resumes_a_stale_half_sent_sms_once_and_a_broken_record_fails_alone(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, capture: SmsCapture
) -> None:
    clock = Clock(DAY)
    ctx = context(store, publisher, gateway, clock, coalesce_seconds=5, stale_sending_seconds=60)
    good, broken = await complaint(store), await complaint(store, phone="+989351112233")
    await handle(staff(ComplaintAcknowledged, good, DAY), ctx)
    await handle(staff(ComplaintAcknowledged, broken, DAY), ctx)
    # A sender took the first one and died before the provider answered; the second one's sealed
    # phone cannot be opened (e.g. a record sealed under another key).
    await store.notifications.update_one(
        {"complaint_id": good.complaint_id}, {"$set": {"state": "sending", "taken_at": DAY}}
    )
    await store.notifications.update_one(
        {"complaint_id": broken.complaint_id}, {"$set": {"phone_sealed": SEALER.seal("x")[:-4] + "AAAA"}}
    )

    clock.now = DAY + timedelta(seconds=30)
    assert await flush(ctx) == 0  # the broken one is due but fails; the taken one is not stale yet
    clock.now = DAY + timedelta(seconds=61)
    assert await flush(ctx) == 1
    assert await flush(ctx) == 0

    [message] = capture.received
    assert message["to"] == PHONE and fa(good.tracking_code) in message["text"]
    states = {d["complaint_id"]: d["state"] for d in await store.notifications.find().to_list()}
    assert states == {good.complaint_id: "sent", broken.complaint_id: "failed"}
