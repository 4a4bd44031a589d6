"""Public statistics kept as rollups: counters the router bumps once per event, read by the transparency page.

Each counted event adds to a handful of small documents in ``stats`` (never a scan of the complaints):

- ``day|<yyyy-mm-dd>|<category>|<department>|<district>``: the fine-grained rollup (open data);
- ``all|-|<dimension>|<value>`` for the dimensions category, department and district, and
  ``all|-|total|-``: the totals the transparency page shows;
- ``month|<Jalali yyyy-mm>|total|-`` and ``week|<Jalali yyyy-Www>|total|-``: the trends.

Every document holds the same counters: ``submitted``, ``resolved``, ``sla_known``/``in_sla`` (resolutions
with a due time, and those on time), ``rating_sum``/``rating_count`` and ``hist``, a histogram of the time
to resolve in geometric buckets (ratio :data:`RATIO` from :data:`FIRST_BUCKET_HOURS`), from which the
median and the 90th percentile are read with a relative error below ``RATIO - 1``.

Counting is idempotent under redelivery: :func:`claim` marks the event id on the complaint's own record
with a conditional update, and only the delivery whose mark succeeds adds to the rollups.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import jdatetime
from pymongo import ASCENDING, UpdateOne
from pymongo.errors import BulkWriteError

from services import records
from services.store import Doc, Store

COLLECTION = "stats"
DIMENSIONS = ("category", "department", "district")
Dimension = Literal["category", "department", "district"]
FIRST_BUCKET_HOURS = 0.25
RATIO = 1.25
BUCKETS = 60  # 0.25 h × 1.25^59 ≈ 130,000 h: every realistic time to resolve
NONE = "-"  # a complaint without a district (or category) is counted under "-"
# Days, months and weeks are those of the city's clock (Iran Standard Time, no DST since 2022).
CITY_OFFSET = timedelta(hours=3, minutes=30)


def bucket_of(hours: float) -> int:
    """The histogram bucket of a time to resolve: bucket i holds (0.25·1.25^(i-1), 0.25·1.25^i] hours."""
    if hours <= FIRST_BUCKET_HOURS:
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(hours / FIRST_BUCKET_HOURS, RATIO) - 1e-9))


def bucket_bounds(index: int) -> tuple[float, float]:
    """(lower, upper) hours of bucket ``index``."""
    upper = FIRST_BUCKET_HOURS * RATIO**index
    return (0.0 if index == 0 else upper / RATIO), upper


def local_day(at: datetime) -> date:
    """The city's calendar day of ``at``."""
    return (at.astimezone(UTC) + CITY_OFFSET).date()


def jalali_month(day: date) -> str:
    """``1405-08``: the Jalali year and month of ``day``."""
    j = jdatetime.date.fromgregorian(date=day)
    return f"{j.year:04d}-{j.month:02d}"


def jalali_week(day: date) -> str:
    """``1405-W34``: the Jalali year and week (weeks start on Saturday) of ``day``."""
    j = jdatetime.date.fromgregorian(date=day)
    return f"{j.year:04d}-W{j.weeknumber():02d}"


def _id(*parts: str) -> str:
    # '|' cannot occur in category/department codes; a district name is cleaned of it.
    return "|".join(p.replace("|", "/") for p in parts)


def rollup_keys(day: date, category: str, department: str, district: str) -> list[Doc]:
    """The rollup documents (id and identifying fields) one complaint's event adds to."""
    keys: list[Doc] = [
        {
            "_id": _id("day", day.isoformat(), category, department, district),
            "scope": "day",
            "period": day.isoformat(),
            "category": category,
            "department": department,
            "district": district,
        },
        {
            "_id": _id("all", NONE, "total", NONE),
            "scope": "all",
            "period": NONE,
            "dim": "total",
            "value": NONE,
        },
        {
            "_id": _id("month", jalali_month(day), "total", NONE),
            "scope": "month",
            "period": jalali_month(day),
        },
        {"_id": _id("week", jalali_week(day), "total", NONE), "scope": "week", "period": jalali_week(day)},
    ]
    for dim, value in zip(DIMENSIONS, (category, department, district), strict=True):
        keys.append(
            {"_id": _id("all", NONE, dim, value), "scope": "all", "period": NONE, "dim": dim, "value": value}
        )
    return keys


def increments(
    *,
    submitted: int = 0,
    resolved_hours: float | None = None,
    in_sla: bool | None = None,
    rating: int | None = None,
) -> dict[str, int]:
    """The ``$inc`` of one event."""
    inc: dict[str, int] = {}
    if submitted:
        inc["submitted"] = submitted
    if resolved_hours is not None:
        inc["resolved"] = 1
        inc[f"hist.b{bucket_of(resolved_hours):02d}"] = 1
        if in_sla is not None:
            inc["sla_known"] = 1
            inc["in_sla"] = int(in_sla)
    if rating is not None:
        inc["rating_sum"] = rating
        inc["rating_count"] = 1
    return inc


async def ensure_indexes(store: Store) -> None:
    """The index the transparency page reads by."""
    await store.db[COLLECTION].create_index([("scope", ASCENDING), ("period", ASCENDING)], name="by_scope")


