"""Service-level deadlines: when a complaint is due, and the warning and escalation when it is late.

A decision stores ``sla = {start, warn_at, due_at}`` on the record. A periodic scan finds open
complaints whose ``warn_at`` or ``due_at`` has passed. Each event is claimed first by a conditional
update on the record (only one worker, before or after a restart, can win it), then published with
an id derived from the complaint and its due time, then marked sent. A claim whose worker died
before the publish is published again, with the same id, after ``reclaim_after``; consumers drop the
repeat by its id.
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


async def scan(
    *,
    store: Store,
    publisher: Publisher,
    now: datetime | None = None,
    batch: int = 500,
    reclaim_after: timedelta = timedelta(minutes=2),
) -> dict[Stage, int]:
    """Publish the warnings and escalations that are due; returns how many of each this call published."""
    now = records.store_precision(now or datetime.now(UTC))
    published: dict[Stage, int] = {"warning": 0, "escalation": 0}
    for stage in ("escalation", "warning"):
        deadline = f"sla.{_DEADLINE[stage]}"
        field = f"sla.{stage}"
        query: Doc = {
            "status": {"$in": sorted(OPEN)},
            deadline: {"$lte": now},
            "$or": [{field: {"$exists": False}}, {f"{field}.sent": False}],
        }
        if stage == "warning":
            query["sla.due_at"] = {"$gt": now}  # past its due time the escalation says it all
        cursor = store.complaints.find(
            query,
            projection=["tracking_code", "category", "department", "priority", "sla"],
            limit=batch,
        )
        for doc in await cursor.to_list(None):
            if not await _claim(store, doc, stage, now, reclaim_after):
                continue
            payload = _payload(doc, stage, now)
            event = new_event(
                payload,
                subject=doc["_id"],
                source=SOURCE,
                event_id=event_id(doc["_id"], stage, doc["sla"]["due_at"]),
                time=now,
            )
            await publisher.publish(topics.EVENTS, event)
            async with records.writing(store, doc["_id"]):
                await store.complaints.update_one({"_id": doc["_id"]}, {"$set": {f"{field}.sent": True}})
            (SLA_BREACHES if stage == "escalation" else SLA_WARNINGS).labels(doc["department"]).inc()
            published[stage] += 1
            log.info("sla %s published", stage, extra={"complaint_id": doc["_id"]})
    return published
