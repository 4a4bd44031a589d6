"""The citizen's SMS conversation end to end, every service a process (`pasokh up`): routed SMS and a
signed department notice, opt-out honoured at once and kept, opt-in, a status request answered, a low
rating offered a reopening, and the citizen's «بازگشایی» reopening the complaint in the same
department with a notice for its supervisor. Real Kafka and MongoDB, a local SMS gateway, a local
department webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from intake.sms_webhooks import sign
from pasokh.infra.local import LocalInfra
from services.text import to_persian_digits
from tests.e2e.test_staff import create_key, status, wait_until
from tests.integration.test_notifier_policy import HookCapture
from tests.support.sms_server import SmsCapture
from tests.support.system import PasokhUp

WEBHOOK_SECRET = "sms-webhook-secret-" + secrets.token_hex(8)
DEPARTMENT_SECRET = "lighting-secret-" + secrets.token_hex(8)
LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookCapture]:
    server = HookCapture()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(
    infra: LocalInfra, sms: SmsCapture, hooks: HookCapture, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PasokhUp]:
    """`pasokh up` with the SMS webhooks, a department webhook and an immediate survey."""
    up = PasokhUp(
        tmp_path_factory.mktemp("up"),
        {
            **infra.env(),
            "PASOKH_MONGO__DATABASE": f"pasokh_e2e_{uuid.uuid4().hex[:8]}",
            "PASOKH_SMS__PROVIDER": "http",
            "PASOKH_SMS__URL": sms.url,
            "PASOKH_INTAKE__SMS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PASOKH_DEPARTMENTS__HOOKS": json.dumps(
                {"lighting": {"url": hooks.url, "secret": DEPARTMENT_SECRET}}
            ),
            "PASOKH_POLICY__QUIET_START": "00:00",
            "PASOKH_POLICY__QUIET_END": "00:00",
            "PASOKH_POLICY__COALESCE_SECONDS": "8",
            "PASOKH_POLICY__SURVEY_DELAY_MINUTES": "0",
        },
    ).start()
    yield up
    assert up.stop() == 0, up.output()[-4000:]


def text_us(system: PasokhUp, phone: str, text: str) -> dict[str, Any]:
    """The citizen's SMS to the short code, as the provider's signed webhook delivers it."""
    body = json.dumps({"id": f"m-{uuid.uuid4().hex}", "from": phone, "to": "3000137", "text": text}).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-pasokh-timestamp": stamp,
        "x-pasokh-signature": "sha256=" + sign(WEBHOOK_SECRET, stamp, body),
    }
    response = httpx.post(f"{system.url('intake')}/v1/sms/inbound", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def notices(hooks: HookCapture, complaint_id: str) -> list[dict[str, Any]]:
    found = []
    for body, headers in list(hooks.received):
        expected = "sha256=" + hmac.new(DEPARTMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Pasokh-Signature"], expected)
        notice = json.loads(body)
        if notice["complaint_id"] == complaint_id:
            found.append(notice)
    return found


def test_the_citizens_sms_conversation(system: PasokhUp, sms: SmsCapture, hooks: HookCapture) -> None:
    phone = f"+98912{secrets.randbelow(10**7):07d}"
    key = create_key(system, "--name", "lighting desk", "--scopes", "staff", "--role", "department",
                     "--department", "lighting")  # fmt: skip
    staff = {"Authorization": f"Bearer {key}"}
    accepted = httpx.post(
        f"{system.url('intake')}/v1/complaints", json={"text": LIGHTS, "phone": phone, "district": "5"}
    ).json()
    cid, code = accepted["id"], accepted["tracking_code"]
    mine = f"{to_persian_digits(code)}"

    # Routed: one SMS (the "received" one was replaced within the window), the department is told.
    [routed] = sms.wait_for(mine)
    assert "ارجاع" in routed["text"] and routed["to"] == phone
    [notice] = wait_until(lambda: notices(hooks, cid))
    assert (notice["event"], notice["department"], notice["for_supervisor"]) == (
        "complaint.routed",
        "lighting",
        False,
    )
    assert phone not in json.dumps(notice)

    # Opt-out: confirmed, and then nothing reaches the phone, the resolution included.
    assert text_us(system, phone, "لغو")["action"] == "opted-out"
    wait_until(lambda: [m for m in sms.received if m["to"] == phone and "«شروع»" in m["text"]])
    resolve = httpx.post(
        f"{system.url('intake')}/v1/complaints/{cid}/resolve", json={"note": "لامپ تعویض شد"}, headers=staff
    )
    assert resolve.status_code == 202, resolve.text
    wait_until(lambda: status(system, code)["status"] == "resolved")
    time.sleep(12)  # longer than the coalescing window and several ticks of the sender
    assert not [m for m in sms.received if m["to"] == phone and "لامپ تعویض شد" in m["text"]]
    assert not [m for m in sms.received if m["to"] == phone and "از ۱ تا ۵" in m["text"]]

    # Back in; a status request is answered.
    assert text_us(system, phone, "شروع")["action"] == "opted-in"
    assert text_us(system, phone, f"پیگیری {mine}")["action"] == "status-requested"
    [answer] = wait_until(lambda: [m for m in sms.received if m["to"] == phone and "وضعیت" in m["text"]])
    assert "انجام شده" in answer["text"]

    # A low rating is offered a reopening; «بازگشایی» reopens it in the same department.
    assert text_us(system, phone, "۱")["action"] == "rated"
    wait_until(lambda: [m for m in sms.received if m["to"] == phone and "«بازگشایی»" in m["text"]])
    assert text_us(system, phone, "بازگشایی")["action"] == "reopened"
    wait_until(lambda: status(system, code)["status"] == "reopened")
    assert status(system, code)["department"] == "lighting"
    sms.wait_for("دوباره باز شد")
    reopened = wait_until(lambda: [n for n in notices(hooks, cid) if n["event"] == "complaint.reopened"])
    assert reopened[0]["for_supervisor"] is True
    assert len(notices(hooks, cid)) == 2  # routed once, reopened once
