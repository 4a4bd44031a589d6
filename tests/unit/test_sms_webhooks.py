"""SMS provider webhooks without Kafka or MongoDB: who is let in, and how each provider's request is read."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from pydantic import SecretStr

from intake import sms_webhooks
from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.errors import InvalidWebhookSignature, SmsWebhooksNotConfigured
from intake.ratelimit import RateLimitSettings
from intake.settings import IntakeHttpSettings, IntakeSettings
from intake.sms_webhooks import DeliveryReport, InboundSms, authenticate, parse_delivery, parse_inbound, sign
from services.bus import InMemoryPublisher
from services.contracts.notifications import DeliveryStatus
from services.settings import KafkaSettings, MongoSettings

SECRET = "webhook-secret-for-unit-tests"
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def signed(body: bytes, *, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        **JSON,
        "x-pasokh-timestamp": timestamp,
        "x-pasokh-signature": "sha256=" + sign(secret, timestamp, body),
    }


BODY = json.dumps({"id": "m1", "from": "09121234567", "to": "3000137", "text": "لغو"}).encode()


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_without_a_secret_every_call_is_refused(secret: str | None) -> None:
    with pytest.raises(SmsWebhooksNotConfigured):
        authenticate(secret, body=BODY, headers=signed(BODY), query={})


def test_a_signed_request_passes() -> None:
    authenticate(SECRET, body=BODY, headers=signed(BODY), query={})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(JSON, id="no headers"),
        pytest.param({**signed(BODY), "x-pasokh-signature": ""}, id="empty signature"),
        pytest.param({k: v for k, v in signed(BODY).items() if k != "x-pasokh-timestamp"}, id="no timestamp"),
        pytest.param({k: v for k, v in signed(BODY).items() if k != "x-pasokh-signature"}, id="no signature"),
        pytest.param(signed(BODY, secret="another-secret"), id="another secret"),
        pytest.param(signed(BODY + b" "), id="signature of another body"),
        pytest.param({**signed(BODY), "x-pasokh-timestamp": str(int(time.time()) + 1)}, id="other timestamp"),
        pytest.param({**signed(BODY), "x-pasokh-timestamp": "yesterday"}, id="timestamp not a number"),
        pytest.param(
            {**signed(BODY), "x-pasokh-signature": signed(BODY)["x-pasokh-signature"][7:]}, id="no sha256="
        ),
    ],
)
def test_unsigned_or_badly_signed_requests_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidWebhookSignature):
        authenticate(SECRET, body=BODY, headers=headers, query={})


@pytest.mark.parametrize(("skew", "ok"), [(-301, False), (-299, True), (299, True), (301, False)])
def test_the_timestamp_must_be_within_300_seconds(skew: int, ok: bool) -> None:
    now = time.time()
    headers = signed(BODY, at=now + skew)
    if ok:
        authenticate(SECRET, body=BODY, headers=headers, query={}, now=now)
    else:
        with pytest.raises(InvalidWebhookSignature):
            authenticate(SECRET, body=BODY, headers=headers, query={}, now=now)


def test_kavenegar_form_callbacks_may_carry_the_secret_as_token() -> None:
    form = urlencode({"messageid": "1", "from": "09121234567", "message": "لغو"}).encode()
    authenticate(SECRET, body=form, headers=FORM, query={"token": SECRET})
    with pytest.raises(InvalidWebhookSignature):
        authenticate(SECRET, body=form, headers=FORM, query={"token": SECRET + "x"})
    with pytest.raises(InvalidWebhookSignature):
        authenticate(SECRET, body=form, headers=FORM, query={"token": ""})


def test_json_requests_may_not_use_the_token() -> None:
    with pytest.raises(InvalidWebhookSignature):
        authenticate(SECRET, body=BODY, headers=JSON, query={"token": SECRET})


# --- reading what providers send -----------------------------------------------------------------


def test_generic_inbound_json() -> None:
    body = {
        "id": "m-1",
        "from": "۰۹۱۲۱۲۳۴۵۶۷",
        "to": "3000137",
        "text": "شروع",
        "received_at": "2026-03-01T08:00:00",
    }
    assert parse_inbound("application/json", json.dumps(body).encode(), {}) == InboundSms(
        "http", "m-1", "۰۹۱۲۱۲۳۴۵۶۷", "3000137", "شروع", datetime(2026, 3, 1, 8, tzinfo=UTC)
    )


def test_kavenegar_inbound_form_fields() -> None:
    form = urlencode({"messageid": "8792343", "from": "09121234567", "to": "10004346", "message": "لغو"})
    assert parse_inbound("application/x-www-form-urlencoded; charset=utf-8", form.encode(), {}) == InboundSms(
        "kavenegar", "8792343", "09121234567", "10004346", "لغو", None
    )


def test_kavenegar_inbound_in_the_query_string_with_sender_and_date() -> None:
    query = {"token": SECRET, "messageid": "7", "sender": "+989121234567", "receptor": "1000", "message": "5"}
    message = parse_inbound(None, b"", {**query, "date": "1767225600"})
    assert message == InboundSms(
        "kavenegar", "7", "+989121234567", "1000", "5", datetime(2026, 1, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[]"),
        ("application/json", json.dumps({"id": "m", "from": "0912"}).encode()),
        ("application/json", json.dumps({"from": "09121234567", "text": "لغو"}).encode()),
        ("application/x-www-form-urlencoded", urlencode({"from": "09121234567", "message": "x"}).encode()),
        ("application/x-www-form-urlencoded", urlencode({"messageid": "1", "message": "x"}).encode()),
        ("application/x-www-form-urlencoded", urlencode({"messageid": "1", "from": "0912"}).encode()),
    ],
    ids=[
        "broken json",
        "json array",
        "no text",
        "no id",
        "form without id",
        "form without sender",
        "form without message",
    ],
)
def test_a_request_that_is_no_inbound_sms_is_a_validation_error(content_type: str, body: bytes) -> None:
    with pytest.raises(RequestValidationError):
        parse_inbound(content_type, body, {})


@pytest.mark.parametrize("status", ["delivered", "failed", "undeliverable", "expired"])
def test_generic_delivery_reports(status: DeliveryStatus) -> None:
    body = json.dumps(
        {"id": "n-1", "status": status, "reason": "operator said so", "at": "2026-03-01T08:00:00Z"}
    )
    assert parse_delivery("application/json", body.encode(), {}) == DeliveryReport(
        "http",
        "n-1",
        status,
        "operator said so",
        datetime(2026, 3, 1, 8, tzinfo=UTC),
    )


def test_a_generic_report_with_an_unknown_status_is_a_validation_error() -> None:
    with pytest.raises(RequestValidationError):
        parse_delivery("application/json", json.dumps({"id": "n", "status": "read"}).encode(), {})


@pytest.mark.parametrize(
    ("code", "status"),
    [(10, "delivered"), (11, "undeliverable"), (14, "undeliverable"), (6, "failed"), (13, "failed")],
)
def test_kavenegar_final_codes(code: int, status: str) -> None:
    form = urlencode({"messageid": "8792343", "status": code, "statustext": "متن وضعیت"}).encode()
    report = parse_delivery("application/x-www-form-urlencoded", form, {})
    assert (report.provider, report.message_id, report.status) == ("kavenegar", "8792343", status)
    assert report.reason is not None and f"status {code}" in report.reason and "متن وضعیت" in report.reason


@pytest.mark.parametrize("code", [1, 2, 4, 5, 100, 42])
def test_kavenegar_codes_that_are_not_final_say_nothing(code: int) -> None:
    report = parse_delivery(None, b"", {"messageid": "8792343", "status": str(code)})
    assert report.status is None


# --- the HTTP edge, without Kafka or MongoDB --------------------------------------------------------


def _client(publisher: InMemoryPublisher, secret: str | None) -> TestClient:
    # Unreachable servers on purpose: the lifespan never runs, and everything below must be answered
    # without touching MongoDB or Kafka.
    settings = IntakeSettings(
        mongo=MongoSettings(uri="mongodb://127.0.0.1:1/", timeout_ms=200),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        intake=IntakeHttpSettings(
            rate_limits=RateLimitSettings(ip_burst=10_000),
            sms_webhook_secret=SecretStr(secret) if secret is not None else None,
        ),
    )
    return TestClient(create_app(bootstrap(settings, publisher=publisher)))


@pytest.fixture(scope="module")
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture(scope="module")
def client(publisher: InMemoryPublisher) -> Iterator[TestClient]:
    client = _client(publisher, SECRET)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _nothing_published(publisher: InMemoryPublisher) -> Iterator[None]:
    yield
    assert publisher.sent == [], "nothing here may publish"


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]["fa"].strip() and error["message"]["en"].strip()


@pytest.mark.parametrize("path", ["/v1/sms/inbound", "/v1/sms/delivery"])
def test_http_without_a_secret_every_call_gets_503(publisher: InMemoryPublisher, path: str) -> None:
    client = _client(publisher, None)
    _error(client.post(path, content=BODY, headers=signed(BODY)), 503, "sms_webhooks_not_configured")
    assert (
        "not configured"
        in client.post(path, content=BODY, headers=signed(BODY)).json()["error"]["message"]["en"]
    )


@pytest.mark.parametrize("path", ["/v1/sms/inbound", "/v1/sms/delivery"])
@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param(JSON, "", id="unsigned"),
        pytest.param(signed(BODY, secret="wrong-secret"), "", id="wrong secret"),
        pytest.param(signed(BODY, at=time.time() - 400), "", id="expired"),
        pytest.param(JSON, f"?token={SECRET}", id="token on json"),
    ],
)
def test_http_badly_signed_calls_get_401(
    client: TestClient, path: str, headers: dict[str, str], query: str
) -> None:
    _error(client.post(path + query, content=BODY, headers=headers), 401, "invalid_signature")


def test_http_a_wrong_token_on_a_form_callback_gets_401(client: TestClient) -> None:
    form = urlencode({"messageid": "1", "from": "09121234567", "message": "لغو"})
    response = client.post("/v1/sms/inbound?token=nope", content=form, headers=FORM)
    _error(response, 401, "invalid_signature")


def test_http_a_signed_malformed_body_gets_422(client: TestClient) -> None:
    body = json.dumps({"id": "m1", "from": "09121234567"}).encode()
    _error(client.post("/v1/sms/inbound", content=body, headers=signed(body)), 422, "invalid_request")


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "m2", "from": "09121234567", "to": "3000137", "text": "سلام"},
        {"id": "m3", "from": "+4915112345678", "to": "3000137", "text": "لغو"},
    ],
    ids=["too short for a complaint", "not an Iranian mobile"],
)
def test_http_messages_that_ask_for_nothing_are_ignored_without_touching_the_database(
    client: TestClient, fields: dict[str, str]
) -> None:
    body = json.dumps(fields).encode()
    response = client.post("/v1/sms/inbound", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "ignored"}


def test_http_a_kavenegar_report_that_is_not_final_is_ignored(client: TestClient) -> None:
    form = urlencode({"messageid": "8792343", "status": "4"})
    response = client.post(f"/v1/sms/delivery?token={SECRET}", content=form, headers=FORM)
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "ignored"}


def test_the_secret_is_not_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"/v1/sms/inbound", "/v1/sms/delivery"} <= set(document["paths"])
    assert SECRET not in json.dumps(document)
    assert sms_webhooks.SIGNATURE_HEADER in json.dumps(document["paths"]["/v1/sms/inbound"])


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_http_the_phone_is_logged_masked_and_never_returned(client: TestClient) -> None:
    captured = _Records()
    logger = logging.getLogger("intake")
    level = logger.level
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    try:
        body = json.dumps({"id": "m4", "from": "۰۹۱۲۷۶۵۴۳۲۱", "to": "3000137", "text": "سلام"}).encode()
        response = client.post("/v1/sms/inbound", content=body, headers=signed(body))
    finally:
        logger.removeHandler(captured)
        logger.setLevel(level)

    assert response.status_code == 200 and "7654321" not in response.text
    logged = [json.dumps(vars(r), default=str, ensure_ascii=False) for r in captured.records]
    assert any("+98912***4321" in line for line in logged), logged
    assert not any("7654321" in line or "۷۶۵۴۳۲۱" in line for line in logged)
