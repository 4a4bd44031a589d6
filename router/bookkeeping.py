"""What a batch of the router's decisions adds beside the complaint records, in few round trips:
the staff inbox's entries (services/inbox.py) and the public rollups (services/stats.py).

For every other complaint event the events agent does this one event at a time (router/stats.py:
read the record, rewrite its inbox entry, mark the event counted, add to eight rollups). For the
router's own decisions that was about sixteen MongoDB documents per complaint, on the server
the whole router waits for; a batch knows its decisions already, so it writes the inbox entries in
one unordered insert and adds the batch's increments to each rollup once. The decision is marked
counted (``counted_events``) by the same conditional update that stores it, so a redelivered
decision is neither stored nor counted twice; as with router/stats.py, a crash between that update
and the rollups' increments loses those counts rather than doubling them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from services import inbox, records, stats
from services.store import Doc, Store

log = logging.getLogger(__name__)


class Counts(NamedTuple):
    """What a bulk write matched and changed."""

    matched_count: int
    modified_count: int


# Writes of one batch go out in this many concurrent commands, on as many connections: FerretDB runs
# a command's documents one after the other, each in a PostgreSQL transaction of its own, so one
# command of 200 updates waits for 200 commits in a row; several commands share commits.
CONCURRENT_WRITES = 8


async def bulk_write(
    collection: Any, ops: Sequence[UpdateOne], *, concurrency: int = CONCURRENT_WRITES
) -> Counts:
    """Unordered ``ops`` in up to ``concurrency`` commands at once; the counts of all of them."""
    if not ops:
        return Counts(0, 0)
    size = -(-len(ops) // max(1, concurrency))
    results = await asyncio.gather(
        *(
            collection.bulk_write(list(ops[start : start + size]), ordered=False)
            for start in range(0, len(ops), size)
        )
    )
    return Counts(sum(r.matched_count for r in results), sum(r.modified_count for r in results))


def _ignore_duplicates(exc: BulkWriteError) -> None:
    if any(e.get("code") != records.DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
        raise exc


async def add_inbox_entries(store: Store, docs: Iterable[Doc]) -> int:
    """Insert the inbox entries of newly decided records (an entry that exists is left as it is),
    then the markers of the pieces they are in (services/inbox.py), as :func:`services.inbox.sync`
    does for one record: entries first, so a reader that drops an empty piece's marker finds them and
    puts it back. Returns how many entries were sent."""
    entries = [entry for doc in docs if (entry := inbox.entry(doc)) is not None]
    if not entries:
        return 0
    try:
        await inbox.collection(store).insert_many(entries, ordered=False)
    except BulkWriteError as exc:  # a redelivery, or the events agent synced it first
        _ignore_duplicates(exc)
    await inbox.add_markers(store, inbox.markers_of(entries))
    return len(entries)


def counted_as(doc: Doc) -> Doc:
    """Where a decision on ``doc`` is counted (category, department, district), kept on the record
    so that a staff reassignment can move the count (router/stats.py)."""
    return {
        "category": doc.get("category") or stats.NONE,
        "department": doc.get("department") or stats.NONE,
        "district": str(doc.get("district") or stats.NONE)[:100],
    }


def decision_keys(doc: Doc) -> list[Doc]:
    """The rollups a decision on the record ``doc`` counts in: its day, category, department and
    district (the same keys as router/stats.py)."""
    dims = counted_as(doc)
    return stats.rollup_keys(
        stats.local_day(doc["created_at"]), *(dims[dimension] for dimension in stats.DIMENSIONS)
    )


@dataclass
class Rollups:
    """Adds many events to the public rollups at once: the increments of one rollup are summed in
    memory and sent as one ``$inc``.

    A rollup is created (unordered insert, an existing one refused as a duplicate) before its first
    increment by this process, as :func:`services.stats.add` does; the ids known to exist are kept
    (rollups are never deleted), so a warm worker only sends the increments.
    """

    known: set[str] = field(default_factory=set)
    limit: int = 100_000

    async def add(self, store: Store, additions: Iterable[tuple[list[Doc], Mapping[str, int]]]) -> int:
        """Add each ``(keys, increments)``; returns the number of rollups written."""
        totals: dict[str, Counter[str]] = {}
        keys: dict[str, Doc] = {}
        for rollups, inc in additions:
            for key in rollups:
                keys.setdefault(key["_id"], key)
                totals.setdefault(key["_id"], Counter()).update(inc)
        totals = {rollup: inc for rollup, inc in totals.items() if inc}
        if not totals:
            return 0
        collection = store.db[stats.COLLECTION]
        missing = [dict(keys[rollup]) for rollup in totals if rollup not in self.known]
        if missing:
            try:
                await collection.insert_many(missing, ordered=False)
            except BulkWriteError as exc:
                _ignore_duplicates(exc)
            if len(self.known) + len(missing) > self.limit:
                self.known.clear()
            self.known.update(doc["_id"] for doc in missing)
        ops = [UpdateOne({"_id": rollup}, {"$inc": dict(inc)}) for rollup, inc in totals.items()]
        # Each rollup once in these commands; the lock keeps this process's other increments of the
        # same rollups (services/stats.py) from landing side by side: FerretDB v1 would lose some.
        async with store.serial(stats.COLLECTION):
            result = await bulk_write(collection, ops)
        if result.matched_count != len(ops):
            # Only if someone removed rollups while this worker ran: those increments are lost.
            log.error("rollups missing; %d increments lost", len(ops) - result.matched_count)
            self.known.clear()
        return len(ops)
