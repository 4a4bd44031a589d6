"""The staff inbox's read model: one small document per open complaint, kept in step by the router.

The console lists open complaints by department, most urgent due time first, 50 at a time. FerretDB v1
(the local MongoDB-wire server) pushes only top-level equalities down to its backend: ``$in``, ranges,
sorting and (once there is a filter or a sort) the limit are applied in FerretDB's own process after
reading and decoding every matching document, at roughly 0.1 ms a document (docs/web.md#speed). So a
page is read in pieces that plain equalities select and that are small:

- every entry carries ``day`` (the UTC day number of its due time, :func:`day_of`) and ``week``;
- ``inbox_slots`` holds markers of the pieces that may hold entries: per department one per week,
  and over all departments one per week and one per day;
- a page reads the week markers of its scope (a few dozen tiny documents a year), then the entries
  of the earliest pieces (a department's weeks; for all departments the days of each week), a few
  pieces at a time, until the page is full (:func:`page`). Rows are ordered by (due time, id) and a
  page continues after the last row's key (keyset pagination), never by skipping.

Markers are only added by :func:`sync` (after the entry is written) and removed by readers that found
a piece empty: the remover checks again after the delete and puts the marker back if an entry arrived
meanwhile, so a marker is not missing while its piece holds an entry (:func:`_drop_marker`).
:func:`backfill` builds entries and markers for complaints stored before this read model existed
(``pasokh inbox backfill``; safe to stop and run again).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import BulkWriteError

from services.store import Doc, Store

log = logging.getLogger(__name__)

COLLECTION = "inbox"
SLOTS = "inbox_slots"
ALL = "*"  # the scope of the markers over every department
LISTED = frozenset({"routed", "triage", "acknowledged", "reopened"})
EXCERPT = 160
NO_DUE = 10**7  # the day of an entry without a due time: after every dated one
NEVER = datetime.max.replace(tzinfo=UTC)
DUPLICATE_KEY = 11000
# A filtered page (status, category, district, supervisor flag) reads at most this many pieces, then
# every match of its filter at once: a filter that matches little is cheaper read whole than walked.
WALK_BUDGET = 14
_COPIED = ("tracking_code", "status", "category", "department", "district", "due_at", "created_at")
_RECORD_FIELDS = dict.fromkeys((*_COPIED, "text", "classifier", "needs_supervisor"), 1)  # what entry() reads
_cleaning: set[asyncio.Task[None]] = set()


def collection(store: Store) -> Any:
    """The inbox collection."""
    return store.db[COLLECTION]


def slots(store: Store) -> Any:
    """The markers of the pieces (weeks, days) that may hold entries."""
    return store.db[SLOTS]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def day_of(due_at: datetime | None) -> int:
    """The day of a due time: its UTC date as a day number (:data:`NO_DUE` without one)."""
    if due_at is None or _aware(due_at) == NEVER:
        return NO_DUE
    return _aware(due_at).astimezone(UTC).date().toordinal()


def week_of(day: int) -> int:
    """The week of a day number."""
    return day // 7


def _scope_of(department: Any) -> str:
    return str(department or "-")


def entry(doc: Doc) -> Doc | None:
    """The inbox entry of a complaint record, or None when it is not listed (closed, or not decided)."""
    if doc.get("status") not in LISTED:
        return None
    found: Doc = {"_id": doc["_id"], **{k: doc.get(k) for k in _COPIED}}
    found["text"] = str(doc.get("text") or "")[:EXCERPT]
    found["confidence"] = (doc.get("classifier") or {}).get("confidence")
    # A citizen's reopening flags the complaint for a supervisor (router/actions.py).
    found["needs_supervisor"] = bool(doc.get("needs_supervisor"))
    found["day"] = day_of(doc.get("due_at"))
    found["week"] = week_of(found["day"])
    return found


def _week_marker(scope: str, week: int) -> Doc:
    return {"_id": f"{scope}|w{week}", "scope": scope, "level": "week", "week": week}


def _day_marker(day: int) -> Doc:
    return {"_id": f"{ALL}|d{day}", "scope": ALL, "level": "day", "week": week_of(day), "day": day}


def _markers(listed: Doc) -> list[Doc]:
    """The markers an entry needs: its department's week, and the week and day over all departments."""
    return [
        _week_marker(_scope_of(listed["department"]), listed["week"]),
        _week_marker(ALL, listed["week"]),
        _day_marker(listed["day"]),
    ]


