"""CloudEvents from partner systems (``POST /v1/events``): validate, authorize, deduplicate, publish.

Every event is handled on its own, in the order given, so a batch is never all-or-nothing. An event is
accepted at most once per ``source`` + ``id`` (the CloudEvents identity): it is claimed in MongoDB
(unique ``_id``) before anything is published, and the claim is deleted again if publishing fails, so
that the partner's retry can succeed. A repeat gets ``duplicate`` and the result stored with the claim.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pymongo.errors import DuplicateKeyError, PyMongoError

from intake import errors, handlers
from intake.auth import Principal
from intake.errors import (
    ComplaintNotFound,
    EventInProgress,
    Forbidden,
    InvalidCloudEvent,
    InvalidEventData,
    UnknownEventType,
    UnsupportedSpecVersion,
)
from intake.metrics import SUBMITTED
from intake.schemas import MAX_TEXT, ComplaintIn, LocationIn
from services import records
from services.bus import Publisher
from services.contracts import schemas, topics
from services.contracts.complaints import ComplaintStatusUpdated, ComplaintSubmitted
from services.contracts.envelope import derived_id, new_event
from services.errors import DependencyUnavailable, PasokhError
from services.privacy import Sealer
from services.settings import CitySettings
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)

MAX_BATCH = 100
# The scope an API key needs to post each accepted type.
SCOPES: dict[str, str] = {
    ComplaintSubmitted.TYPE: "complaints:write",
    ComplaintStatusUpdated.TYPE: "events:write",
}
# A claim still pending after this long belongs to a request that died: a retry may take it over.
PENDING_TIMEOUT = timedelta(minutes=2)
MAX_PROBLEMS = 20
ATTRIBUTES = ("specversion", "id", "source", "type")
Status = Literal["accepted", "duplicate", "rejected"]


class PartnerComplaint(BaseModel):
    """The ``data`` of an ``org.pasokh.complaint.submitted`` event a partner posts: the complaint as the
    partner knows it. Pasokh assigns the id and the tracking code; the channel is ``partner``."""

    model_config = ConfigDict(
        extra="forbid",
        title="PartnerComplaintSubmitted",
        json_schema_extra={
            "examples": [
                {
                    "text": "چراغ‌های کوچه ما سه شب است خاموش است",
                    "phone": "09121234567",
                    "location": {"lat": 35.7219, "lon": 51.3347},
                    "district": "3",
                }
            ]
        },
    )

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The complaint in the citizen's words.")
    phone: str | None = Field(
        default=None, max_length=32, description="The citizen's Iranian mobile number, for SMS updates."
    )
    location: LocationIn | None = None
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    district: Annotated[str, StringConstraints(max_length=100)] | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="A hint: an Open311 service_code of this city."
    )
    language: Literal["fa", "en"] | None = None
    media_urls: list[AnyHttpUrl] = Field(default_factory=list, max_length=5)


def inbound_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each accepted type's ``data``, by the name ``GET /v1/schemas/{name}`` serves."""
    return {_inbound_name(): _inbound_schema(), schemas.file_name(ComplaintStatusUpdated): _status_schema()}


def _inbound_name() -> str:
    return f"partner.{ComplaintSubmitted.TYPE}.v1.json"


@cache
def _inbound_schema() -> dict[str, Any]:
    return {
        "$schema": schemas.DIALECT,
        "$id": f"https://pasokh.org/schemas/partner/{ComplaintSubmitted.TYPE}/v1.json",
        "x-cloudevents-type": ComplaintSubmitted.TYPE,
        **PartnerComplaint.model_json_schema(),
    }


@cache
def _status_schema() -> dict[str, Any]:
    schema = schemas.published(schemas.file_name(ComplaintStatusUpdated))
    if schema is None:  # a checkout whose contract files were never exported
        raise RuntimeError("services/contracts/schemas lacks status-updated: run `pasokh contracts export`")
    return schema


