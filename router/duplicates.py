"""Duplicate complaints: the same problem at the same place, reported again while the first is open.

A new complaint is linked to an open one of the same category submitted within the category's time
window and radius whose text is similar enough (Jaccard similarity of the folded word sets, common
words left out). FerretDB has no geo queries, so candidates are read by grid cell (an indexed
equality per cell), checked for status and time, then measured in Python (haversine). A worker
keeps the cells it read lately in memory (:class:`NearbyCache`, docs/routing.md).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from router.settings import DuplicateOptions
from services.geo import bounding_box, haversine_m
from services.lifecycle import OPEN
from services.store import Doc, Store
from services.text import fold

# Words that say nothing about the problem: Persian function words and polite formulas, English ones.
STOPWORDS = frozenset(
    """
    و در به از که این آن با را تا برای یک هم های ها ای است هست هستند بود بودن شده شد می نمی
    ما من شما او ان اینجا آنجا روی زیر کنار جلوی پشت هر چند خیلی بسیار لطفا لطفاً سلام باتشکر تشکر
    ممنون خواهشا خواهشمند است ایم اید اند کنید کنند کردن کرده شود شدن دارد داریم ندارد نیست
    the a an of to in on at for and or is are was were be been it this that there with by from
    please hello hi thanks thank you our my we i near not no very
    """.split()
)
STOPWORDS = frozenset(fold(w) for w in STOPWORDS)
_WORD = re.compile(r"\w+")


def tokens(text: str) -> frozenset[str]:
    """The meaningful words of ``text``, folded (letter forms, digits, case, stretched letters)."""
    return frozenset(w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in STOPWORDS)


def similarity(a: str | frozenset[str], b: str | frozenset[str]) -> float:
    """Jaccard similarity of the two texts' word sets, 0 (nothing shared) to 1 (the same words)."""
    ta = tokens(a) if isinstance(a, str) else a
    tb = tokens(b) if isinstance(b, str) else b
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


@dataclass(frozen=True)
class Match:
    """The open complaint a new one duplicates."""

    primary_id: str
    primary_tracking_code: str
    department: str
    distance_m: float
    similarity: float


# Complaints are found near a place by a grid cell key stored on the record (``dup_cell``): one
# indexed equality match per cell instead of a geo query FerretDB does not have. 0.01° is about
# 1.1 km north-south and 0.9 km east-west at Karaj's latitude.
CELL_DEGREES = 0.01
_CONCURRENT_QUERIES = 16


def cell(category: str, lat: float, lon: float) -> str:
    """The key of the grid cell the point is in, for complaints of ``category``."""
    return f"{category}:{math.floor(lat / CELL_DEGREES)}:{math.floor(lon / CELL_DEGREES)}"


def cells_around(category: str, lat: float, lon: float, radius_m: float) -> list[str]:
    """Every cell a point within ``radius_m`` of (lat, lon) can be in."""
    south, west, north, east = bounding_box(lat, lon, radius_m)
    rows = range(math.floor(south / CELL_DEGREES), math.floor(north / CELL_DEGREES) + 1)
    cols = range(math.floor(west / CELL_DEGREES), math.floor(east / CELL_DEGREES) + 1)
    return [f"{category}:{i}:{j}" for i in rows for j in cols]


@dataclass(frozen=True)
class Wanted:
    """A new complaint to look up: what it is, where and when."""

    complaint_id: str
    category: str
    text: str
    lat: float
    lon: float
    at: datetime


def radius_of(category: str, options: DuplicateOptions) -> float:
    """The category's duplicate radius in metres (0: never linked)."""
    return options.radius_m.get(category, options.default_radius_m)


# What a candidate needs from the record: the projection of the cell queries, the fields a cached
# candidate holds.
CANDIDATE_FIELDS = ("tracking_code", "department", "category", "text", "location", "created_at", "status")


