"""The survey's way back: a citizen who rated low replies «بازگشایی» / «۰» / REOPEN; intake publishes
``complaint.reopened`` (by the citizen), the router puts it back in the same department, and the
notifier tells the citizen and flags it to the department's supervisor — real Kafka and MongoDB, a
local SMS gateway and a local department webhook."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from pydantic import AnyHttpUrl, SecretStr

from intake import auth
from intake.bootstrap import Intake
from intake.web import accounts
from notifier.departments import DepartmentNotices
from notifier.handlers import Context, Retry, handle
from notifier.settings import DepartmentHook, DepartmentSettings, PolicySettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from router import stats as router_stats
from router.actions import apply_action
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits
from tests.integration.test_notifier_policy import HookCapture
from tests.integration.test_sms_webhooks import SECRET, complaint_of, events, inbound, new_phone
from tests.integration.test_web import PASSWORD, signed_in
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

    # The router applies it: reopened, still with the department that resolved it, and flagged for
    # the supervisor with the reason and the time.
    assert await apply_action(event, store=intake.store)
    doc = await records.find(intake.store, complaint_id)
    assert doc is not None and (doc["status"], doc["department"]) == ("reopened", "lighting")
    assert doc["needs_supervisor"] is True
    flag = doc["supervisor_flag"]
    assert flag["by"] == "citizen" and flag["reason"] == event.data["reason"]
    assert abs((flag["at"].replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 60

    # The notifier: the citizen is told, the department's supervisor is flagged.
    capture = SmsCapture().start()
    gateway = HttpSms(capture.url, timeout=5)
    secret = uuid.uuid4().hex
    hook = DepartmentHook(url=AnyHttpUrl(hooks.url), secret=SecretStr(secret))
    departments = DepartmentNotices(DepartmentSettings(hooks={"lighting": hook}))
    ctx = Context(
        store=intake.store,
        publisher=publisher,
        sms=gateway,
        sealer=intake.sealer,
        taxonomy=load_taxonomy(),
        retry=Retry(max_attempts=2, base_seconds=0.01),
        policy=PolicySettings(quiet_start=time(0), quiet_end=time(0), coalesce_seconds=0),
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


async def test_the_supervisor_flag_stays_until_a_supervisor_acts(sms: IntakeApp, infra: LocalInfra) -> None:
    client, intake = sms
    phone = new_phone()
    now = datetime.now(UTC)
    complaint_id = await complaint_of(
        intake, phone, status="resolved", created=now - timedelta(days=2), resolved_at=now,
        department="lighting", due_at=now + timedelta(days=1),
    )  # fmt: skip
    await inbound(client, phone, "بازگشایی")
    [reopened] = events(infra, topics.EVENTS, complaint_id)
    assert await apply_action(reopened, store=intake.store)
    await router_stats.count(reopened, store=intake.store)  # the router's inbox entry follows
    desk, _ = await auth.create_key(
        intake.store, name="lights desk", scopes=["staff"], role="department", departments=["lighting"]
    )
    await accounts.create_user(
        intake.store, username="sara", name="Sara (supervisor)", password=PASSWORD, role="supervisor"
    )

    async def applied_since(before: set[str]) -> Envelope:
        [event] = [e for e in events(infra, topics.EVENTS, complaint_id) if e.id not in before]
        assert await apply_action(event, store=intake.store)
        await router_stats.count(event, store=intake.store)
        return event

    # The department's own staff acting (API key) does not clear it: the supervisor has not looked yet.
    before = {e.id for e in events(infra, topics.EVENTS, complaint_id)}
    response = await client.post(
        f"/v1/complaints/{complaint_id}/comment",
        json={"text": "we will check it again"},
        headers={"Authorization": f"Bearer {desk}"},
    )
    assert response.status_code == 202, response.text
    by_desk = await applied_since(before)
    assert by_desk.data["actor_role"] == "department"
    doc = await records.find(intake.store, complaint_id)
    assert doc is not None and doc["needs_supervisor"] is True

    # The supervisor finds it with the inbox's filter, sees the flag on its page, and acts there.
    csrf = await signed_in(client, "sara")
    flagged = await client.get("/console/inbox", params={"flagged": "1"})
    assert flagged.status_code == 200 and complaint_id in flagged.text and "⚑" in flagged.text
    page = await client.get(f"/console/complaints/{complaint_id}")
    assert page.status_code == 200
    assert "نیازمند بررسی سرپرست: شهروند دوباره باز کرد" in page.text and reopened.data["reason"] in page.text
    before = {e.id for e in events(infra, topics.EVENTS, complaint_id)}
    done = await client.post(
        f"/console/complaints/{complaint_id}/acknowledge", data={"csrf": csrf, "note": "I follow this one"}
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=acknowledge")
    by_boss = await applied_since(before)
    assert by_boss.data["actor_role"] == "supervisor"

    doc = await records.find(intake.store, complaint_id)
    assert doc is not None and doc["needs_supervisor"] is False
    flag = doc["supervisor_flag"]
    assert (flag["by"], flag["cleared_by"]) == ("citizen", "Sara (supervisor)")
    assert flag["cleared_at"] >= flag["at"]
    page = await client.get(f"/console/complaints/{complaint_id}")
    assert page.status_code == 200 and "نیازمند بررسی سرپرست" not in page.text
    assert complaint_id not in (await client.get("/console/inbox", params={"flagged": "1"})).text
    assert complaint_id in (await client.get("/console/inbox")).text
