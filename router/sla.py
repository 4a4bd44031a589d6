"""Service-level deadlines: when a complaint is due, and the warning and escalation when it is late.

A decision stores ``sla = {start, warn_at, due_at}`` on the record. A periodic scan finds open
complaints whose ``warn_at`` or ``due_at`` has passed. Each event is claimed first by a conditional
update on the record (only one worker, before or after a restart, can win it), then published with
an id derived from the complaint and its due time, then marked sent. A claim whose worker died
before the publish is published again, with the same id, after ``reclaim_after``; consumers drop the
repeat by its id.

Which records the scan reads: each record also carries ``sla_slot``, the hour (UTC) of its next
deadline still to be announced, and the scan asks for the hours from the oldest one not finished
(kept in ``sla_scan``) to the current one, one equality query each. FerretDB v1 serves an equality on
an indexed field from the index but answers a range (``sla.due_at <= now``) by reading and decoding
the whole collection: 7.8 s of its CPU per scan at 20,000 complaints, every 30 s, growing with every
complaint ever made. A worker's first scan reads the collection once: it gives ``sla_slot`` to the
records that lack it (decided by an older version) and starts from the oldest hour found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from router.metrics import SLA_BREACHES, SLA_WARNINGS
from router.settings import SlaOptions
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.envelope import derived_id, new_event
from services.contracts.routing import ComplaintEscalated, ComplaintSlaWarning, SlaEvent
from services.lifecycle import OPEN
from services.store import Doc, Store
from services.worktime import WorkCalendar

log = logging.getLogger(__name__)
SOURCE = "/pasokh/router/sla"
Stage = Literal["warning", "escalation"]
_MODELS: dict[Stage, type[SlaEvent]] = {"warning": ComplaintSlaWarning, "escalation": ComplaintEscalated}
_DEADLINE: dict[Stage, str] = {"warning": "warn_at", "escalation": "due_at"}


@dataclass(frozen=True)
class SlaPolicy:
    """Due times per category and priority, in the city's working time."""

    calendar: WorkCalendar
    options: SlaOptions

    @classmethod
    def from_options(cls, options: SlaOptions) -> SlaPolicy:
        """The policy with the shipped holidays and the configured office hours and Thursday."""
        base = WorkCalendar.default(thursday=options.thursday)
        calendar = WorkCalendar(
            start=options.workday_start,
            end=options.workday_end,
            thursday=options.thursday,
            holidays=base.holidays,
        )
        return cls(calendar, options)

    def deadlines(self, *, sla_hours: float, priority: str, start: datetime) -> tuple[datetime, datetime]:
        """(warn_at, due_at) of a complaint decided at ``start``."""
        if priority == "urgent":
            hours = min(sla_hours, self.options.urgent_max_hours)
            due = start + timedelta(hours=hours)
            warn = start + timedelta(hours=hours * self.options.warn_share)
        else:
            hours = sla_hours * self.options.factors.get(priority, 1.0)
            due = self.calendar.add(start, timedelta(hours=hours))
            warn = self.calendar.add(start, timedelta(hours=hours * self.options.warn_share))
        return records.store_precision(warn), records.store_precision(due)

    def warn_at(self, *, start: datetime, due_at: datetime, priority: str) -> datetime:
        """When ``warn_share`` of the time from ``start`` to ``due_at`` has passed (working time
        unless ``urgent``)."""
        if priority == "urgent":
            return records.store_precision(start + (due_at - start) * self.options.warn_share)
        worked = self.calendar.between(start, due_at) * self.options.warn_share
        return records.store_precision(self.calendar.add(start, worked))


def event_id(complaint_id: str, stage: Stage, due_at: datetime) -> str:
    """The same id for the same complaint, stage and due time, whoever publishes it and how often."""
    return derived_id(SOURCE, complaint_id, stage, due_at.astimezone(UTC).isoformat())


async def _claim(store: Store, doc: Doc, stage: Stage, now: datetime, reclaim_after: timedelta) -> bool:
    """Take the right to publish ``stage`` for ``doc``; False if another worker has it or it was sent."""
    field = f"sla.{stage}"
    async with records.writing(store, doc["_id"]):
        result = await store.complaints.update_one(
            {
                "_id": doc["_id"],
                "status": {"$in": sorted(OPEN)},
                "sla.due_at": doc["sla"]["due_at"],
                "$or": [
                    {field: {"$exists": False}},
                    {f"{field}.sent": False, f"{field}.claimed_at": {"$lte": now - reclaim_after}},
                ],
            },
            {"$set": {field: {"claimed_at": now, "sent": False}}},
        )
    return bool(result.modified_count == 1)


def _payload(doc: Doc, stage: Stage, now: datetime) -> SlaEvent:
    return _MODELS[stage](
        complaint_id=doc["_id"],
        tracking_code=doc["tracking_code"],
        category=doc["category"],
        department=doc["department"],
        priority=doc["priority"],
        due_at=doc["sla"]["due_at"],
        at=now,
    )


CURSOR = "sla_scan"  # {_id: "cursor", slot}: the oldest hour that may hold a deadline to announce


