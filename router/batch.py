"""The router's work on a batch of submitted complaints, with a few round trips for the whole batch.

The same decisions as :func:`router.handlers.handle_submitted`, message by message, but grouped: the
classifier on the whole batch; the duplicate candidates by grid cell, while the decisions no
duplicate can change are stored; unordered bulk updates of the records intake stored (each
conditional on its event id, so a redelivery changes nothing; the same update marks the decision
counted for the statistics), in a few commands at once; one unordered insert of the complaints
that have no record yet, received and decided at once (if one was decided before, the stored
decisions are read and announced again); then, at the same time, the inbox entries in one insert,
the batch's counts in one ``$inc`` per public rollup (router/bookkeeping.py) and every
announcement, awaited together: :func:`decide_batch` returns that last step, which the worker runs
while it decides the next batch (router/app.py). Within a batch a later complaint can be linked to
an earlier one; with a ``NearbyCache`` the cells read lately are answered from memory
(router/duplicates.py). The events agent leaves the router's own decisions alone (router/app.py):
they are booked here."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne

from router import bookkeeping, duplicates
from router.classifier import Classifier
from router.decisions import district_of, plan
from router.handlers import SOURCE, _stored_decision
from router.metrics import CONFIDENCE, DECISIONS, SUBMITTED_TO_DECIDED
from router.routing import RoutingTable
from router.settings import DuplicateOptions
from router.sla import SlaPolicy
from services import inbox, records, stats
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintSubmitted, Decision
from services.contracts.envelope import Envelope, derived_id, new_event
from services.contracts.routing import ComplaintDuplicateLinked
from services.geo import haversine_m
from services.metrics import seconds_between
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
Announcement = Decision | ComplaintDuplicateLinked
COUNTED_STATUSES = frozenset({"routed", "triage"})
_LINK_FIELDS = {"primary_id", "primary_tracking_code", "category", "department", "distance_m", "similarity"}


@dataclass
class _Item:
    envelope: Envelope
    submitted: ComplaintSubmitted
    decision_id: str
    stored: Doc | None
    routed: Decision | None = None
    status: str = ""
    extra: Doc = field(default_factory=dict)
    link: ComplaintDuplicateLinked | None = None
    announced_at: datetime | None = None

    @property
    def announcement(self) -> Announcement:
        assert self.routed is not None
        return self.link or self.routed


def _link(item: _Item, match: duplicates.Match, now: datetime) -> None:
    assert item.routed is not None
    item.link = ComplaintDuplicateLinked(
        complaint_id=item.submitted.complaint_id,
        tracking_code=item.submitted.tracking_code,
        primary_id=match.primary_id,
        primary_tracking_code=match.primary_tracking_code,
        category=item.routed.category,
        department=match.department,
        distance_m=match.distance_m,
        similarity=match.similarity,
        linked_at=now,
    )
    item.status = "duplicate"
    item.extra.pop("sla", None)
    item.extra.pop("sla_slot", None)
    item.extra.pop("dup_cell", None)
    item.extra.update(
        department=match.department,
        duplicate=item.link.model_dump(include=_LINK_FIELDS | {"linked_at"}),
    )


def _match_in_batch(
    item: _Item, earlier: Sequence[_Item], options: DuplicateOptions
) -> duplicates.Match | None:
    """The best earlier complaint of the same batch that ``item`` duplicates (it is not stored yet)."""
    assert item.routed is not None and item.submitted.location is not None
    radius = options.radius_m.get(item.routed.category, options.default_radius_m)
    here = item.submitted.location
    mine = duplicates.tokens(item.submitted.text)
    best: tuple[float, float, duplicates.Match] | None = None
    for other in earlier:
        place = other.submitted.location
        if other.link is not None or other.status != "routed" or place is None or other.routed is None:
            continue
        if other.routed.category != item.routed.category:
            continue
        age = item.submitted.submitted_at - other.submitted.submitted_at
        if not timedelta(0) <= age <= timedelta(hours=options.window_hours):
            continue
        distance = haversine_m(here.lat, here.lon, place.lat, place.lon)
        score = duplicates.similarity(mine, other.submitted.text)
        if distance > radius or score < options.min_similarity:
            continue
        match = duplicates.Match(
            other.submitted.complaint_id,
            other.submitted.tracking_code,
            other.routed.department,
            round(distance, 1),
            round(score, 4),
        )
        if best is None or (-score, distance) < best[:2]:
            best = (-score, distance, match)
    return best[2] if best else None


def _decided_fields(item: _Item, now: datetime, batch: str) -> Doc:
    d = item.routed
    assert d is not None
    fields: Doc = {
        "decision_batch": batch,
        "status": item.status,
        "category": d.category,
        "department": d.department,
        "priority": d.priority,
        "language": d.language,
        "due_at": d.due_at,
        "decided_at": now,
        "classifier": {"name": d.classifier, "confidence": d.confidence},
        **item.extra,
    }
    if _counted(item):  # where the statistics count it (the record keeps the district it was given)
        fields["counted_as"] = bookkeeping.counted_as(
            {**fields, "district": fields.get("district", item.submitted.district)}
        )
    return fields


def _counted(item: _Item) -> bool:
    # Decisions count in the public statistics as submissions; a duplicate follows its first report.
    return item.status in COUNTED_STATUSES


def _candidate(item: _Item) -> Doc:
    """What a duplicate look-up reads of the record of ``item``, routed now (duplicates.CANDIDATE_FIELDS)."""
    assert item.routed is not None and item.submitted.location is not None
    return {
        "_id": item.submitted.complaint_id,
        "tracking_code": item.submitted.tracking_code,
        "department": item.routed.department,
        "category": item.routed.category,
        "text": item.submitted.text,
        "location": item.submitted.location.model_dump(),
        "created_at": records.store_precision(item.submitted.submitted_at),
        "status": item.status,
    }


def _decided_record(item: _Item, now: datetime, batch: str) -> Doc:
    """The whole record of a complaint received and decided at once (no record existed)."""
    doc = records.received_record(item.submitted, event_id=item.envelope.id)
    doc.update(_decided_fields(item, now, batch))
    doc["timeline"].append(records.timeline_entry(item.status, now, event_id=item.decision_id))
    doc["applied_events"].append(item.decision_id)
    if _counted(item):
        doc["counted_events"] = [item.decision_id]
    return doc


def _marks(item: _Item) -> Doc:
    """The decision's event id as applied and, for a decision the statistics count, as counted: the
    same conditional update stores the decision and claims its count (router/bookkeeping.py)."""
    marks: Doc = {"applied_events": item.decision_id}
    if _counted(item):
        marks["counted_events"] = item.decision_id
    return marks


async def handle_submitted_batch(envelopes: Sequence[Envelope], **deciding: Any) -> list[Announcement]:
    """Decide for every ``complaint.submitted`` event of the batch, book and announce the decisions
    (:func:`decide_batch`, then what it returns)."""
    announce = await decide_batch(envelopes, **deciding)
    return await announce()


async def decide_batch(
    envelopes: Sequence[Envelope],
    *,
    store: Store,
    publisher: Publisher,
    classifier: Classifier,
    taxonomy: Taxonomy,
    threshold: float,
    routing: RoutingTable | None = None,
    sla: SlaPolicy | None = None,
    dedupe: DuplicateOptions | None = None,
    rollups: bookkeeping.Rollups | None = None,
    nearby: duplicates.NearbyCache | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[], Awaitable[list[Announcement]]]:
    """Decide for every ``complaint.submitted`` event of the batch and store the decisions; returns
    what is left, to be awaited once: the inbox entries, the counts and the announcements (a worker
    decides the next batch meanwhile; the batch is done, and its offsets may be acknowledged, when
    that has returned). Raises InvalidEvent if one is not a valid submission (the caller then handles
    the messages one by one).

    The decisions made now also get their inbox entries and their counts in the public rollups
    (``rollups`` remembers which rollups exist; without, each is created if missing). With
    ``nearby`` the duplicate candidates of cells read lately come from memory, and the complaints
    routed here are added to it once stored."""
    items: list[_Item] = []
    seen: set[str] = set()
    for envelope in envelopes:
        submitted = envelope.payload(ComplaintSubmitted)
        decision_id = derived_id(envelope.source, envelope.id, "decision")
        if decision_id in seen:
            continue  # the same event twice in one batch: once is enough
        seen.add(decision_id)
        items.append(_Item(envelope, submitted, decision_id, None))
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    # No read first: FerretDB answers {_id: {$in: …}} by scanning the collection. Every complaint is
    # decided; the writes below are conditional, and if one finds its decision stored already (a
    # redelivery), the stored records are read then and announced instead.
    now = records.store_precision(clock())
    # Stored with the decisions: a record that holds another batch's id was decided by an earlier
    # delivery (its time alone could coincide).
    batch = uuid.uuid4().hex
    fresh = list(items)
    # The whole batch at once: cheaper per complaint than one by one (docs/performance.md).
    classifications = classifier.classify_many(
        [i.submitted.text for i in fresh], [i.submitted.category_hint for i in fresh]
    )
    for item, classification in zip(fresh, classifications, strict=True):
        item.routed, item.status, item.extra = plan(
            item.submitted,
            classification,
            district=district_of(item.submitted, routing),
            taxonomy=taxonomy,
            threshold=threshold,
            now=now,
            routing=routing,
            sla=sla,
        )

    def update(item: _Item) -> UpdateOne:
        # Conditional on the decision's event id: a redelivery changes nothing.
        return UpdateOne(
            {"_id": item.submitted.complaint_id, "applied_events": {"$ne": item.decision_id}},
            {
                "$set": _decided_fields(item, now, batch),
                "$push": {"timeline": records.timeline_entry(item.status, now, event_id=item.decision_id)},
                "$addToSet": _marks(item),
            },
        )

    candidates: list[_Item] = []
    if dedupe is not None and dedupe.enabled:
        candidates = [i for i in fresh if i.submitted.location is not None and i.status == "routed"]
    looked_up = {id(i) for i in candidates}
    timings["decide"], mark = time.perf_counter() - mark, time.perf_counter()
    # Most complaints have their received record already (intake writes it): update them all,
    # unordered. The decisions no duplicate can change (no map pin, or triage) are stored while the
    # duplicates of the others are looked up; those others once linked or not. A complaint that
    # cannot be a duplicate cannot be a primary either (it gets no grid cell), so nothing the look-up
    # reads is being written meanwhile.
    settled = asyncio.ensure_future(
        bookkeeping.bulk_write(store.complaints, [update(i) for i in fresh if id(i) not in looked_up])
    )
    try:
        if candidates:
            assert dedupe is not None
            wanted = [
                duplicates.Wanted(
                    i.submitted.complaint_id,
                    i.routed.category,
                    i.submitted.text,
                    i.submitted.location.lat,
                    i.submitted.location.lon,
                    i.submitted.submitted_at,
                )
                for i in candidates
                if i.routed is not None and i.submitted.location is not None
            ]
            # The open complaints in the cells around every new one, one indexed query per cell.
            found = await duplicates.candidates(store, wanted, dedupe, cache=nearby)
            if nearby is None or nearby.sole:  # what the store holds (sole: the cache is exact)
                matches = [duplicates.best_match(w, found, dedupe) for w in wanted]
            else:  # another worker may have changed what the cache holds: confirm each primary
                matches = await duplicates.confirmed_matches(store, wanted, found, dedupe, nearby)
            for position, (item, match) in enumerate(zip(candidates, matches, strict=True)):
                match = match or _match_in_batch(item, candidates[:position], dedupe)
                if match is not None:
                    _link(item, match, now)
        timings["duplicates"], mark = time.perf_counter() - mark, time.perf_counter()
        linked_or_not = await bookkeeping.bulk_write(store.complaints, [update(i) for i in candidates])
    except BaseException:
        await asyncio.gather(settled, return_exceptions=True)
        raise
    modified = (await settled).modified_count + linked_or_not.modified_count
    timings["update"], mark = time.perf_counter() - mark, time.perf_counter()
    # Only if some were not updated (no record yet: intake writes it best effort, after Kafka has the
    # event; or decided before: a redelivery) are the whole decided records inserted, received and
    # decided at once; an insert refused as a duplicate key means the record existed, and what it
    # stores is read and announced.
    ours = {id(i) for i in fresh}
    if modified != len(fresh):
        refused = await records.insert_new(store, [_decided_record(i, now, batch) for i in fresh])
        existing = [fresh[n] for n in sorted(refused)]
        if existing:
            ids = [i.submitted.complaint_id for i in existing]
            stored = {d["_id"]: d for d in await store.complaints.find({"_id": {"$in": ids}}).to_list(None)}
            for item in existing:
                item.stored = stored[item.submitted.complaint_id]
                if item.stored.get("decision_batch") != batch:  # decided by an earlier delivery
                    ours.discard(id(item))
        timings["insert"], mark = time.perf_counter() - mark, time.perf_counter()
    fresh_ids = ours
    if nearby is not None:  # stored now: later batches find them in memory
        for item in candidates:
            if id(item) in fresh_ids and item.status == "routed" and "dup_cell" in item.extra:
                nearby.add(item.extra["dup_cell"], _candidate(item))
    # The inbox entries and the rollups of the decisions made now (router/bookkeeping.py), written
    # while the announcements are on their way; the batch is done when all of them are.
    decided = [_decided_record(i, now, batch) for i in fresh if id(i) in fresh_ids and _counted(i)]
    resync: list[Doc] = []  # records decided by an earlier delivery
    announcements: list[Announcement] = []
    events = []
    for item in items:
        if id(item) in fresh_ids:
            announcement, decided_at = item.announcement, now
            assert item.routed is not None
            label_department = str(item.extra.get("department", item.routed.department))
            DECISIONS.labels(item.status, item.routed.category, label_department).inc()
            CONFIDENCE.labels(item.status).observe(item.routed.confidence)
            SUBMITTED_TO_DECIDED.labels(item.status).observe(seconds_between(item.envelope.time, now))
        else:
            assert item.stored is not None
            announcement, decided_at = (
                _stored_decision(item.stored, item.submitted),
                item.stored["decided_at"],
            )
            # A redelivery: an earlier delivery may have stopped before the inbox entry was written.
            resync.append(item.stored)
        announcements.append(announcement)
        events.append(
            new_event(
                announcement,
                subject=item.submitted.complaint_id,
                source=SOURCE,
                event_id=item.decision_id,
                time=decided_at,
            )
        )

    async def announce() -> list[Announcement]:
        started = time.perf_counter()
        sends: list[Awaitable[object]] = [
            bookkeeping.add_inbox_entries(store, decided),
            (rollups or bookkeeping.Rollups()).add(
                store, ((bookkeeping.decision_keys(d), stats.increments(submitted=1)) for d in decided)
            ),
            *(inbox.sync(store, doc) for doc in resync),
            *(publisher.publish(topics.EVENTS, event) for event in events),
        ]
        await asyncio.gather(*sends)
        timings["publish"] = time.perf_counter() - started
        log.info(
            "batch decided",
            extra={"size": len(items), "new": len(fresh_ids), **{k: round(v, 4) for k, v in timings.items()}},
        )
        return announcements

    return announce
