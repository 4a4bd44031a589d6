"""What intake does with a request, free of HTTP: submit a complaint, show its public status."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from pymongo.errors import PyMongoError

from intake import tracking
from intake.codes import TrackingCodePool
from intake.errors import OutsideCity, PlaceRequired, UnknownCategory
from intake.metrics import SUBMIT_STEP
from intake.received import ReceivedWriter
from intake.schemas import ComplaintAccepted, ComplaintIn, ComplaintStatus, Name, TimelineItem
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintSubmitted, Location
from services.contracts.envelope import new_event
from services.errors import DependencyUnavailable, NotFound
from services.privacy import Sealer
from services.settings import CitySettings
from services.store import Doc, Store
from services.taxonomy import Taxonomy
from services.text import detect_language, to_latin_digits

log = logging.getLogger(__name__)
SOURCE = "/pasokh/intake"
# A text message cannot carry a map pin; the place is asked for later, by staff.
PLACE_OPTIONAL = frozenset({"sms"})


async def _reserve_tracking_code(store: Store, complaint_id: str, now: datetime) -> str:
    try:
        for _ in range(8):
            code = tracking.new_code()
            if await records.reserve_tracking_code(store, code, complaint_id, now):
                return code
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not reserve a tracking code: {exc}") from exc
    raise DependencyUnavailable("no free tracking code after 8 tries")


async def submit_complaint(
    body: ComplaintIn,
    *,
    store: Store,
    publisher: Publisher,
    sealer: Sealer,
    taxonomy: Taxonomy,
    city: CitySettings,
    attributes: dict[str, str | list[str]] | None = None,
    codes: TrackingCodePool | None = None,
    received: ReceivedWriter | None = None,
) -> ComplaintAccepted:
    """Publish a new complaint; return only once Kafka has acknowledged it.

    ``codes`` and ``received`` (the process's pool and group-commit writer) save a MongoDB round trip
    each; without them the code is reserved and the record written one at a time.
    """
    if body.category is not None and body.category not in taxonomy.categories:
        raise UnknownCategory(body.category)
    if body.location is not None:
        if not city.bounds.contains(body.location.lat, body.location.lon):
            raise OutsideCity()
    elif not (body.address or body.district) and body.channel not in PLACE_OPTIONAL:
        raise PlaceRequired()
    now = records.store_precision(datetime.now(UTC))
    complaint_id = str(uuid.uuid4())
    started = time.perf_counter()
    if codes is not None:
        code = await codes.take()
    else:
        code = await _reserve_tracking_code(store, complaint_id, now)
    coded = time.perf_counter()
    submitted = ComplaintSubmitted(
        complaint_id=complaint_id,
        tracking_code=code,
        text=body.text,
        channel=body.channel,
        language=body.language or detect_language(body.text),
        category_hint=body.category,
        location=Location(lat=body.location.lat, lon=body.location.lon) if body.location else None,
        address=body.address,
        district=body.district,
        media_urls=[str(u) for u in body.media_urls],
        attributes=attributes or {},
        phone_sealed=sealer.seal(body.phone) if body.phone else None,
        phone_hash=sealer.lookup_hash(body.phone) if body.phone else None,
        submitted_at=now,
    )
    event = new_event(submitted, subject=complaint_id, source=SOURCE, time=now)
    publishing = time.perf_counter()
    await publisher.publish(topics.SUBMITTED, event)
    published = time.perf_counter()
    try:
        if received is not None:
            await received.write(records.received_record(submitted, event_id=event.get_id()))
        else:
            await records.record_received(store, submitted, event_id=event.get_id())
    except PyMongoError:
        # The complaint is safe in Kafka; the router creates the record if this write was lost.
        log.warning("could not record the received state", extra={"complaint_id": complaint_id})
    SUBMIT_STEP.labels("code").observe(coded - started)
    SUBMIT_STEP.labels("publish").observe(published - publishing)
    SUBMIT_STEP.labels("record").observe(time.perf_counter() - published)
    log.info("complaint accepted", extra={"complaint_id": complaint_id, "event_id": event.get_id()})
    return ComplaintAccepted(id=complaint_id, tracking_code=code)


def _name(entry: object) -> Name | None:
    fa, en = getattr(entry, "fa", None), getattr(entry, "en", None)
    return Name(fa=fa, en=en) if fa and en else None


def public_status(doc: Doc, taxonomy: Taxonomy) -> ComplaintStatus:
    """The citizen's view of a record: public timeline, no personal data."""
    category = doc.get("category")
    department = doc.get("department")
    return ComplaintStatus(
        tracking_code=doc["tracking_code"],
        status=doc["status"],
        category=category,
        category_name=_name(taxonomy.categories.get(category)) if category else None,
        department=department,
        department_name=_name(taxonomy.departments.get(department)) if department else None,
        priority=doc.get("priority"),
        created_at=doc["created_at"],
        due_at=doc.get("due_at"),
        timeline=[
            TimelineItem(type=t["type"], at=t["at"], note=t.get("note"))
            for t in doc.get("timeline", [])
            if t.get("public", True)
        ],
    )


async def read_complaint(store: Store, complaint_id: str) -> Doc:
    """The record of ``complaint_id``; NotFound if there is none, 503 if MongoDB does not answer."""
    try:
        doc = await records.find(store, complaint_id)
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read the complaint: {exc}") from exc
    if doc is None:
        raise NotFound()
    return doc


async def complaint_status(code: str, *, store: Store, taxonomy: Taxonomy) -> ComplaintStatus:
    """The public status of the complaint with tracking code ``code``."""
    code = to_latin_digits(code.strip())
    if not tracking.is_valid(code):
        raise NotFound()
    try:
        doc = await records.find_by_tracking_code(store, code)
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not read the complaint: {exc}") from exc
    if doc is None:
        raise NotFound()
    return public_status(doc, taxonomy)