class NearbyCache:
    """The open complaints of the grid cells one worker read lately, kept current with what it decides.

    A cell read from the store is answered from memory for ``seconds`` (then read again). Meanwhile
    the worker adds the complaints it routes into that cell (:meth:`add`, after they are stored) and
    drops a cell when one of its complaints changes (:meth:`forget`: acknowledged, resolved,
    reassigned, …) or when a change may have put a complaint into a cell it does not know
    (:meth:`clear`: a reopened or unlinked complaint, a decision made outside a batch, a failed
    batch).

    While the worker is ``sole`` (it holds every partition of the submitted complaints and of the
    complaint events, so every decision and every change passes through it) the cache answers what
    the store would, and a cell is kept ``sole_seconds`` (only to shed old complaints). Otherwise a
    complaint another worker stored is seen once the cell is read again, at most ``seconds`` late,
    and a primary is read again by id before anything is linked to it (docs/routing.md)."""

    def __init__(
        self,
        seconds: float,
        *,
        sole_seconds: float | None = None,
        max_cells: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared_seconds = seconds
        self.sole_seconds = seconds if sole_seconds is None else max(seconds, sole_seconds)
        self.sole = False
        self.max_cells = max_cells
        self._clock = clock
        self._cells: dict[str, tuple[float, dict[str, Doc]]] = {}  # key → (read at, open docs by id)
        self._where: dict[str, str] = {}  # complaint id → its cell key
        # Bumped by every forget/clear: a cell read while a change was being applied is not kept.
        self._epoch = 0
        self.hits = 0
        self.misses = 0

    @property
    def seconds(self) -> float:
        """How long a cell read from the store is answered from memory, now."""
        return self.sole_seconds if self.sole else self.shared_seconds

    def alone(self, sole: bool) -> None:
        """Whether this worker holds every partition now; every cell is forgotten when that changes
        (what another worker did meanwhile is not in memory)."""
        if sole != self.sole:
            self.sole = sole
            self.clear()

    def fresh(self, key: str) -> list[Doc] | None:
        """The open complaints of cell ``key`` if it was read lately, else None."""
        cell = self._cells.get(key)
        if cell is None or self._clock() - cell[0] > self.seconds:
            return None
        return list(cell[1].values())

    def reading(self) -> tuple[float, int]:
        """Taken before a cell is read: when, and which changes the cache had heard of then."""
        return self._clock(), self._epoch

    def put(self, key: str, docs: list[Doc], reading: tuple[float, int]) -> None:
        """Remember what the store answered for cell ``key`` (open complaints only), unless a change
        was heard of since the read began (the answer may predate it)."""
        read_at, epoch = reading
        if epoch != self._epoch:
            return
        if len(self._cells) >= self.max_cells:
            self._expire()
        open_docs = {d["_id"]: d for d in docs if d.get("status") in OPEN}
        self._drop(key)
        self._cells[key] = (read_at, open_docs)
        for complaint_id in open_docs:
            self._where[complaint_id] = key

    def add(self, key: str, doc: Doc) -> None:
        """A complaint this worker has just stored in cell ``key`` (kept only if the cell is cached)."""
        cell = self._cells.get(key)
        if cell is not None:
            cell[1][doc["_id"]] = doc
            self._where[doc["_id"]] = key

    def forget(self, complaint_id: str) -> None:
        """The complaint changed: its cell is read from the store next time."""
        self._epoch += 1
        key = self._where.get(complaint_id)
        if key is not None:
            self._drop(key)

    def clear(self) -> None:
        """Forget every cell."""
        self._epoch += 1
        self._cells.clear()
        self._where.clear()

    def _drop(self, key: str) -> None:
        cell = self._cells.pop(key, None)
        if cell is not None:
            for complaint_id in cell[1]:
                if self._where.get(complaint_id) == key:
                    del self._where[complaint_id]

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (read_at, _) in self._cells.items() if now - read_at > self.seconds]:
            self._drop(key)
        if len(self._cells) >= self.max_cells:
            self.clear()


