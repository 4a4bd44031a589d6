"""Open311 GeoReport v2 reads, free of HTTP: discovery, services, service definitions, requests,
tokens and the ``servicerequestupdates`` extension, mapped from the taxonomy and the complaint records.

What a partner sees of a complaint is public: never the phone (stored sealed), names or e-mail
(never stored), and phone numbers or e-mail addresses a citizen wrote into the text are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo.errors import PyMongoError

from intake import tracking
from intake.open311.errors import bad_request, not_found
from intake.open311.render import w3
from services import lifecycle, records
from services.errors import DependencyUnavailable
from services.store import Doc, Store
from services.taxonomy import LIST_DATATYPES, Attribute, Category, Department, Taxonomy
from services.text import detect_language, to_latin_digits, to_persian_digits

Language = Literal["fa", "en"]
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest."
SPAN = timedelta(days=90)
EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
LIMIT = 1000
# Complaints scanned for one page of updates; each holds at least one update in the window.
UPDATES_SCAN = 5 * LIMIT
# Where the client's address_id is kept: a key no attribute code can take (codes have no ':').
ADDRESS_ID = "open311:address_id"
# Fields a partner never needs; left out of every read as a second line of defence.
PRIVATE = {"phone_sealed": 0, "phone_hash": 0, "applied_events": 0}

_W3 = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_PHONE_LIKE = re.compile(r"\+?\d(?:[\s\-.]?\d){6,}")
_EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")

CONTACT = {
    "fa": "سامانه پاسخگویی ۱۳۷ شهرداری؛ برای پرسش درباره این API با واحد فناوری اطلاعات شهرداری تماس بگیرید.",
    "en": "The city's 137 complaints system; for questions about this API contact the city's IT department.",
}
KEY_SERVICE = {
    "fa": "کلید API را اپراتورهای سامانه با فرمان pasokh keys create --scopes complaints:write صادر می‌کنند.",
    "en": "API keys are issued by the city's operators (pasokh keys create --scopes complaints:write).",
}
# What an update says when it carries no note of its own: timeline type → (fa, en).
LABELS: dict[str, tuple[str, str]] = {
    "received": ("درخواست ثبت شد.", "The request was received."),
    "routed": ("درخواست به واحد مسئول ارجاع شد.", "The request was sent to the responsible department."),
    "triage": ("درخواست برای تعیین واحد مسئول بررسی می‌شود.", "The request is being assigned by hand."),
    "acknowledged": ("واحد مسئول رسیدگی را آغاز کرد.", "The department has taken the request on."),
    "reassigned": ("درخواست به واحد دیگری ارجاع شد.", "The request was passed to another department."),
    "resolved": ("درخواست رسیدگی شد.", "The request was resolved."),
    "rejected": ("درخواست رد شد.", "The request was rejected."),
    "reopened": ("درخواست دوباره باز شد.", "The request was reopened."),
    "duplicate": ("درخواست تکراری است.", "The request is a duplicate."),
    "commented": ("یادداشتی افزوده شد.", "A note was added."),
}


def choose_language(locale: str | None, accept_language: str | None) -> Language:
    """``locale`` (``en``, ``fa_IR``…) if it names fa or en, else the best of ``Accept-Language``, else fa."""
    if locale:
        primary = re.split(r"[-_]", locale.strip().lower(), maxsplit=1)[0]
        if primary in ("fa", "en"):
            return "fa" if primary == "fa" else "en"
    best: tuple[float, Language] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("fa", "en"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, "fa" if primary == "fa" else "en")
    return best[1] if best else "fa"


def parse_w3(raw: str, name: str) -> datetime:
    """A w3 date/time (``2010-01-01T00:00:00Z``); a time needs its zone; a date alone is UTC midnight."""
    # A '+' written into a URL unencoded arrives as a space.
    value = to_latin_digits(raw.strip()).replace(" ", "+")
    match = _W3.match(value)
    if not match:
        raise bad_request(f"{name} must be a w3 date/time with a time zone, e.g. 2010-01-01T00:00:00Z")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        at = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise bad_request(f"{name} is not a real date/time: {exc}") from exc
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if offset >= timedelta(hours=24):
            raise bad_request(f"{name} has an impossible time-zone offset")
        try:
            at -= sign * offset
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise bad_request(f"{name} is out of range (years 1 to 9999 in UTC)") from None
    return at


def window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The searched range: the last 90 days by default; 90 days from or to the one bound given."""
    if start is None and end is None:
        return now - SPAN, now
    # Near year 1 or 9999 the other bound is clamped rather than overflowing (nothing is there anyway).
    if start is None:
        assert end is not None
        start = end - SPAN if end - EARLIEST > SPAN else EARLIEST
    elif end is None:
        end = start + SPAN if LATEST - start > SPAN else LATEST
    if start > end:
        raise bad_request("start_date is after end_date")
    if end - start > SPAN:
        raise bad_request("start_date and end_date may not span more than 90 days")
    return start, end


