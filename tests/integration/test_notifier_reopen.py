"""The survey's way back: a citizen who rated low replies «بازگشایی» / «۰» / REOPEN; intake publishes
``complaint.reopened`` (by the citizen), the router puts it back in the same department, and the
notifier tells the citizen and flags it to the department's supervisor — real Kafka and MongoDB, a
local SMS gateway and a local department webhook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from intake.bootstrap import Intake
from notifier.departments import DepartmentNotices
from notifier.handlers import Context, Retry, handle
from notifier.settings import DepartmentHook, DepartmentSettings, PolicySettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from router.actions import apply_action
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits
from tests.integration.test_notifier_policy import HookCapture
from tests.integration.test_sms_webhooks import SECRET, complaint_of, events, inbound, new_phone
from tests.support.sms_server import SmsCapture

IntakeApp = tuple[httpx.AsyncClient, Intake]


@pytest.fixture
def sms(intake_app: IntakeApp) -> IntakeApp:
    intake_app[1].settings.intake.sms_webhook_secret = SecretStr(SECRET)
    return intake_app


@pytest.fixture
def hooks() -> Iterator[HookCapture]:
    server = HookCapture()
    yield server
    server.stop()


@pytest.mark.parametrize("reply", ["بازگشایی", "۰", "REOPEN"])
async def test_a_reopen_reply_reopens_the_last_resolved_complaint_in_the_same_department(
    sms: IntakeApp, infra: LocalInfra, publisher: KafkaPublisher, hooks: HookCapture, reply: str
) -> None:
    client, intake = sms
    phone = new_phone()
    now = datetime.now(UTC)
    complaint_id = await complaint_of(
        intake,
        phone,
        status="resolved",
        created=now - timedelta(days=2),
        resolved_at=now,
        department="lighting",
    )

    answer = await inbound(client, phone, reply)

    assert answer["action"] == "reopened" and answer["complaint_id"] == complaint_id
    [event] = events(infra, topics.EVENTS, complaint_id)
    assert event.type == "org.pasokh.complaint.reopened"
    assert event.data["by"] == "citizen" and phone not in json.dumps(event.data)

    # The router applies it: reopened, still with the department that resolved it.
    assert await apply_action(event, store=intake.store)
    doc = await records.find(intake.store, complaint_id)
    assert doc is not None and (doc["status"], doc["department"]) == ("reopened", "lighting")

    # The notifier: the citizen is told, the department's supervisor is flagged.
    capture = SmsCapture().start()
    gateway = HttpSms(capture.url, timeout=5)
    secret = uuid.uuid4().hex
    departments = DepartmentNotices(
        DepartmentSettings(hooks={"lighting": DepartmentHook(url=hooks.url, secret=secret)})
    )
    ctx = Context(
        store=intake.store,
        publisher=publisher,
        sms=gateway,
        sealer=intake.sealer,
        taxonomy=load_taxonomy(),
        retry=Retry(max_attempts=2, base_seconds=0.01),
        policy=PolicySettings(quiet_start="00:00", quiet_end="00:00", coalesce_seconds=0),
        departments=departments,
    )
    try:
        assert await handle(event, ctx) == "sent"
    finally:
        await gateway.close()
        await departments.close()
        capture.stop()
    [message] = capture.received
    assert message["to"] == phone
    assert f"درخواست {to_persian_digits(doc['tracking_code'])} دوباره باز شد" in message["text"]
    [(body, headers)] = hooks.received
    notice = json.loads(body)
    assert notice["event"] == "complaint.reopened" and notice["for_supervisor"] is True
    assert notice["department"] == "lighting" and "بازگشایی" in notice["reason"]


async def test_a_reopen_reply_without_a_resolved_complaint_does_nothing(
    sms: IntakeApp, infra: LocalInfra
) -> None:
    client, intake = sms
    phone = new_phone()
    open_one = await complaint_of(intake, phone, status="acknowledged", created=datetime.now(UTC))

    assert await inbound(client, phone, "بازگشایی") == {"action": "ignored"}
    assert events(infra, topics.EVENTS, open_one) == []
