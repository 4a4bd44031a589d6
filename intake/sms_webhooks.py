"""What SMS providers post to intake, authenticated and normalised into one shape, free of HTTP.

Two wire forms are understood:

- ``http``, Pasokh's generic provider: a JSON body, signed. ``X-Pasokh-Timestamp`` holds unix seconds
  and ``X-Pasokh-Signature`` is ``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}.{raw body}"`` with the
  webhook secret; the timestamp must be within ±300 s, so a captured request cannot be replayed later.
  Inbound: ``{"id", "from", "to", "text", "received_at"?}``. Delivery report:
  ``{"id", "status": delivered|failed|undeliverable|expired, "reason"?, "at"?}``.
- ``kavenegar``: form fields (or query parameters). Inbound: ``messageid``, ``from``, ``to``,
  ``message`` (``sender``/``receptor``/``date`` also read); delivery report: ``messageid``, ``status``
  (Kavenegar's numeric code), ``statustext``. Kavenegar's callbacks carry no signature, so these
  requests may instead prove themselves with ``?token=<webhook secret>`` in the callback URL configured
  in Kavenegar's panel. JSON requests never may.
- ``smsir`` (delivery reports only, ``POST /v1/sms/delivery/smsir``): SMS.ir's message report, the
  object its REST API v1 returns for a sent message — ``messageId``, ``mobile``, ``deliveryState``,
  ``deliveryDateTime`` (unix seconds) — as a JSON body (bare, in a list, or in SMS.ir's envelope
  ``{"status", "message", "data"}``) or as form/query fields. SMS.ir cannot sign either, so the
  callback URL carries ``?token=<webhook secret>`` (accepted on this route also for JSON). The exact
  shape of SMS.ir's pushed callback could not be confirmed from its public documentation (see
  docs/intake.md); the fields are those of its documented report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from intake.errors import InvalidWebhookSignature, SmsWebhooksNotConfigured
from services.contracts.notifications import DeliveryStatus

Provider = Literal["http", "kavenegar", "smsir"]
SIGNATURE_HEADER = "X-Pasokh-Signature"
TIMESTAMP_HEADER = "X-Pasokh-Timestamp"
MAX_SKEW_SECONDS = 300
MAX_TEXT = 4000
MAX_REASON = 500

# Kavenegar's delivery codes (sms/status in its REST documentation). Codes 1, 2, 4 and 5 (queued,
# scheduled, handed to the operator) are not final; 100 means "unknown message id". Those are skipped.
KAVENEGAR_FINAL: dict[int, tuple[DeliveryStatus, str]] = {
    6: ("failed", "the operator failed to send it (Kavenegar status 6)"),
    10: ("delivered", "delivered to the handset (Kavenegar status 10)"),
    11: ("undeliverable", "not delivered: the phone is off or out of reach (Kavenegar status 11)"),
    13: ("failed", "cancelled, or failed before sending (Kavenegar status 13)"),
    14: ("undeliverable", "blocked: the recipient refuses such SMS (Kavenegar status 14)"),
}

# SMS.ir's ``deliveryState`` of a sent message (its REST API v1 message report). 3 (being processed
# by the telecom) and 5 (handed to the operator) are not final and are skipped.
SMSIR_FINAL: dict[int, tuple[DeliveryStatus, str]] = {
    1: ("delivered", "delivered to the handset (SMS.ir deliveryState 1)"),
    2: ("undeliverable", "not delivered to the handset (SMS.ir deliveryState 2)"),
    4: ("failed", "did not reach the telecom operator (SMS.ir deliveryState 4)"),
    6: ("failed", "sending failed (SMS.ir deliveryState 6)"),
    7: ("undeliverable", "the number is on the blacklist (SMS.ir deliveryState 7)"),
}

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


@dataclass(frozen=True)
class InboundSms:
    """One SMS a citizen sent to the short code, as any provider reports it."""

    provider: Provider
    message_id: str
    sender: str
    recipient: str | None
    text: str
    received_at: datetime | None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's report on an SMS we sent; ``status`` None means "not final yet" (nothing to tell)."""

    provider: Provider
    message_id: str
    status: DeliveryStatus | None
    reason: str | None
    reported_at: datetime | None


class InboundJson(BaseModel):
    """The generic ``http`` provider's inbound SMS."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: Id
    sender: str = Field(alias="from", min_length=1, max_length=64)
    to: str | None = Field(default=None, max_length=64)
    text: str = Field(max_length=MAX_TEXT)
    received_at: datetime | None = None


class DeliveryJson(BaseModel):
    """The generic ``http`` provider's delivery report."""

    model_config = ConfigDict(extra="ignore")

    id: Id
    status: DeliveryStatus
    reason: str | None = None
    at: datetime | None = None


class KavenegarInbound(BaseModel):
    """Kavenegar's forwarded inbound SMS (form fields)."""

    model_config = ConfigDict(extra="ignore")

    messageid: Id
    sender: str = Field(min_length=1, max_length=64)
    receptor: str | None = Field(default=None, max_length=64)
    message: str = Field(max_length=MAX_TEXT)
    date: int | None = None


class KavenegarDelivery(BaseModel):
    """Kavenegar's delivery callback (form fields)."""

    model_config = ConfigDict(extra="ignore")

    messageid: Id
    status: int
    statustext: str | None = None