def slot(at: datetime) -> str:
    """The hour ``at`` falls in (UTC), as the records' ``sla_slot`` names it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _sent(sla: Doc, stage: Stage) -> bool:
    return bool(sla.get(stage, {}).get("sent"))


def next_slot(doc: Doc) -> str | None:
    """The hour of ``doc``'s next deadline still to be announced, None when none is left (closed, or
    the escalation announced). Past its due time the warning is not announced: the escalation says it."""
    sla = doc.get("sla")
    if not sla or doc.get("status") not in OPEN or _sent(sla, "escalation"):
        return None
    return slot(sla["due_at"] if _sent(sla, "warning") else sla["warn_at"])


def _due(doc: Doc, stage: Stage, now: datetime) -> bool:
    """What the scan's queries asked before slots: open, its deadline passed, not announced (a claim
    that was not may be taken over, which :func:`_claim` decides); a warning only before the due time."""
    sla = doc["sla"]
    if doc.get("status") not in OPEN or sla[_DEADLINE[stage]] > now or _sent(sla, stage):
        return False
    return stage == "escalation" or sla["due_at"] > now


async def _place(store: Store, doc: Doc) -> None:
    """Set ``doc``'s ``sla_slot`` to its next deadline's hour (or remove it), if that changed."""
    wanted = next_slot(doc)
    if wanted == doc.get("sla_slot"):
        return
    update: Doc = {"$set": {"sla_slot": wanted}} if wanted else {"$unset": {"sla_slot": ""}}
    async with records.writing(store, doc["_id"]):
        await store.complaints.update_one({"_id": doc["_id"]}, update)


async def backfill(store: Store, *, batch: int = 500) -> str | None:
    """Give every record with deadlines the ``sla_slot`` it should have (an older version wrote none),
    reading the whole collection once; return the oldest hour a deadline still waits in, None if none."""
    oldest: str | None = None
    cursor = store.complaints.find(
        {"sla": {"$exists": True}}, projection=["status", "sla", "sla_slot"], batch_size=batch
    )
    async for doc in cursor:
        await _place(store, doc)
        wanted = next_slot(doc)
        if wanted is not None:
            oldest = wanted if oldest is None else min(oldest, wanted)
    return oldest


def _hours(first: str, last: str) -> list[str]:
    start = datetime.strptime(first, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    end = datetime.strptime(last, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return [slot(start + timedelta(hours=n)) for n in range(int((end - start) / timedelta(hours=1)) + 1)]


async def scan(
    *,
    store: Store,
    publisher: Publisher,
    now: datetime | None = None,
    batch: int = 500,
    reclaim_after: timedelta = timedelta(minutes=2),
    backfill_first: bool = True,
) -> dict[Stage, int]:
    """Publish the warnings and escalations that are due; returns how many of each this call published.

    With ``backfill_first`` (a worker's first scan) records without ``sla_slot`` get one first.
    """
    now = records.store_precision(now or datetime.now(UTC))
    published: dict[Stage, int] = {"warning": 0, "escalation": 0}
    kept = await store.db[CURSOR].find_one({"_id": "cursor"})
    start: str | None = kept["slot"] if kept else None
    if backfill_first or start is None:
        oldest = await backfill(store, batch=batch)
        start = min(x for x in (start, oldest, slot(now)) if x is not None)
    unfinished: str | None = None
    for hour in _hours(min(start, slot(now)), slot(now)):
        docs = await store.complaints.find(
            {"sla_slot": hour},
            projection=["tracking_code", "category", "department", "priority", "status", "sla", "sla_slot"],
            batch_size=batch,
        ).to_list(None)  # every record of the hour: those due later in it must not hide the others
        for doc in docs:
            for stage in ("escalation", "warning"):
                if _due(doc, stage, now) and await _announce(
                    store, publisher, doc, stage, now, reclaim_after
                ):
                    published[stage] += 1
            await _place(store, doc)
            if unfinished is None and next_slot(doc) == hour:
                unfinished = hour  # not due yet, or claimed by a worker that may still announce it
    await store.db[CURSOR].update_one(
        {"_id": "cursor"}, {"$set": {"slot": unfinished or slot(now)}}, upsert=True
    )
    return published


async def _announce(
    store: Store, publisher: Publisher, doc: Doc, stage: Stage, now: datetime, reclaim_after: timedelta
) -> bool:
    """Claim, publish and mark sent ``stage`` of ``doc`` (updating ``doc`` as the record now is);
    False if another worker holds the claim or announced it."""
    if not await _claim(store, doc, stage, now, reclaim_after):
        return False
    payload = _payload(doc, stage, now)
    event = new_event(
        payload,
        subject=doc["_id"],
        source=SOURCE,
        event_id=event_id(doc["_id"], stage, doc["sla"]["due_at"]),
        time=now,
    )
    await publisher.publish(topics.EVENTS, event)
    field = f"sla.{stage}"
    async with records.writing(store, doc["_id"]):
        await store.complaints.update_one({"_id": doc["_id"]}, {"$set": {f"{field}.sent": True}})
    doc["sla"][stage] = {"claimed_at": now, "sent": True}
    (SLA_BREACHES if stage == "escalation" else SLA_WARNINGS).labels(doc["department"]).inc()
    log.info("sla %s published", stage, extra={"complaint_id": doc["_id"]})
    return True