@cache
def _validator(event_type: str) -> Draft202012Validator:
    schema = _inbound_schema() if event_type == ComplaintSubmitted.TYPE else _status_schema()
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@dataclass
class Outcome:
    """What became of one event."""

    id: str | None
    source: str | None
    status: Status
    complaint_id: str | None = None
    tracking_code: str | None = None
    error: Exception | None = None
    details: Any = field(default=None)

    def error_body(self) -> dict[str, Any]:
        """``{"code", "message": {"fa", "en"}, "details"?}`` of a rejected event."""
        assert self.error is not None
        _, code, fa, en = describe(self.error)
        body: dict[str, Any] = {"code": code, "message": {"fa": fa, "en": en}}
        if self.details is not None:
            body["details"] = self.details
        return body

    def to_json(self) -> dict[str, Any]:
        """The per-event result: ``{id, source, status, complaint_id?, tracking_code?, error?}``."""
        result: dict[str, Any] = {"id": self.id, "source": self.source, "status": self.status}
        if self.complaint_id is not None:
            result["complaint_id"] = self.complaint_id
        if self.tracking_code is not None:
            result["tracking_code"] = self.tracking_code
        if self.error is not None:
            result["error"] = self.error_body()
        return result


def describe(exc: Exception) -> tuple[int, str, str, str]:
    """(HTTP status, code, Persian, English) of ``exc`` from intake's one error table."""
    for cls in type(exc).__mro__:
        if cls in errors.ERRORS:
            return errors.ERRORS[cls]
    return 500, "internal_error", "خطای داخلی رخ داد.", "An internal error occurred."


