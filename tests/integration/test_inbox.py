"""The staff inbox's read model on a real MongoDB-wire server: order, filters, keyset pages, slot
markers and the backfill of complaints stored before the read model existed."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from pymongo import MongoClient

from pasokh.cli import main
from pasokh.infra.local import LocalInfra
from services import inbox
from services.store import Doc, Store

DEPARTMENTS = ["lighting", "waste", "roads"]
STATUSES = ["routed", "acknowledged", "reopened", "triage", "resolved"]
NOW = datetime.now(UTC).replace(microsecond=0)


def record(rng: random.Random, i: int, **fields: object) -> Doc:
    """A complaint record as the router keeps it (the fields the inbox copies)."""
    doc: Doc = {
        "_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "tracking_code": f"{8_000_000_000 + i}",
        "text": f"complaint {i}",
        "status": rng.choice(STATUSES),
        "category": rng.choice(["lighting", "waste", "roads", "other"]),
        "department": rng.choice(DEPARTMENTS),
        "district": str(rng.randint(1, 4)),
        # Due times over 40 days around now, several complaints sharing a due time (ties by id).
        "due_at": NOW + timedelta(hours=rng.randrange(-480, 480, 3)),
        "created_at": NOW - timedelta(days=3),
        "classifier": {"name": "test", "confidence": 0.5},
        "needs_supervisor": rng.random() < 0.1,
    }
    doc.update(fields)
    return doc


def expected(docs: list[Doc], query: inbox.Query) -> list[str]:
    """The ids a query must list, computed here from the records."""
    keep = query.keeps()
    rows = []
    for doc in docs:
        listed = inbox.entry(doc)
        if listed is None or not keep(listed):
            continue
        if query.departments is not None and listed["department"] not in query.departments:
            continue
        if query.district and listed["district"] != query.district:
            continue
        if query.category and listed["category"] != query.category:
            continue
        if query.flagged and not listed["needs_supervisor"]:
            continue
        rows.append(listed)
    rows.sort(key=inbox.sort_key)
    return [row["_id"] for row in rows]


async def all_pages(store: Store, query: inbox.Query, size: int) -> list[str]:
    """Every page of ``query``, each after the last row of the one before."""
    ids: list[str] = []
    after = None
    while True:
        q = inbox.Query(
            departments=query.departments,
            statuses=query.statuses,
            district=query.district,
            category=query.category,
            due_before=query.due_before,
            flagged=query.flagged,
            after=after,
        )
        rows = await inbox.page(store, q, limit=size)
        ids += [row["_id"] for row in rows]
        if len(rows) < size:
            return ids
        parsed = inbox.parse_after(inbox.after_token(rows[-1]))
        assert parsed is not None
        after = parsed


async def test_pages_list_open_complaints_in_due_order_with_every_filter(store: Store) -> None:
    rng = random.Random(7)
    docs = [record(rng, i) for i in range(240)]
    docs.append(record(rng, 999, status="routed", department="lighting", due_at=None))  # listed last
    await inbox.ensure_indexes(store)
    for doc in docs:
        await inbox.sync(store, doc)
    open_ = frozenset({"routed", "acknowledged", "reopened"})
    queries = [
        inbox.Query(departments=["lighting"], statuses=open_),
        inbox.Query(departments=None, statuses=open_),
        inbox.Query(departments=["lighting", "triage", "waste"], statuses=open_),
        inbox.Query(departments=None, statuses=frozenset({"acknowledged"})),
        inbox.Query(departments=["waste"], statuses=open_, district="2"),
        inbox.Query(departments=None, statuses=open_, category="roads"),
        inbox.Query(departments=None, statuses=open_, due_before=NOW),
        inbox.Query(departments=["roads"], statuses=open_, due_before=NOW, district="3"),
        inbox.Query(departments=None, statuses=frozenset({"triage"})),
        inbox.Query(departments=None, statuses=open_, flagged=True),
        inbox.Query(departments=["waste"], statuses=open_, flagged=True),
    ]
    for query in queries:
        want = expected(docs, query)
        assert want, f"the data should give {query} something to list"
        first = await inbox.page(store, query, limit=10)
        assert [row["_id"] for row in first] == want[:10], query
        assert await all_pages(store, query, 7) == want, query
    lighting = await all_pages(store, queries[0], 50)
    assert lighting[-1] == docs[-1]["_id"], "a complaint without a due time comes last"


async def test_a_selective_filter_reads_its_matches_at_once(store: Store) -> None:
    rng = random.Random(3)
    # One complaint a day over a year, a quarter of them of the asked category: too sparse to walk.
    docs = [
        record(rng, i, status="routed", department="roads", due_at=NOW - timedelta(days=i))
        for i in range(0, 365)
    ]
    await inbox.ensure_indexes(store)
    for doc in docs:
        await inbox.sync(store, doc)
    query = inbox.Query(departments=["roads"], statuses=frozenset({"routed"}), category="roads")
    rows = await inbox.page(store, query, limit=50)
    assert [row["_id"] for row in rows] == expected(docs, query)[:50]
    assert query.stats.get("fallback") == 1 and query.stats["queries"] <= inbox.WALK_BUDGET


async def test_markers_of_emptied_slots_go_and_come_back(store: Store) -> None:
    rng = random.Random(5)
    due = NOW + timedelta(days=2)
    doc = record(rng, 1, status="routed", department="lighting", due_at=due)
    await inbox.ensure_indexes(store)
    await inbox.sync(store, doc)
    day = inbox.day_of(due)
    week = inbox.week_of(day)
    ids = {f"lighting|w{week}", f"{inbox.ALL}|w{week}", f"{inbox.ALL}|d{day}"}
    assert {m["_id"] for m in await inbox.slots(store).find({}).to_list()} == ids
    query = inbox.Query(departments=["lighting"], statuses=frozenset({"routed"}))
    assert [r["_id"] for r in await inbox.page(store, query, limit=5)] == [doc["_id"]]

    await inbox.sync(store, {**doc, "status": "resolved"})  # closed: out of the inbox
    for departments in (["lighting"], None):
        everything = inbox.Query(departments=departments, statuses=frozenset(inbox.LISTED))
        assert await inbox.page(store, everything, limit=5) == []
    await asyncio.gather(*list(inbox._cleaning))  # the readers dropped the empty pieces' markers
    assert await inbox.slots(store).count_documents({}) == 0, "every marker of the emptied week and day"

    await inbox.sync(store, {**doc, "status": "reopened"})
    assert {m["_id"] for m in await inbox.slots(store).find({}).to_list()} == ids
    reopened = inbox.Query(departments=["lighting"], statuses=frozenset({"reopened"}))
    assert [r["_id"] for r in await inbox.page(store, reopened, limit=5)] == [doc["_id"]]


async def test_backfill_lists_complaints_stored_before_the_read_model(store: Store) -> None:
    rng = random.Random(11)
    docs = [record(rng, i) for i in range(120)]
    await store.complaints.insert_many([dict(d) for d in docs])
    closed = record(rng, 500, status="resolved")
    await store.complaints.insert_one(dict(closed))
    # A stale entry of a complaint closed without its entry being removed, and an old-style entry
    # (no day or week) of an open one.
    stale = inbox.entry({**closed, "status": "routed"})
    assert stale is not None
    await inbox.collection(store).insert_one(stale)
    open_one = next(d for d in docs if d["status"] == "routed")
    old_style = inbox.entry(open_one)
    assert old_style is not None
    old_style.pop("day")
    old_style.pop("week")
    await inbox.collection(store).insert_one(old_style)

    done = await inbox.backfill(store, batch=25)
    listed = [d for d in docs if d["status"] in inbox.LISTED]
    assert done["complaints"] == len(listed) and done["removed"] == 1
    assert done["written"] == len(listed)
    assert await inbox.collection(store).count_documents({}) == len(listed)
    again = await inbox.backfill(store)
    assert (again["written"], again["removed"]) == (0, 0), "a second run has nothing left to do"

    query = inbox.Query(departments=None, statuses=frozenset(inbox.LISTED))
    assert await all_pages(store, query, 30) == expected(docs, query)
    flagged = inbox.Query(departments=None, statuses=frozenset(inbox.LISTED), flagged=True)
    assert expected(docs, flagged), "some complaints wait for a supervisor"
    assert [r["_id"] for r in await inbox.page(store, flagged, limit=100)] == expected(docs, flagged)


def test_pasokh_inbox_backfill_from_the_command_line(
    infra: LocalInfra, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASOKH_MONGO__URI", infra.mongo_uri)
    monkeypatch.setenv("PASOKH_MONGO__DATABASE", database)
    rng = random.Random(13)
    docs = [record(rng, i) for i in range(40)]
    listed = {d["_id"] for d in docs if d["status"] in inbox.LISTED}
    client: MongoClient[Doc] = MongoClient(infra.mongo_uri, tz_aware=True)
    try:
        client[database].complaints.insert_many([dict(d) for d in docs])
        first = CliRunner().invoke(main, ["inbox", "backfill"])
        assert first.exit_code == 0, first.output
        second = CliRunner().invoke(main, ["inbox", "backfill"])
        entries = {str(e["_id"]) for e in client[database][inbox.COLLECTION].find({})}
        markers = client[database][inbox.SLOTS].count_documents({})
    finally:
        client.drop_database(database)
        client.close()
    assert f"done: {len(listed)} open complaints, {len(listed)} entries written" in first.output
    assert f"done: {len(listed)} open complaints, 0 entries written, 0 removed" in second.output
    assert entries == listed and markers > 0


async def test_several_departments_are_merged_week_by_week(store: Store) -> None:
    rng = random.Random(17)
    monday = datetime(2026, 11, 23, 8, tzinfo=UTC)
    docs = [
        record(rng, 10 * n + i, status="routed", department=d, due_at=monday + timedelta(hours=h + i))
        for n, (d, h) in enumerate((("lighting", 20), ("roads", 10), ("waste", 0)))
        for i in range(5)
    ]
    await inbox.ensure_indexes(store)
    for doc in docs:
        await inbox.sync(store, doc)
    query = inbox.Query(departments=["lighting", "roads", "waste"], statuses=frozenset({"routed"}))
    rows = await inbox.page(store, query, limit=5)
    assert [r["department"] for r in rows] == ["waste"] * 5, "the earliest are the third department's"
    assert [r["_id"] for r in rows] == expected(docs, query)[:5]
