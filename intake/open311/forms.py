"""Open311 POST bodies (application/x-www-form-urlencoded), validated the way the native API validates.

POST requests becomes a :class:`intake.schemas.ComplaintIn` (channel ``partner``) plus the category's
attributes; POST servicerequestupdates becomes one of the staff actions of ``services.contracts.actions``.
The submitter's e-mail, names, device and account ids are checked but never stored or published: a
complaint keeps only the phone, sealed, for SMS updates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from intake.open311.errors import bad_request, not_found
from intake.open311.handlers import ADDRESS_ID, Language, parse_w3
from intake.open311.render import w3
from intake.phone import normalize_phone
from intake.schemas import MAX_TEXT, ComplaintIn
from services import lifecycle
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    StaffAction,
)
from services.taxonomy import Attribute, Category, Taxonomy
from services.text import normalize, to_latin_digits

Form = dict[str, list[str]]
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Limits of fields Pasokh checks but does not keep.
LENGTHS = {
    "email": 254,
    "first_name": 100,
    "last_name": 100,
    "title": 100,
    "device_id": 200,
    "account_id": 200,
    "address_id": 100,
    "media_url": 2000,
}
MAX_STRING = 500
MAX_UPDATE = 1000
# servicerequestupdates statuses (mySociety's extension, upper case; lower case accepted too).
RESOLVING = frozenset({"CLOSED", "FIXED"})
REJECTING = frozenset({"NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION"})
OPENING = frozenset({"OPEN", "REOPEN"})
WORKING = frozenset({"IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING"})
UPDATE_STATUSES = RESOLVING | REJECTING | OPENING | WORKING


def parse_form(body: bytes, content_type: str | None) -> Form:
    """The fields of a url-encoded body; repeated names keep every value."""
    kind = (content_type or "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise bad_request("POST bodies must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("the body is not UTF-8 url-encoded form data") from exc
    form: Form = {}
    for name, value in pairs:
        if _CONTROL.search(value):
            raise bad_request(f"{name} contains control characters")
        form.setdefault(name, []).append(value)
    return form


def one(form: Form, name: str, *, limit: int | None = None) -> str | None:
    """The value of ``name``; an empty parameter counts as not given (the spec's "Optional")."""
    values = list(dict.fromkeys(v.strip() for v in form.get(name, ()) if v.strip()))
    if len(values) > 1:
        raise bad_request(f"{name} was given more than once")
    value = values[0] if values else None
    limit = limit or LENGTHS.get(name)
    if value is not None and limit is not None and len(value) > limit:
        raise bad_request(f"{name} is longer than {limit} characters")
    return value


def required(form: Form, name: str) -> str:
    """The value of a required parameter; 400 naming it when missing."""
    value = one(form, name)
    if value is None:
        raise bad_request(f"{name} was not provided")
    return value


def _attribute_values(form: Form) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, given in form.items():
        match = _ATTRIBUTE.match(name)
        if match:
            values.setdefault(match.group(1), []).extend(v.strip() for v in given if v.strip())
    return values


def _one_value(attribute: Attribute, given: list[str]) -> str:
    if len(set(given)) > 1:
        raise bad_request(f"attribute[{attribute.code}] takes one value")
    return given[0]


def _check_attribute(attribute: Attribute, given: list[str]) -> str | list[str]:
    name = f"attribute[{attribute.code}]"
    keys = {v.key for v in attribute.values}
    match attribute.datatype:
        case "multivaluelist":
            chosen = list(dict.fromkeys(given))
            unknown = [v for v in chosen if v not in keys]
            if unknown:
                raise bad_request(f"{name} has no value {unknown[0]} (see the service definition)")
            return chosen
        case "singlevaluelist":
            value = _one_value(attribute, given)
            if value not in keys:
                raise bad_request(f"{name} has no value {value} (see the service definition)")
            return value
        case "number":
            value = to_latin_digits(_one_value(attribute, given)).replace("٫", ".")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise bad_request(f"{name} must be a number")
            return value
        case "datetime":
            return w3(parse_w3(_one_value(attribute, given), name))
        case "string":
            value = _one_value(attribute, given)
            if "\n" in value or "\r" in value:
                raise bad_request(f"{name} is a string: no line breaks")
            value = normalize(value)
            if len(value) > MAX_STRING:
                raise bad_request(f"{name} is longer than {MAX_STRING} characters")
            return value
        case _:  # text
            value = normalize(_one_value(attribute, given))
            if len(value) > MAX_TEXT:
                raise bad_request(f"{name} is longer than {MAX_TEXT} characters")
            return value


def attributes(form: Form, category: Category) -> dict[str, str | list[str]]:
    """``attribute[code]`` / ``attribute[code][]`` checked against the service definition."""
    given = _attribute_values(form)
    known = {a.code: a for a in category.attributes}
    for code in given:
        if code not in known:
            raise bad_request(f"attribute[{code}] is not an attribute of service {category.code}")
    checked: dict[str, str | list[str]] = {}
    for attribute in sorted(category.attributes, key=lambda a: a.order):
        values = given.get(attribute.code) or []
        if not values:
            if attribute.required and attribute.variable:
                raise bad_request(f"attribute[{attribute.code}] is required for service {category.code}")
            continue
        if not attribute.variable:
            raise bad_request(f"attribute[{attribute.code}] is information only and takes no value")
        checked[attribute.code] = _check_attribute(attribute, values)
    return checked


# Which Open311 parameter a ComplaintIn field came from, to name it in errors.
_PARAMETER = {
    "text": "description",
    "phone": "phone",
    "location": "lat/long",
    "address": "address_string",
    "media_urls": "media_url",
}


@dataclass
class Submission:
    """A checked POST requests: the complaint, its attributes and what is echoed back."""

    complaint: ComplaintIn
    attributes: dict[str, str | list[str]] = field(default_factory=dict)
    account_id: str | None = None


def _coordinate(form: Form, name: str) -> float:
    raw = one(form, name, limit=40)
    assert raw is not None
    try:
        value = float(to_latin_digits(raw))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad_request(f"{name} must be a number (WGS84 degrees)")
    return value


def submission(form: Form, taxonomy: Taxonomy, lang: Language) -> Submission:
    """POST requests' parameters as a complaint, or 400/404 naming what is wrong."""
    service_code = required(form, "service_code")
    category = taxonomy.categories.get(service_code)
    if category is None:
        raise not_found(f"service_code {service_code} was not found")
    has_lat, has_long = one(form, "lat") is not None, one(form, "long") is not None
    if has_lat != has_long:
        raise bad_request("lat and long must both be sent")
    address_string = one(form, "address_string", limit=MAX_STRING)
    address_id = one(form, "address_id")
    if not (has_lat or address_string or address_id):
        raise bad_request("a location is required: lat and long, address_string or address_id")
    phone = one(form, "phone", limit=40)
    if phone is not None:
        try:
            phone = normalize_phone(phone)
        except ValueError as exc:
            raise bad_request("phone is not an Iranian mobile number") from exc
    email = one(form, "email")
    if email is not None and not _EMAIL.match(email):
        raise bad_request("email is not an e-mail address")
    for name in ("first_name", "last_name", "device_id"):
        one(form, name)
    checked = attributes(form, category)
    if address_id is not None:
        checked[ADDRESS_ID] = address_id
    media_url = one(form, "media_url")
    fields: dict[str, Any] = {
        # The spec makes the description optional; Pasokh's record needs words: the service's name.
        "text": one(form, "description", limit=4 * MAX_TEXT)
        or (category.fa if lang == "fa" else category.en),
        "phone": phone,
        "location": {"lat": _coordinate(form, "lat"), "lon": _coordinate(form, "long")} if has_lat else None,
        # The city keeps no address repository: an address_id alone is what its staff can go on.
        "address": address_string or address_id,
        "category": service_code,
        "channel": "partner",
        "media_urls": [media_url] if media_url else [],
    }
    try:
        complaint = ComplaintIn.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        parameter = _PARAMETER.get(str(error["loc"][0]) if error["loc"] else "", "request")
        message = str(error["msg"]).removeprefix("Value error, ")
        raise bad_request(f"{parameter}: {message}") from exc
    return Submission(complaint=complaint, attributes=checked, account_id=one(form, "account_id"))


def update_action(status: str, current: str, description: str) -> tuple[type[StaffAction], dict[str, Any]]:
    """The staff action a servicerequestupdates status stands for, given the complaint's status."""
    wanted = status.strip().upper()
    if wanted not in UPDATE_STATUSES:
        raise bad_request(f"status must be one of {', '.join(sorted(UPDATE_STATUSES))}")
    closed = current in lifecycle.CLOSED
    if wanted in RESOLVING:
        return ComplaintResolved, {"note": description}
    if wanted in REJECTING:
        return ComplaintRejected, {"reason": description}
    if closed:
        if wanted in OPENING:
            return ComplaintReopened, {"reason": description, "by": "staff"}
        raise bad_request("the request is closed; reopen it with status OPEN first")
    if wanted in WORKING and current in ("routed", "reopened"):
        return ComplaintAcknowledged, {"note": description}
    return ComplaintCommented, {"text": description, "public": True}


@dataclass
class Update:
    """A checked POST servicerequestupdates."""

    service_request_id: str
    update_id: str
    status: str
    description: str
    account_id: str | None


def update(form: Form) -> Update:
    """POST servicerequestupdates' parameters (mySociety's definition), or 400 naming what is wrong."""
    service_request_id = required(form, "service_request_id")
    update_id = required(form, "update_id")
    if len(update_id) > 255:
        raise bad_request("update_id is longer than 255 characters")
    status = required(form, "status")
    parse_w3(required(form, "updated_datetime"), "updated_datetime")
    # Kept as written, like the notes of the /v1 staff actions.
    description = required(form, "description")
    if len(description) > MAX_UPDATE:
        raise bad_request(f"description is longer than {MAX_UPDATE} characters")
    if status.strip().upper() not in UPDATE_STATUSES:
        raise bad_request(f"status must be one of {', '.join(sorted(UPDATE_STATUSES))}")
    # Who wrote the update is not kept: the action's actor is the key.
    for name in ("email", "first_name", "last_name", "title", "media_url", "service_code"):
        one(form, name)
    one(form, "phone", limit=40)
    return Update(
        service_request_id=service_request_id,
        update_id=update_id,
        status=status,
        description=description,
        account_id=one(form, "account_id"),
    )