class _Rejected(Exception):
    def __init__(self, error: PasokhError, details: Any = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.details = details


def _problem(field_name: str, problem: str) -> dict[str, str]:
    return {"field": field_name, "problem": problem}


def _describe_schema_error(error: SchemaError) -> dict[str, str]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        alternatives = [sub.validator_value for sub in error.context if sub.validator == "required"]
        if len(alternatives) == len(error.context):
            names = sorted({name for group in alternatives for name in group})
            return _problem(_path(error), f"needs at least one of: {', '.join(names)}")
        # A nullable field fails both "not null" and its real branch: explain the real branch.
        specific = [sub for sub in error.context if sub.validator != "type"]
        if not specific:
            types = sorted({str(sub.validator_value) for sub in error.context})
            return _problem(_path(error), f"must be of type {' or '.join(types)}")
        error = best_match(specific)
    value = error.validator_value
    messages = {
        "maxLength": f"is longer than {value} characters",
        "minLength": "must not be empty" if value == 1 else f"is shorter than {value} characters",
        "pattern": f"does not match {value}",
        "enum": f"must be one of: {', '.join(map(str, value)) if isinstance(value, list) else value}",
        "maxItems": f"has more than {value} items",
    }
    # jsonschema's own messages quote the whole value (a 4000-character text): keep them short.
    message = messages.get(str(error.validator)) or error.message
    return _problem(_path(error), message if len(message) <= 200 else message[:197] + "...")


def _data_path(parts: Any) -> str:
    return "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _path(error: SchemaError) -> str:
    return _data_path(error.absolute_path)


def _pydantic_problems(exc: ValidationError) -> list[dict[str, str]]:
    return [_problem(_data_path(err["loc"]), err["msg"]) for err in exc.errors()[:MAX_PROBLEMS]]


def _check_envelope(event: Any) -> tuple[str, str, str]:
    """The (id, source, type) of a well-formed CloudEvents 1.0 event; raise _Rejected otherwise."""
    if not isinstance(event, dict):
        raise _Rejected(InvalidCloudEvent(), [_problem("(event)", "an event must be a JSON object")])
    if "specversion" in event and event["specversion"] != "1.0":
        raise _Rejected(
            UnsupportedSpecVersion(), [_problem("specversion", f"is {event['specversion']!r}, not '1.0'")]
        )
    problems = [
        _problem(name, "is required (a non-empty string)")
        for name in ATTRIBUTES
        if not isinstance(event.get(name), str) or not event[name]
    ]
    for name in ("subject", "dataschema", "time"):
        if name in event and not isinstance(event[name], str):
            problems.append(_problem(name, "must be a string"))
    if isinstance(event.get("time"), str) and not _is_timestamp(event["time"]):
        problems.append(_problem("time", "must be an RFC 3339 timestamp"))
    content_type = event.get("datacontenttype")
    if content_type is not None and not _is_json(content_type):
        problems.append(_problem("datacontenttype", "must be application/json (or another JSON type)"))
    if "data_base64" in event:
        problems.append(_problem("data_base64", "is not accepted: send data as JSON"))
    if problems:
        raise _Rejected(InvalidCloudEvent(), problems)
    if event["type"] not in SCOPES:
        raise _Rejected(UnknownEventType(), {"type": event["type"], "accepted": sorted(SCOPES)})
    return event["id"], event["source"], event["type"]


def _is_timestamp(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value.upper() and parsed.tzinfo is not None


def _is_json(content_type: Any) -> bool:
    if not isinstance(content_type, str):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def _check_data(event_type: str, data: Any) -> BaseModel:
    """``data`` validated against its type's JSON Schema, then parsed; raise _Rejected otherwise."""
    if data is None:
        raise _Rejected(InvalidEventData(), [_problem("data", "is required (a JSON object)")])
    found = sorted(_validator(event_type).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if found:
        raise _Rejected(InvalidEventData(), [_describe_schema_error(e) for e in found[:MAX_PROBLEMS]])
    try:
        if event_type == ComplaintSubmitted.TYPE:
            return ComplaintIn.model_validate({**data, "channel": "partner"})
        return ComplaintStatusUpdated.model_validate(data)
    except ValidationError as exc:
        # What a schema cannot say: normalized text is empty, the phone is not a mobile number, …
        raise _Rejected(InvalidEventData(), _pydantic_problems(exc)) from exc


def _claims(store: Store) -> Any:
    return store.db["partner_events"]


@dataclass
class _Claim:
    record_id: str
    token: str


async def _claim(
    store: Store, source: str, event_id: str, event_type: str, principal: Principal
) -> _Claim | Doc:
    """A fresh claim on ``source`` + ``event_id``, or the stored record of an event seen before."""
    record_id = f"{source}\x1f{event_id}"
    now = datetime.now(UTC)
    token = uuid.uuid4().hex
    doc: Doc = {
        "_id": record_id,
        "source": source,
        "event_id": event_id,
        "type": event_type,
        "key_id": principal.key_id,
        "state": "pending",
        "claim": token,
        "claimed_at": now,
    }
    try:
        try:
            await _claims(store).insert_one(doc)
            return _Claim(record_id, token)
        except DuplicateKeyError:
            pass
        existing: Doc | None = await _claims(store).find_one({"_id": record_id})
        if existing is None:  # released between our insert and our read: the partner may retry
            raise EventInProgress()
        if existing["state"] == "done":
            return existing
        if existing["claimed_at"] > now - PENDING_TIMEOUT:
            raise EventInProgress()
        taken = await _claims(store).update_one(
            {"_id": record_id, "state": "pending", "claim": existing["claim"]},
            {"$set": {"claim": token, "claimed_at": now, "key_id": principal.key_id}},
        )
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not claim the event: {exc}") from exc
    if taken.modified_count != 1:
        raise EventInProgress()
    log.warning("took over a stale event claim", extra={"source": source, "event_id": event_id})
    return _Claim(record_id, token)


async def _complete(store: Store, claim: _Claim, result: dict[str, str]) -> None:
    try:
        await _claims(store).update_one(
            {"_id": claim.record_id, "claim": claim.token},
            {"$set": {"state": "done", "result": result, "done_at": datetime.now(UTC)}},
        )
    except PyMongoError:
        # The event is durable in Kafka already; only a repeat within PENDING_TIMEOUT is refused now.
        log.warning("could not mark the event claim done", extra={"claim": claim.record_id})


async def _release(store: Store, claim: _Claim) -> None:
    try:
        await _claims(store).delete_one({"_id": claim.record_id, "claim": claim.token, "state": "pending"})
    except PyMongoError:
        log.warning("could not release the event claim", extra={"claim": claim.record_id})


async def _find_complaint(store: Store, update: ComplaintStatusUpdated) -> Doc:
    try:
        if update.complaint_id is not None:
            doc = await records.find(store, update.complaint_id)
        else:
            doc = await records.find_by_tracking_code(store, update.tracking_code or "")
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read the complaint: {exc}") from exc
    if doc is None:
        named = {"complaint_id": update.complaint_id} if update.complaint_id else {}
        raise _Rejected(ComplaintNotFound(), named or {"tracking_code": update.tracking_code})
    if update.tracking_code is not None and doc.get("tracking_code") != update.tracking_code:
        raise _Rejected(
            ComplaintNotFound(),
            {"complaint_id": update.complaint_id, "tracking_code": update.tracking_code},
        )
    return doc


async def accept_event(
    event: Any,
    *,
    principal: Principal,
    store: Store,
    publisher: Publisher,
    sealer: Sealer,
    taxonomy: Taxonomy,
    city: CitySettings,
) -> Outcome:
    """Validate, authorize, deduplicate and publish one event; never raises for a bad event."""
    event_id = event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else None
    source = event.get("source") if isinstance(event, dict) and isinstance(event.get("source"), str) else None
    try:
        event_id, source, event_type = _check_envelope(event)
        if not principal.has(SCOPES[event_type]):
            raise _Rejected(Forbidden(), {"type": event_type, "scope": SCOPES[event_type]})
        parsed = _check_data(event_type, event.get("data"))
        target: Doc | None = None
        if isinstance(parsed, ComplaintStatusUpdated):
            target = await _find_complaint(store, parsed)
        claim = await _claim(store, source, event_id, event_type, principal)
        if not isinstance(claim, _Claim):
            stored = claim.get("result") or {}
            mine = claim.get("key_id") == principal.key_id  # another key learns nothing of the result
            return Outcome(
                event_id,
                source,
                "duplicate",
                complaint_id=stored.get("complaint_id") if mine else None,
                tracking_code=stored.get("tracking_code") if mine else None,
            )
        try:
            if isinstance(parsed, ComplaintIn):
                accepted = await handlers.submit_complaint(
                    parsed, store=store, publisher=publisher, sealer=sealer, taxonomy=taxonomy, city=city
                )
                SUBMITTED.labels("partner").inc()
                result = {"complaint_id": accepted.id, "tracking_code": accepted.tracking_code}
            else:
                assert isinstance(parsed, ComplaintStatusUpdated) and target is not None
                result = await _publish_status(
                    parsed, target, source=source, event_id=event_id, publisher=publisher
                )
        except BaseException:
            await _release(store, claim)
            raise
        await _complete(store, claim, result)
        log.info("partner event accepted", extra={"source": source, "event_id": event_id, "type": event_type})
        return Outcome(
            event_id,
            source,
            "accepted",
            complaint_id=result["complaint_id"],
            tracking_code=result["tracking_code"],
        )
    except _Rejected as rejected:
        return Outcome(event_id, source, "rejected", error=rejected.error, details=rejected.details)
    except PasokhError as exc:
        if isinstance(exc, DependencyUnavailable):
            log.warning("partner event not accepted", extra={"reason": str(exc)})
        return Outcome(event_id, source, "rejected", error=exc)
    except Exception as exc:  # a bug must not hide what happened to the other events of a batch
        log.exception("partner event failed", extra={"source": source, "event_id": event_id})
        return Outcome(event_id, source, "rejected", error=exc)


async def _publish_status(
    update: ComplaintStatusUpdated, record: Doc, *, source: str, event_id: str, publisher: Publisher
) -> dict[str, str]:
    complaint_id = str(record["_id"])
    payload = ComplaintStatusUpdated.model_validate(
        {**update.model_dump(), "complaint_id": complaint_id, "tracking_code": record["tracking_code"]}
    )
    # Derived from the partner's identity of the event, so a republished event is recognisably the same.
    event = new_event(
        payload,
        subject=complaint_id,
        source=handlers.SOURCE,
        event_id=derived_id("partner-event", source, event_id),
    )
    await publisher.publish(topics.EVENTS, event)
    return {"complaint_id": complaint_id, "tracking_code": str(record["tracking_code"])}


def parse_body(body: bytes) -> Any:
    """The JSON of a request body; NaN and Infinity are refused (no MongoDB-compatible server keeps them)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body, parse_constant=refuse)