def split_list(values: Iterable[str]) -> list[str]:
    """Values of a parameter that may repeat and may be comma delimited, empty ones dropped."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def is_open(status: str) -> bool:
    """Open311's two states: received/routed/triage/acknowledged/reopened are open, the rest closed."""
    return status not in lifecycle.CLOSED


def redact(text: str | None) -> str | None:
    """``text`` with phone numbers and e-mail addresses masked."""
    if not text:
        return text
    return _PHONE_LIKE.sub("***", _EMAIL_LIKE.sub("***", to_latin_digits(text)))


def _name(entry: Category | Department | None, lang: Language) -> str | None:
    return None if entry is None else entry.fa if lang == "fa" else entry.en


def _hours(hours: int, lang: Language) -> str:
    return to_persian_digits(str(hours)) if lang == "fa" else str(hours)


def service_notice(category: Category | None, lang: Language) -> str | None:
    """What the city aims to do: the category's service-level target."""
    if category is None:
        return None
    if lang == "fa":
        return f"هدف شهرداری رسیدگی به این درخواست ظرف {_hours(category.sla_hours, lang)} ساعت است."
    return f"The city aims to deal with this request within {category.sla_hours} hours."


# ---------------------------------------------------------------- discovery and services


def discovery(*, url: str, changeset: datetime, production: bool, lang: Language) -> dict[str, Any]:
    """The Service Discovery document (wiki.open311.org/Service_Discovery): one GeoReport v2 endpoint."""
    stamp = w3(changeset)
    return {
        "changeset": stamp,
        "contact": CONTACT[lang],
        "key_service": KEY_SERVICE[lang],
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": stamp,
                "type": "production" if production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _keywords(category: Category, lang: Language) -> str:
    # The file mixes Persian and English keywords; each language's clients get theirs.
    return ", ".join(k for k in category.keywords if detect_language(k) == lang)


def service_list(taxonomy: Taxonomy, lang: Language) -> list[dict[str, Any]]:
    """GET services: every category of the city, in the taxonomy's order."""
    services = []
    for category in taxonomy.categories.values():
        department = taxonomy.departments[category.department]
        if lang == "fa":
            description = (
                f"رسیدگی‌کننده: {department.fa}؛ زمان هدف رسیدگی: {_hours(category.sla_hours, lang)} ساعت."
            )
        else:
            description = (
                f"Handled by the {department.en}; the city aims to respond within {category.sla_hours} hours."
            )
        services.append(
            {
                "service_code": category.code,
                "service_name": _name(category, lang),
                "description": description,
                "metadata": bool(category.attributes),
                "type": "realtime",
                "keywords": _keywords(category, lang),
                "group": _name(department, lang),
            }
        )
    return services


def _attribute(attribute: Attribute, lang: Language) -> dict[str, Any]:
    hint = attribute.datatype_description
    return {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": None if hint is None else hint.fa if lang == "fa" else hint.en,
        "order": attribute.order,
        "description": attribute.description.fa if lang == "fa" else attribute.description.en,
        "values": [
            {"key": value.key, "name": value.fa if lang == "fa" else value.en} for value in attribute.values
        ]
        if attribute.datatype in LIST_DATATYPES
        else [],
    }


def service_definition(taxonomy: Taxonomy, service_code: str, lang: Language) -> dict[str, Any]:
    """GET services/{service_code}: the category's attributes, in their order."""
    category = taxonomy.categories.get(service_code)
    if category is None:
        raise not_found(f"service_code {service_code} was not found")
    return {
        "service_code": category.code,
        "attributes": [_attribute(a, lang) for a in sorted(category.attributes, key=lambda a: a.order)],
    }


# ---------------------------------------------------------------- service requests


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests once defaults are applied."""

    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    status: frozenset[str] = frozenset()


def request_query(
    *,
    ids: Sequence[str],
    service_codes: Sequence[str],
    start_date: str | None,
    end_date: str | None,
    statuses: Sequence[str],
    now: datetime,
) -> RequestQuery:
    """Validate GET requests' parameters; ``service_request_id`` overrides all the others."""
    wanted = split_list(ids)
    if wanted:
        return RequestQuery(ids=tuple(dict.fromkeys(to_latin_digits(i) for i in wanted)))
    status = frozenset(s.lower() for s in split_list(statuses))
    if status - {"open", "closed"}:
        raise bad_request("status must be open, closed or both (comma delimited)")
    start, end = window(
        parse_w3(start_date, "start_date") if start_date else None,
        parse_w3(end_date, "end_date") if end_date else None,
        now,
    )
    return RequestQuery(
        service_codes=tuple(dict.fromkeys(split_list(service_codes))), start=start, end=end, status=status
    )


def _mongo_filter(query: RequestQuery) -> Doc:
    if query.ids is not None:
        return {"tracking_code": {"$in": [i for i in query.ids if tracking.is_valid(i)]}}
    conditions: list[Doc] = [{"created_at": {"$gte": query.start, "$lte": query.end}}]
    if query.service_codes:
        codes = list(query.service_codes)
        # Until the router has categorised a complaint, the client's service_code (the hint) stands.
        conditions.append(
            {
                "$or": [
                    {"category": {"$in": codes}},
                    {"category": {"$exists": False}, "category_hint": {"$in": codes}},
                ]
            }
        )
    if query.status == {"open"}:
        conditions.append({"status": {"$nin": sorted(lifecycle.CLOSED)}})
    elif query.status == {"closed"}:
        conditions.append({"status": {"$in": sorted(lifecycle.CLOSED)}})
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


async def find_requests(store: Store, query: RequestQuery) -> list[Doc]:
    """The complaints matching ``query``, newest first, at most 1000."""
    try:
        cursor = (
            store.complaints.find(_mongo_filter(query), PRIVATE)
            .sort([("created_at", -1), ("_id", -1)])
            .limit(LIMIT)
        )
        return [doc async for doc in cursor]
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read complaints: {exc}") from exc


async def find_request(store: Store, service_request_id: str) -> Doc:
    """The complaint whose tracking code is ``service_request_id``; 404 otherwise."""
    code = to_latin_digits(service_request_id.strip())
    if not tracking.is_valid(code):
        raise not_found(f"service_request_id {service_request_id} was not found")
    try:
        doc = await store.complaints.find_one({"tracking_code": code}, PRIVATE)
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read the complaint: {exc}") from exc
    if doc is None:
        raise not_found(f"service_request_id {service_request_id} was not found")
    return doc


async def find_token(store: Store, token: str) -> dict[str, Any]:
    """GET tokens/{token}: a token is the complaint id intake hands out (``id`` in /v1)."""
    doc = None
    if 0 < len(token) <= 64:
        try:
            doc = await records.find(store, token)
        except PyMongoError as exc:
            raise DependencyUnavailable(f"could not read the complaint: {exc}") from exc
    if doc is None:
        raise not_found(f"token {token} was not found")
    return {"service_request_id": doc["tracking_code"], "token": token}


def _public(timeline: Iterable[Doc]) -> list[Doc]:
    return [entry for entry in timeline if entry.get("public", True)]


def _last_modified(doc: Doc) -> datetime:
    times: list[datetime] = [doc["created_at"], *(e["at"] for e in doc.get("timeline", ()) if e.get("at"))]
    times += [doc[f] for f in ("decided_at", "updated_at") if doc.get(f)]
    return max(times)


def request_fields(doc: Doc, taxonomy: Taxonomy, lang: Language) -> dict[str, Any]:
    """One ``request`` of GET requests, in the spec's order; public fields only."""
    code = doc.get("category") or doc.get("category_hint")
    category = taxonomy.categories.get(code) if code else None
    department = taxonomy.departments.get(doc.get("department") or "")
    location = doc.get("location") or {}
    notes = [e["note"] for e in _public(doc.get("timeline", ())) if e.get("note")]
    media = doc.get("media_urls") or []
    address_id = (doc.get("attributes") or {}).get(ADDRESS_ID)
    return {
        "service_request_id": doc["tracking_code"],
        "status": "open" if is_open(doc["status"]) else "closed",
        "status_notes": redact(notes[-1]) if notes else None,
        "service_name": _name(category, lang),
        "service_code": code,
        "description": redact(doc.get("text")),
        "agency_responsible": _name(department, lang),
        "service_notice": service_notice(category, lang),
        "requested_datetime": w3(doc["created_at"]),
        "updated_datetime": w3(_last_modified(doc)),
        "expected_datetime": w3(doc["due_at"]) if doc.get("due_at") else None,
        "address": doc.get("address"),
        "address_id": address_id if isinstance(address_id, str) else None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": media[0] if media else None,
    }


# ---------------------------------------------------------------- servicerequestupdates


def _status_after(kind: str, current: str) -> str:
    if kind in lifecycle.STATUSES:
        return kind
    transition = lifecycle.TRANSITIONS.get(f"org.pasokh.complaint.{kind}")
    return (transition[1] or current) if transition else current


def updates_of(doc: Doc, start: datetime, end: datetime, lang: Language) -> list[dict[str, Any]]:
    """The public steps after submission of one complaint inside [start, end], as request_updates."""
    updates = []
    status = "received"
    for entry in doc.get("timeline", ()):
        kind = str(entry.get("type", ""))
        status = _status_after(kind, status)
        at = entry.get("at")
        if kind == "received" or not entry.get("public", True) or at is None or not start <= at <= end:
            continue
        label = LABELS.get(kind)
        note = entry.get("note") or (label[0 if lang == "fa" else 1] if label else kind)
        updates.append(
            {
                "update_id": entry.get("event_id") or f"{doc['_id']}:{w3(at)}",
                "service_request_id": doc["tracking_code"],
                "status": "open" if is_open(status) else "closed",
                "updated_datetime": at,
                "description": redact(note),
                "media_url": "",
            }
        )
    return updates


async def find_updates(store: Store, start: datetime, end: datetime, lang: Language) -> list[dict[str, Any]]:
    """GET servicerequestupdates: public updates inside [start, end], oldest first, at most 1000."""
    try:
        cursor = store.complaints.find({"timeline.at": {"$gte": start, "$lte": end}}, PRIVATE).limit(
            UPDATES_SCAN
        )
        docs = [doc async for doc in cursor]
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read complaints: {exc}") from exc
    updates = [u for doc in docs for u in updates_of(doc, start, end, lang)]
    updates.sort(key=lambda u: (u["updated_datetime"], u["update_id"]))
    return [{**u, "updated_datetime": w3(u["updated_datetime"])} for u in updates[:LIMIT]]