async def candidates(
    store: Store, wanted: list[Wanted], options: DuplicateOptions, *, cache: NearbyCache | None = None
) -> list[Doc]:
    """The open complaints near any of ``wanted``: by cell (from ``cache`` when it read the cell
    lately, else one query per cell), status and time."""
    keys: set[str] = set()
    for w in wanted:
        radius = radius_of(w.category, options)
        if radius > 0:
            keys.update(cells_around(w.category, w.lat, w.lon, radius))
    if not keys:
        return []
    since = min(w.at for w in wanted) - timedelta(hours=options.window_hours)
    open_statuses = OPEN

    def current(docs: list[Doc]) -> list[Doc]:
        return [d for d in docs if d.get("status") in open_statuses and d["created_at"] >= since]

    # One equality match per cell: FerretDB answers an equality on an indexed field from the index,
    # but scans the whole collection for $in. The status and the time are checked here.
    async def one(key: str) -> list[Doc]:
        reading = cache.reading() if cache is not None else (0.0, 0)
        docs: list[Doc] = await store.complaints.find(
            {"dup_cell": key}, projection=list(CANDIDATE_FIELDS), limit=options.max_candidates
        ).to_list(None)
        if cache is not None:
            cache.put(key, docs, reading)
        return current(docs)

    found: list[Doc] = []
    ordered = sorted(keys)
    if cache is not None:
        unread = []
        for key in ordered:
            known = cache.fresh(key)
            if known is None:
                unread.append(key)
            else:
                found.extend(current(known))
        cache.hits += len(ordered) - len(unread)
        cache.misses += len(unread)
        ordered = unread
    for start in range(0, len(ordered), _CONCURRENT_QUERIES):
        for docs in await asyncio.gather(*(one(k) for k in ordered[start : start + _CONCURRENT_QUERIES])):
            found.extend(docs)
    return found


def best_match(w: Wanted, docs: list[Doc], options: DuplicateOptions) -> Match | None:
    """The open complaint among ``docs`` that ``w`` duplicates best, or None."""
    radius = radius_of(w.category, options)
    window = timedelta(hours=options.window_hours)
    mine = tokens(w.text)
    best: tuple[float, float, datetime, Match] | None = None
    for doc in docs:
        if doc["_id"] == w.complaint_id or doc.get("category") != w.category:
            continue
        if not timedelta(0) <= w.at - doc["created_at"] <= window:
            continue
        distance = haversine_m(w.lat, w.lon, doc["location"]["lat"], doc["location"]["lon"])
        if distance > radius:
            continue
        score = similarity(mine, doc.get("text", ""))
        if score < options.min_similarity:
            continue
        match = Match(
            doc["_id"], doc["tracking_code"], doc["department"], round(distance, 1), round(score, 4)
        )
        # Most similar first; then the nearest; then the oldest, which the others follow.
        key = (-score, distance, doc["created_at"], match)
        if best is None or key[:3] < best[:3]:
            best = key
    return best[3] if best else None


async def confirmed_matches(
    store: Store, wanted: list[Wanted], found: list[Doc], options: DuplicateOptions, cache: NearbyCache
) -> list[Match | None]:
    """:func:`best_match` for each of ``wanted``, every primary it chooses read again by id first:
    what the cache holds may be out of date if another worker changed it (resolved, reassigned). A
    primary no longer open is left out and the choice made again; its cell is read anew next time."""
    docs = {d["_id"]: d for d in found}
    checked: set[str] = set()
    while True:
        matches = [best_match(w, list(docs.values()), options) for w in wanted]
        unchecked = sorted({m.primary_id for m in matches if m and m.primary_id not in checked})
        if not unchecked:
            return matches
        current = await asyncio.gather(
            *(store.complaints.find_one({"_id": i}, projection=list(CANDIDATE_FIELDS)) for i in unchecked)
        )
        for primary_id, doc in zip(unchecked, current, strict=True):
            checked.add(primary_id)
            known = docs[primary_id]
            if doc is None or doc.get("status") not in OPEN:
                del docs[primary_id]
            else:
                docs[primary_id] = doc
            if doc is None or any(doc.get(f) != known.get(f) for f in ("status", "department")):
                cache.forget(primary_id)


async def find_primary(
    store: Store,
    *,
    complaint_id: str,
    category: str,
    text: str,
    lat: float,
    lon: float,
    at: datetime,
    options: DuplicateOptions,
) -> Match | None:
    """The best open complaint that ``complaint_id`` duplicates, or None."""
    wanted = Wanted(complaint_id, category, text, lat, lon, at)
    if radius_of(category, options) <= 0:
        return None
    return best_match(wanted, await candidates(store, [wanted], options), options)
