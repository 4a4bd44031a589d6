"""SMS provider webhooks: citizens' SMS to the short code, and delivery reports of the SMS we sent.

Authentication, wire forms and providers: :mod:`intake.sms_webhooks`; what is done:
:mod:`intake.sms_handlers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from prometheus_client import Counter
from pydantic import BaseModel

from intake import sms_handlers, sms_webhooks
from intake.bootstrap import Intake
from intake.deps import IntakeDep
from intake.metrics import SUBMITTED
from intake.schemas import ErrorBody
from services.metrics import PREFIX

router = APIRouter(prefix="/v1/sms", tags=["sms"])

WEBHOOKS = Counter(
    f"{PREFIX}sms_webhooks", "SMS provider webhook calls answered 200", ["kind", "provider", "action"]
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 409, 413, 422, 429, 503)
}
_SIGNATURE_DOC = (
    "Signed like every SMS webhook: `X-Pasokh-Timestamp` (unix seconds, within ±300 s) and "
    "`X-Pasokh-Signature: sha256=<hex HMAC-SHA256 of '<timestamp>.<raw body>' with "
    "PASOKH_INTAKE__SMS_WEBHOOK_SECRET>`. Kavenegar's form callbacks, which cannot sign, may instead "
    "carry `?token=<secret>`. 503 while no secret is configured."
)


class SmsAnswer(BaseModel):
    """What was done with a citizen's SMS."""

    action: Literal[
        "opted-out", "opted-in", "status-requested", "rated", "reopened", "complaint", "ignored", "duplicate"
    ]
    complaint_id: str | None = None
    tracking_code: str | None = None


class DeliveryAnswer(BaseModel):
    """What was done with a delivery report."""

    action: Literal["reported", "ignored", "duplicate", "unknown-notification"]


def _body_doc(json_model: type[BaseModel], form_model: type[BaseModel]) -> dict[str, Any]:
    header = {"in": "header", "required": False, "schema": {"type": "string"}}
    return {
        "parameters": [
            {"name": sms_webhooks.SIGNATURE_HEADER, **header},
            {"name": sms_webhooks.TIMESTAMP_HEADER, **header},
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": json_model.model_json_schema(by_alias=True)},
                "application/x-www-form-urlencoded": {"schema": form_model.model_json_schema()},
            },
        },
    }


def _authenticated_body(*, token_on_json: bool) -> Callable[[Request, Intake], Awaitable[bytes]]:
    async def body_of(request: Request, intake: IntakeDep) -> bytes:
        """The raw body of a request signed with the webhook secret, or carrying it as ``?token=``
        where the provider allows (401/503 otherwise)."""
        body = await request.body()
        secret = intake.settings.intake.sms_webhook_secret
        sms_webhooks.authenticate(
            secret.get_secret_value().strip() if secret else None,
            body=body,
            headers=request.headers,
            query=request.query_params,
            token_on_json=token_on_json,
        )
        return body

    return body_of


SignedBody = Annotated[bytes, Depends(_authenticated_body(token_on_json=False))]


@router.post(
    "/inbound",
    response_model=SmsAnswer,
    response_model_exclude_none=True,
    responses=_ERRORS,
    summary="A citizen's SMS to the short code (provider webhook)",
    description="Stop/start, a tracking code, a survey answer or a new complaint. Answers 200 once "
    "what it asks for is durable in Kafka; the same provider message id is acted on once. " + _SIGNATURE_DOC,
    openapi_extra=_body_doc(sms_webhooks.InboundJson, sms_webhooks.KavenegarInbound),
)
async def inbound(request: Request, intake: IntakeDep, body: SignedBody) -> SmsAnswer:
    """Decode, act once, answer with what was done."""
    message = sms_webhooks.parse_inbound(request.headers.get("content-type"), body, request.query_params)
    outcome = await sms_handlers.handle_inbound(
        message,
        store=intake.store,
        publisher=intake.publisher,
        sealer=intake.sealer,
        taxonomy=intake.taxonomy,
        city=intake.settings.city,
    )
    if outcome.action == "complaint":
        SUBMITTED.labels("sms").inc()
    WEBHOOKS.labels("inbound", message.provider, outcome.action).inc()
    return SmsAnswer.model_validate(asdict(outcome))


@router.post(
    "/delivery",
    response_model=DeliveryAnswer,
    responses=_ERRORS,
    summary="A delivery report of an SMS we sent (provider webhook)",
    description="Final reports become `org.pasokh.notification.delivered`, once per (SMS, status); "
    "reports on SMS the notifier does not know are answered 200 and dropped. " + _SIGNATURE_DOC,
    openapi_extra=_body_doc(sms_webhooks.DeliveryJson, sms_webhooks.KavenegarDelivery),
)
async def delivery(request: Request, intake: IntakeDep, body: SignedBody) -> DeliveryAnswer:
    """Decode, publish once, answer with what was done."""
    report = sms_webhooks.parse_delivery(request.headers.get("content-type"), body, request.query_params)
    outcome = await sms_handlers.handle_delivery(report, store=intake.store, publisher=intake.publisher)
    WEBHOOKS.labels("delivery", report.provider, outcome.action).inc()
    return DeliveryAnswer.model_validate({"action": outcome.action})


# SMS.ir cannot sign its callbacks: the secret comes as ?token= whatever the body.
TokenBody = Annotated[bytes, Depends(_authenticated_body(token_on_json=True))]


@router.post(
    "/delivery/smsir",
    response_model=DeliveryAnswer,
    responses=_ERRORS,
    summary="SMS.ir's delivery report of an SMS we sent (provider webhook)",
    description="SMS.ir's message report (`messageId`, `deliveryState`, `deliveryDateTime`; JSON, bare, "
    "a list or in SMS.ir's `{status, message, data}` envelope, or form fields). Final states (1 "
    "delivered, 2 not delivered, 4 and 6 failed, 7 blacklisted) become `org.pasokh.notification."
    "delivered` once per (SMS, status); 3 and 5 are not final. SMS.ir cannot sign: the callback URL "
    "carries `?token=<PASOKH_INTAKE__SMS_WEBHOOK_SECRET>` (a signed request is accepted too). The "
    "answer is that of the last report in the request.",
    openapi_extra=_body_doc(sms_webhooks.SmsIrDelivery, sms_webhooks.SmsIrDelivery),
)
async def delivery_smsir(request: Request, intake: IntakeDep, body: TokenBody) -> DeliveryAnswer:
    """Decode, publish each final report once, answer with what was done."""
    reports = sms_webhooks.parse_smsir_delivery(
        request.headers.get("content-type"), body, request.query_params
    )
    action = "ignored"
    for report in reports:
        outcome = await sms_handlers.handle_delivery(report, store=intake.store, publisher=intake.publisher)
        WEBHOOKS.labels("delivery", report.provider, outcome.action).inc()
        action = outcome.action
    return DeliveryAnswer.model_validate({"action": action})
