"""SMS.ir's delivery reports end to end on the real Kafka and MongoDB: the notifier sends through a local
server that speaks SMS.ir's API, SMS.ir's report reaches intake's webhook (token in the callback URL),
intake publishes ``notification.delivered`` once, and the notifier applies it to the record."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from intake.bootstrap import Intake
from notifier import delivery
from notifier.sms.smsir import SmsIrSms
from pasokh.infra.local import LocalInfra
from services.bus import KafkaPublisher
from services.contracts import topics
from tests.integration.test_sms_providers import notify, routed_event
from tests.integration.test_sms_webhooks import SECRET, events
from tests.support.sms_providers import SmsIr

IntakeApp = tuple[httpx.AsyncClient, Intake]
PATH = "/v1/sms/delivery/smsir"


@pytest.fixture
def smsir() -> Iterator[SmsIr]:
    server = SmsIr().start()
    yield server
    server.stop()


async def post(client: httpx.AsyncClient, body: Any, token: str | None = SECRET) -> httpx.Response:
    query = f"?token={token}" if token is not None else ""
    return await client.post(
        PATH + query, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


async def test_an_smsir_report_reaches_the_notification_record_once(
    sms_intake: IntakeApp, infra: LocalInfra, publisher: KafkaPublisher, smsir: SmsIr
) -> None:
    client, intake = sms_intake
    complaint_id, envelope = await routed_event(intake.store)
    gateway = SmsIrSms(smsir.api_key, smsir.line_number, url=smsir.url, timeout=5)
    try:
        assert await notify(envelope, intake.store, publisher, gateway) == "sent"
    finally:
        await gateway.close()
    [record] = await intake.store.notifications.find({"complaint_id": complaint_id}).to_list()
    assert (record["provider"], record["provider_message_id"]) == ("smsir", "86522023")

    # Not final yet (3: being processed by the telecom): nothing to tell.
    pending = {"messageId": 86522023, "mobile": "09121234567", "deliveryState": 3, "deliveryDateTime": None}
    assert (await post(client, pending)).json() == {"action": "ignored"}
    # Delivered, in SMS.ir's response envelope; then the same report again.
    report = {**pending, "deliveryState": 1, "deliveryDateTime": 1795687200}
    first = await post(client, {"status": 1, "message": "موفق", "data": report})
    again = await post(client, report)

    assert first.status_code == again.status_code == 200
    assert (first.json(), again.json()) == ({"action": "reported"}, {"action": "duplicate"})
    [event] = events(infra, topics.EVENTS, complaint_id)[-1:]
    assert (event.type, event.data["provider"], event.data["status"]) == (
        "org.pasokh.notification.delivered",
        "smsir",
        "delivered",
    )
    assert event.data["notification_id"] == record["_id"]
    assert event.data["reported_at"].startswith("2026-11-26T10:00:00")
    assert "09121234567" not in json.dumps(event.data)

    assert await delivery.apply(event, store=intake.store) == "delivered"
    stored = await intake.store.notifications.find_one({"_id": record["_id"]})
    assert stored is not None and (stored["state"], stored["delivery"]) == ("sent", "delivered")
    assert "SMS.ir deliveryState 1" in stored["delivery_reason"]


@pytest.mark.parametrize(
    ("state", "status"), [(2, "undeliverable"), (4, "failed"), (6, "failed"), (7, "undeliverable")]
)
async def test_smsir_states_map_to_the_notification_state_also_as_form_fields(
    sms_intake: IntakeApp, infra: LocalInfra, state: int, status: str
) -> None:
    client, intake = sms_intake
    complaint_id, message_id = f"complaint-{secrets.token_hex(8)}", str(secrets.randbelow(10**12) + 1)
    await intake.store.notifications.insert_one(
        {
            "_id": secrets.token_hex(16),
            "state": "sent",
            "complaint_id": complaint_id,
            "template": "routed",
            "provider": "smsir",
            "provider_message_id": message_id,
        }
    )

    response = await client.post(
        f"{PATH}?token={SECRET}",
        content=urlencode({"messageId": message_id, "deliveryState": state}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200 and response.json() == {"action": "reported"}
    [event] = events(infra, topics.EVENTS, complaint_id)
    assert event.data["status"] == status and f"deliveryState {state}" in event.data["reason"]


async def test_smsir_reports_need_the_token(sms_intake: IntakeApp) -> None:
    client, _ = sms_intake
    report = {"messageId": 1, "deliveryState": 1}

    wrong, missing = await post(client, report, token="guess"), await post(client, report, token=None)
    malformed = await post(client, {"deliveryState": 1})

    assert wrong.status_code == missing.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_signature"
    assert malformed.status_code == 422


@pytest.fixture
def sms_intake(intake_app: IntakeApp) -> IntakeApp:
    """intake with the SMS webhook secret set."""
    from pydantic import SecretStr

    intake_app[1].settings.intake.sms_webhook_secret = SecretStr(SECRET)
    return intake_app