class SmsIrDelivery(BaseModel):
    """SMS.ir's report on one sent message (JSON or form fields; extra fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    messageId: Annotated[int, Field(ge=1)] | Id  # noqa: N815 (SMS.ir's field name)
    deliveryState: int  # noqa: N815
    deliveryDateTime: int | None = None  # noqa: N815
    mobile: str | None = Field(default=None, max_length=64)


def is_json(content_type: str | None) -> bool:
    """True for ``application/json`` (and ``+json``) bodies."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def authenticate(
    secret: str | None,
    *,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    now: float | None = None,
    token_on_json: bool = False,
) -> None:
    """Raise unless the request is signed with ``secret``, or carries it as ``?token=``: on form
    requests (Kavenegar's callbacks), and with ``token_on_json`` whatever the body (SMS.ir cannot sign)."""
    if not secret:
        raise SmsWebhooksNotConfigured()
    signature = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER.lower()) or headers.get(TIMESTAMP_HEADER)
    if signature is None and timestamp is None and "token" in query:
        if is_json(headers.get("content-type")) and not token_on_json:
            raise InvalidWebhookSignature("a token is accepted only on Kavenegar's form callbacks")
        if not hmac.compare_digest(query["token"].encode(), secret.encode()):
            raise InvalidWebhookSignature("wrong token")
        return
    if not signature or not timestamp:
        raise InvalidWebhookSignature("missing signature or timestamp")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidWebhookSignature("timestamp is not unix seconds") from None
    if abs((time.time() if now is None else now) - sent_at) > MAX_SKEW_SECONDS:
        raise InvalidWebhookSignature("timestamp outside the allowed window")
    expected = "sha256=" + sign(secret, timestamp, body)
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        raise InvalidWebhookSignature("signature does not match")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{body}"``: what a provider puts after ``sha256=``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _invalid(exc: ValidationError) -> RequestValidationError:
    # The project's 422 body: one entry per problem, as for any other request.
    return RequestValidationError(exc.errors(include_url=False, include_context=False))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body is not valid JSON", "type": "json_invalid"}]
        ) from None


def _form(body: bytes, query: Mapping[str, str]) -> dict[str, str]:
    # Kavenegar may post form fields or put them in the query string; the token is ours, not a field.
    fields = {k: v for k, v in query.items() if k != "token"}
    fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


def _unix(seconds: int | None) -> datetime | None:
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def parse_inbound(content_type: str | None, body: bytes, query: Mapping[str, str]) -> InboundSms:
    """The inbound SMS in a provider's request; 422 (RequestValidationError) when it is not one."""
    try:
        if is_json(content_type):
            data = InboundJson.model_validate(_json(body))
            return InboundSms("http", data.id, data.sender, data.to, data.text, _aware(data.received_at))
        fields = _form(body, query)
        fields.setdefault("sender", fields.get("from", ""))
        fields.setdefault("receptor", fields.get("to", ""))
        form = KavenegarInbound.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return InboundSms(
        "kavenegar", form.messageid, form.sender, form.receptor or None, form.message, _unix(form.date)
    )


def parse_delivery(content_type: str | None, body: bytes, query: Mapping[str, str]) -> DeliveryReport:
    """The delivery report in a provider's request; 422 (RequestValidationError) when it is not one."""
    try:
        if is_json(content_type):
            data = DeliveryJson.model_validate(_json(body))
            reason = data.reason[:MAX_REASON] if data.reason else None
            return DeliveryReport("http", data.id, data.status, reason, _aware(data.at))
        form = KavenegarDelivery.model_validate(_form(body, query))
    except ValidationError as exc:
        raise _invalid(exc) from None
    final = KAVENEGAR_FINAL.get(form.status)
    if final is None:
        return DeliveryReport("kavenegar", form.messageid, None, None, None)
    status, reason = final
    if form.statustext and form.statustext.strip():
        reason = f"{reason}: {form.statustext.strip()}"[:MAX_REASON]
    return DeliveryReport("kavenegar", form.messageid, status, reason, None)


def _smsir_items(content_type: str | None, body: bytes, query: Mapping[str, str]) -> list[Any]:
    if not is_json(content_type):
        return [_form(body, query)]
    data = _json(body)
    if isinstance(data, dict) and "data" in data and "deliveryState" not in data:
        data = data["data"]  # SMS.ir's envelope {"status", "message", "data"}
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > 100:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "1 to 100 reports per request", "type": "too_many_reports"}]
        )
    return items


def parse_smsir_delivery(
    content_type: str | None, body: bytes, query: Mapping[str, str]
) -> list[DeliveryReport]:
    """SMS.ir's delivery reports in a request; 422 (RequestValidationError) when they are not."""
    try:
        reports = [SmsIrDelivery.model_validate(item) for item in _smsir_items(content_type, body, query)]
    except ValidationError as exc:
        raise _invalid(exc) from None
    found: list[DeliveryReport] = []
    for report in reports:
        final = SMSIR_FINAL.get(report.deliveryState)
        message_id = str(report.messageId)
        if final is None:
            found.append(DeliveryReport("smsir", message_id, None, None, None))
            continue
        status, reason = final
        found.append(DeliveryReport("smsir", message_id, status, reason, _unix(report.deliveryDateTime)))
    return found