async def claim(store: Store, complaint_id: str, event_id: str, fields: Doc | None = None) -> bool:
    """Mark ``event_id`` as counted on the complaint's record; True for the one delivery that marks it."""
    update: Doc = {"$addToSet": {"counted_events": event_id}}
    if fields:
        update["$set"] = fields
    async with records.writing(store, complaint_id):
        result = await store.complaints.update_one(
            {"_id": complaint_id, "counted_events": {"$ne": event_id}}, update
        )
    return bool(result.modified_count == 1)


async def add(store: Store, keys: Iterable[Doc], inc: Mapping[str, int]) -> None:
    """Add ``inc`` to every rollup in ``keys``, creating missing rollups first.

    Creation and counting are separate steps: an unordered insert of the rollups (one that exists is a
    duplicate and left alone), then plain ``$inc`` updates. An upsert would race when two workers
    create the same rollup at once, and FerretDB on PostgreSQL then fails the whole bulk write
    (PyMongo ``KeyError('nModified')``) after some of its increments were applied.
    """
    if not inc:
        return
    keys = list(keys)
    try:
        await store.db[COLLECTION].insert_many([dict(key) for key in keys], ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != records.DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
    ops = [UpdateOne({"_id": key["_id"]}, {"$inc": dict(inc)}) for key in keys]
    async with store.serial(COLLECTION):  # side by side, FerretDB v1 loses increments (Store.serial)
        await store.db[COLLECTION].bulk_write(ops, ordered=False)


@dataclass
class Figures:
    """The public numbers of one group of complaints."""

    submitted: int = 0
    resolved: int = 0
    sla_known: int = 0
    in_sla: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    hist: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Figures:
        """The figures of one rollup document."""
        hist = doc.get("hist") or {}
        return cls(
            submitted=int(doc.get("submitted", 0)),
            resolved=int(doc.get("resolved", 0)),
            sla_known=int(doc.get("sla_known", 0)),
            in_sla=int(doc.get("in_sla", 0)),
            rating_sum=int(doc.get("rating_sum", 0)),
            rating_count=int(doc.get("rating_count", 0)),
            hist={int(k[1:]): int(v) for k, v in hist.items()},
        )

    def merge(self, other: Figures) -> None:
        """Add ``other``'s counts to these."""
        self.submitted += other.submitted
        self.resolved += other.resolved
        self.sla_known += other.sla_known
        self.in_sla += other.in_sla
        self.rating_sum += other.rating_sum
        self.rating_count += other.rating_count
        for k, v in other.hist.items():
            self.hist[k] = self.hist.get(k, 0) + v

    def percentile_hours(self, q: float) -> float | None:
        """The ``q`` quantile (0–1) of the time to resolve in hours, interpolated inside its bucket."""
        total = sum(self.hist.values())
        if total == 0:
            return None
        rank = q * total
        seen = 0
        for index in sorted(self.hist):
            count = self.hist[index]
            if seen + count >= rank:
                low, high = bucket_bounds(index)
                return low + (high - low) * ((rank - seen) / count if count else 1.0)
            seen += count
        return bucket_bounds(max(self.hist))[1]

    @property
    def sla_share(self) -> float | None:
        """Share of resolutions (with a due time) that came on time."""
        return self.in_sla / self.sla_known if self.sla_known else None

    @property
    def satisfaction(self) -> float | None:
        """Average survey answer, 1–5."""
        return self.rating_sum / self.rating_count if self.rating_count else None

    def public(self) -> dict[str, Any]:
        """The open-data record of these figures."""

        def rounded(value: float | None, digits: int) -> float | None:
            return None if value is None else round(value, digits)

        return {
            "submitted": self.submitted,
            "resolved": self.resolved,
            "median_hours_to_resolve": rounded(self.percentile_hours(0.5), 1),
            "p90_hours_to_resolve": rounded(self.percentile_hours(0.9), 1),
            "resolved_within_sla": rounded(self.sla_share, 3),
            "satisfaction": rounded(self.satisfaction, 2),
            "ratings": self.rating_count,
        }


@dataclass
class Summary:
    """Everything the transparency page shows."""

    total: Figures
    by: dict[str, dict[str, Figures]]
    months: list[tuple[str, Figures]]
    weeks: list[tuple[str, Figures]]


async def summary(store: Store, *, months: int = 12, weeks: int = 12) -> Summary:
    """Totals per dimension and the latest trends, from a few dozen rollup documents."""
    collection = store.db[COLLECTION]
    total = Figures()
    by: dict[str, dict[str, Figures]] = {dim: {} for dim in DIMENSIONS}
    async for doc in collection.find({"scope": "all"}):
        figures = Figures.of(doc)
        if doc.get("dim") == "total":
            total = figures
        elif doc.get("dim") in by:
            by[doc["dim"]][doc["value"]] = figures
    month_docs = await collection.find({"scope": "month"}).sort("period", -1).limit(months).to_list()
    week_docs = await collection.find({"scope": "week"}).sort("period", -1).limit(weeks).to_list()
    return Summary(
        total=total,
        by=by,
        months=[(d["period"], Figures.of(d)) for d in reversed(month_docs)],
        weeks=[(d["period"], Figures.of(d)) for d in reversed(week_docs)],
    )