def markers_of(entries: Iterable[Doc]) -> list[Doc]:
    """The markers ``entries`` need, each once (write them with :func:`add_markers` after the
    entries, as :func:`sync` does)."""
    found: dict[str, Doc] = {}
    for listed in entries:
        for marker in _markers(listed):
            found[marker["_id"]] = marker
    return list(found.values())


async def add_markers(store: Store, markers: Iterable[Doc]) -> None:
    """Insert markers; one that exists already is left alone."""
    docs = list(markers)
    for start in range(0, len(docs), 1000):
        try:
            await slots(store).insert_many(docs[start : start + 1000], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise


async def sync(store: Store, doc: Doc) -> None:
    """Make the complaint's inbox entry match its record."""
    listed = entry(doc)
    if listed is None:
        await collection(store).delete_one({"_id": doc["_id"]})
        return
    before = await collection(store).find_one_and_replace({"_id": doc["_id"]}, listed, upsert=True)
    # An entry that stayed in its department and day all along kept its markers (readers drop only
    # markers of empty pieces); otherwise mark its pieces, after the entry is written.
    if before is None or (before.get("department"), before.get("day")) != (
        listed["department"],
        listed["day"],
    ):
        await add_markers(store, _markers(listed))


async def ensure_indexes(store: Store) -> None:
    """Indexes for the equalities the pages filter by (on FerretDB/PostgreSQL each key also gets a
    GIN index, pasokh/infra/postgres_gin_trigger.sql)."""
    inbox = collection(store)
    await inbox.create_index(
        [("department", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)], name="inbox"
    )
    await inbox.create_index([("department", ASCENDING), ("week", ASCENDING)], name="by_week")
    await inbox.create_index([("day", ASCENDING)], name="by_day")
    await inbox.create_index([("district", ASCENDING)], name="by_district")
    await inbox.create_index([("category", ASCENDING)], name="by_category")
    await inbox.create_index([("needs_supervisor", ASCENDING)], name="by_flag")
    await slots(store).create_index(
        [("scope", ASCENDING), ("level", ASCENDING), ("week", ASCENDING)], name="by_scope"
    )


@dataclass(frozen=True)
class Query:
    """Which open complaints a page lists; ``departments`` None means every department."""

    departments: list[str] | None
    statuses: frozenset[str]
    district: str | None = None
    category: str | None = None
    due_before: datetime | None = None  # overdue: due before this time
    flagged: bool = False  # only complaints flagged for a supervisor
    after: tuple[datetime, str] | None = None  # keyset: rows after this (due time, id)
    stats: dict[str, int] = field(default_factory=dict, compare=False)

    def equalities(self) -> Doc:
        """The filter FerretDB can hand to its backend (status only when one is asked for)."""
        found: Doc = {}
        if len(self.statuses) == 1:
            found["status"] = next(iter(self.statuses))
        if self.district:
            found["district"] = self.district
        if self.category:
            found["category"] = self.category
        if self.flagged:
            found["needs_supervisor"] = True
        return found

    def keeps(self) -> Callable[[Doc], bool]:
        """The rest of the filter, applied here."""
        statuses, due_before, after = self.statuses, self.due_before, self.after

        def keep(row: Doc) -> bool:
            if row.get("status") not in statuses:
                return False
            due = row.get("due_at")
            if due_before is not None and (due is None or _aware(due) >= due_before):
                return False
            return after is None or sort_key(row) > after

        return keep


def sort_key(row: Doc) -> tuple[datetime, str]:
    """The inbox's order: due time (none last), then id."""
    due = row.get("due_at")
    return (_aware(due) if due is not None else NEVER, str(row["_id"]))


def after_token(row: Doc) -> str:
    """The ``after`` parameter of the page that follows ``row``."""
    due, _id = sort_key(row)
    return f"{due.isoformat()}~{_id}"


def parse_after(token: str) -> tuple[datetime, str] | None:
    """The (due time, id) of an ``after`` parameter, None when it is malformed."""
    due, sep, _id = token.partition("~")
    if not sep or not _id:
        return None
    try:
        return _aware(datetime.fromisoformat(due)), _id
    except ValueError:
        return None


@dataclass(frozen=True)
class _Piece:
    """One equality query's worth of entries: a department's week, or a day over all departments
    (or a whole week over all departments when its day markers are missing)."""

    scope: str
    level: str  # "week" or "day"
    value: int
    marker: str

    def where(self) -> Doc:
        found: Doc = {self.level: self.value}
        if self.scope != ALL:
            found["department"] = self.scope
        return found


async def page(store: Store, query: Query, *, limit: int) -> list[Doc]:
    """The first ``limit`` entries matching ``query`` in the inbox's order."""
    scopes = [ALL] if query.departments is None else [_scope_of(d) for d in query.departments]
    low = day_of(query.after[0]) if query.after else None
    high = day_of(query.due_before) if query.due_before else None
    found = await asyncio.gather(
        *(slots(store).find({"scope": scope, "level": "week"}, {"week": 1}).to_list() for scope in scopes)
    )
    weeks: dict[int, list[str]] = {}
    for scope, markers in zip(scopes, found, strict=True):
        for marker in markers:
            weeks.setdefault(int(marker["week"]), []).append(scope)
    order = sorted(
        w for w in weeks if (low is None or w >= week_of(low)) and (high is None or w <= week_of(high))
    )
    base = query.equalities()
    keep = query.keeps()
    # One department's complaints in one district are a small share of them: read those at once
    # rather than week by week.
    if query.district and query.departments is not None:
        query.stats["fallback"] = 1
        return (await _read_whole(store, query, scopes))[:limit]
    # A department's week is read whole. Over all departments a week is read day by day, unless a
    # district, category or supervisor-flag filter leaves few complaints in a week.
    pieces: list[_Piece] = []
    by_day = not (query.district or query.category or query.flagged)
    pending = [w for w in order if ALL in weeks[w] and by_day]
    if not by_day:
        pieces += [_Piece(ALL, "week", w, f"{ALL}|w{w}") for w in order if ALL in weeks[w]]
    for w in order:
        pieces += [_Piece(s, "week", w, f"{s}|w{w}") for s in weeks[w] if s != ALL]

    async def expand(needed: int) -> None:
        """Turn the next weeks over all departments into their days until ``needed`` pieces wait."""
        while pending and len(pieces) < needed:
            w = pending.pop(0)
            days = await slots(store).find({"scope": ALL, "level": "day", "week": w}, {"day": 1}).to_list()
            wanted = sorted(
                d
                for d in (int(m["day"]) for m in days)
                if (low is None or d >= low) and (high is None or d <= high)
            )
            if days:
                pieces.extend(_Piece(ALL, "day", d, f"{ALL}|d{d}") for d in wanted)
            else:
                pieces.append(_Piece(ALL, "week", w, f"{ALL}|w{w}"))

    rows: list[Doc] = []
    empty: list[_Piece] = []
    asked = 0
    width = 2
    while len(rows) < limit:
        await expand(width)
        cut = min(width, len(pieces))
        # Several departments' pieces of the same week are read together: the page may end only
        # where a week ends.
        while 0 < cut < len(pieces) and pieces[cut].value == pieces[cut - 1].value:
            cut += 1
        batch, pieces[:] = pieces[:cut], pieces[cut:]
        if not batch:
            break
        if base and asked + len(batch) > WALK_BUDGET:
            query.stats["fallback"] = 1
            rows = await _read_whole(store, query, scopes)
            break
        answers = await asyncio.gather(
            *(collection(store).find({**base, **piece.where()}).to_list() for piece in batch)
        )
        asked += len(batch)
        for piece, answer in zip(batch, answers, strict=True):
            if not answer and not base:
                empty.append(piece)
            rows.extend(row for row in answer if keep(row))
        # Read next as many pieces as the rows found so far per piece say are still needed, plus one.
        per_piece = len(rows) / asked
        width = min(2 * width, math.ceil((limit - len(rows)) / per_piece) + 1) if per_piece else 2 * width
    query.stats["queries"] = asked
    if empty:
        task = asyncio.create_task(_drop_markers(store, empty))
        _cleaning.add(task)
        task.add_done_callback(_cleaning.discard)
    rows.sort(key=sort_key)
    return rows[:limit]


async def _read_whole(store: Store, query: Query, scopes: list[str]) -> list[Doc]:
    """Every entry matching ``query`` (one equality query per department), in order."""
    base = query.equalities()
    keep = query.keeps()

    async def one(scope: str) -> list[Doc]:
        where = dict(base) if scope == ALL else {**base, "department": scope}
        found: list[Doc] = await collection(store).find(where).to_list()
        return found

    found = await asyncio.gather(*(one(scope) for scope in scopes))
    rows = [row for batch in found for row in batch if keep(row)]
    rows.sort(key=sort_key)
    return rows


async def _drop_markers(store: Store, empty: list[_Piece]) -> None:
    for piece in empty:
        try:
            await _drop_marker(store, piece)
            if piece.scope == ALL and piece.level == "day":  # its week may be empty now too
                week = week_of(piece.value)
                await _drop_marker(store, _Piece(ALL, "week", week, f"{ALL}|w{week}"))
        except Exception:  # a marker left behind costs one query per page until the next try
            log.warning("could not drop an empty inbox marker", exc_info=True)


async def _drop_marker(store: Store, piece: _Piece) -> None:
    """Remove the marker of a piece found empty; put it back if an entry arrived in the meantime.

    :func:`sync` writes the entry before the marker, so an entry written after the second check
    finds the marker gone and adds it itself."""
    if await collection(store).find_one(piece.where(), {"_id": 1}) is not None:
        return
    await asyncio.shield(_delete_then_check(store, piece))


async def _delete_then_check(store: Store, piece: _Piece) -> None:
    await slots(store).delete_one({"_id": piece.marker})
    if await collection(store).find_one(piece.where(), {"_id": 1}) is not None:
        if piece.level == "day":
            marker = _day_marker(piece.value)
        else:
            marker = _week_marker(piece.scope, piece.value)
        await add_markers(store, [marker])


async def backfill(
    store: Store, *, batch: int = 500, progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Entries and markers for every open complaint, and no entry for a closed one.

    Idempotent and safe to stop: a second run writes only what is still missing or different. An
    entry the router rewrites meanwhile is left as the router wrote it (each write is conditional
    on the entry being what this run read)."""
    say = progress or (lambda _message: None)
    await ensure_indexes(store)
    existing: dict[Any, Doc] = {}
    async for row in collection(store).find({}):
        existing[row["_id"]] = row
    counts = {"complaints": 0, "written": 0, "removed": 0, "markers": 0}
    markers: dict[str, Doc] = {}
    pending: list[Doc] = []
    changed: list[ReplaceOne[Doc]] = []
    listed: set[Any] = set()

    async def flush() -> None:
        if pending:
            try:
                await collection(store).insert_many(list(pending), ordered=False)
            except BulkWriteError as exc:  # the router wrote it meanwhile: its entry is the newer one
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
            counts["written"] += len(pending)
            pending.clear()
        if changed:  # each replaced only if still as read; else the router's newer entry stays
            result = await collection(store).bulk_write(list(changed), ordered=False)
            counts["written"] += result.modified_count
            changed.clear()

    for status in sorted(LISTED):
        async for doc in store.complaints.find({"status": status}, _RECORD_FIELDS):
            counts["complaints"] += 1
            wanted = entry(doc)
            if wanted is None:  # changed status while we read
                continue
            listed.add(doc["_id"])
            for found in _markers(wanted):
                markers[found["_id"]] = found
            old = existing.get(doc["_id"])
            if old is None:
                pending.append(wanted)
            elif old != wanted:
                changed.append(ReplaceOne(old, wanted))
            if len(pending) + len(changed) >= batch:
                await flush()
                say(f"{counts['complaints']:,} open complaints read, {counts['written']:,} entries written")
    await flush()
    await add_markers(store, markers.values())
    counts["markers"] = len(markers)
    for _id, old in existing.items():
        if _id in listed:
            continue
        record = await store.complaints.find_one({"_id": _id}, _RECORD_FIELDS)
        if record is None or entry(record) is None:
            result = await collection(store).delete_one(old)
            counts["removed"] += result.deleted_count
    say(
        f"done: {counts['complaints']:,} open complaints, {counts['written']:,} entries written, "
        f"{counts['removed']:,} removed, {counts['markers']:,} slot markers"
    )
    return counts
