"""Duplicate complaints: the same problem at the same place, reported again while the first is open.

A new complaint is linked to an open one of the same category submitted within the category's time
window and radius whose text is similar enough (Jaccard similarity of the folded word sets, common
words left out). FerretDB has no geo queries, so candidates are read by category, status, time and a
latitude/longitude box, then measured in Python (haversine).
"""

from __future__ import annotations

import asyncio
import math
import re
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


async def candidates(store: Store, wanted: list[Wanted], options: DuplicateOptions) -> list[Doc]:
    """The open complaints near any of ``wanted``, in one query (by cell, status and time)."""
    keys: set[str] = set()
    for w in wanted:
        radius = radius_of(w.category, options)
        if radius > 0:
            keys.update(cells_around(w.category, w.lat, w.lon, radius))
    if not keys:
        return []
    since = min(w.at for w in wanted) - timedelta(hours=options.window_hours)
    open_statuses = OPEN

    # One equality match per cell: FerretDB answers an equality on an indexed field from the index,
    # but scans the whole collection for $in. The status and the time are checked here.
    async def one(key: str) -> list[Doc]:
        docs: list[Doc] = await store.complaints.find(
            {"dup_cell": key},
            projection=[
                "tracking_code",
                "department",
                "category",
                "text",
                "location",
                "created_at",
                "status",
            ],
            limit=options.max_candidates,
        ).to_list(None)
        return [d for d in docs if d.get("status") in open_statuses and d["created_at"] >= since]

    found: list[Doc] = []
    ordered = sorted(keys)
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
