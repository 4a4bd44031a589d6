"""A batch of decisions books itself (inbox entries, public rollups) exactly like the decisions made one
by one, once, whatever is redelivered (real MongoDB and Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pasokh.infra.local import LocalInfra
from router import actions
from router import stats as router_stats
from router.batch import handle_submitted_batch
from router.bookkeeping import Rollups
from router.classifier import KeywordClassifier
from router.duplicates import NearbyCache
from router.handlers import SOURCE, handle_submitted
from router.routing import RoutingTable
from router.settings import DuplicateOptions, SlaOptions
from router.sla import SlaPolicy
from services import inbox, records, stats
from services.bus import KafkaPublisher
from services.contracts.actions import ComplaintResolved
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.contracts.envelope import Envelope, derived_id, from_kafka, new_event, to_kafka
from services.contracts.routing import ComplaintDuplicateLinked
from services.settings import MongoSettings
from services.store import Doc, Store
from services.taxonomy import load_taxonomy
from tests.factories import submitted

TAXONOMY = load_taxonomy()
DISTRICT_6 = {"lat": 35.82, "lon": 50.96}
NEAR = {"lat": 35.8202, "lon": 50.96}
LIGHT = "چراغ برق تیر روبروی مدرسه خاموش است"
AT = records.store_precision(datetime(2026, 11, 21, 9, 30, tzinfo=UTC))  # a Saturday morning


def envelope_of(sub: ComplaintSubmitted) -> Envelope:
    event = new_event(
        sub, subject=sub.complaint_id, source="/pasokh/intake", event_id=f"s-{sub.complaint_id}"
    )
    key, value = to_kafka(event)
    return from_kafka(value, key)


def deciding(store: Store, publisher: KafkaPublisher) -> dict[str, Any]:
    return {
        "store": store,
        "publisher": publisher,
        "classifier": KeywordClassifier(TAXONOMY),
        "taxonomy": TAXONOMY,
        "threshold": 0.5,
        "routing": RoutingTable(TAXONOMY),
        "sla": SlaPolicy.from_options(SlaOptions()),
        "dedupe": DuplicateOptions(),
        "clock": lambda: AT,
    }


def complaints() -> list[ComplaintSubmitted]:
    """Two reports of the same dark pole (the second a duplicate), a pothole, and one the classifier
    cannot place (triage)."""
    return [
        submitted(LIGHT, location=DISTRICT_6, submitted_at=AT),
        submitted(LIGHT, location=NEAR, submitted_at=AT),
        submitted("آسفالت خیابان چاله دارد", district="منطقه ۲", submitted_at=AT),
        submitted("یک موضوع دیگر که نمی‌دانم کجا بگویم", submitted_at=AT),
    ]


async def books(store: Store) -> tuple[list[Doc], list[Doc], list[Doc]]:
    """Every rollup, inbox entry and inbox slot marker of ``store``, by id."""
    rollups = await store.db[stats.COLLECTION].find().sort("_id", 1).to_list(None)
    entries = await inbox.collection(store).find().sort("_id", 1).to_list(None)
    markers = await inbox.slots(store).find().sort("_id", 1).to_list(None)
    return rollups, entries, markers


@pytest.fixture
async def other_store(infra: LocalInfra, database: str) -> AsyncIterator[Store]:
    """A second database, for the same complaints decided another way."""
    store = Store.connect(MongoSettings(uri=infra.mongo_uri, database=f"{database}_b"))
    await store.ensure_indexes()
    yield store
    await store.client.drop_database(f"{database}_b")
    await store.close()


async def test_a_batch_books_like_one_by_one_and_redelivery_books_nothing(
    store: Store, other_store: Store, publisher: KafkaPublisher
) -> None:
    subs = complaints()
    batch = [envelope_of(s) for s in subs]
    for sub, envelope in zip(subs, batch, strict=True):  # intake stored the received records
        await records.record_received(store, sub, event_id=envelope.id)
        await records.record_received(other_store, sub, event_id=envelope.id)
    rollups = Rollups()

    announced = await handle_submitted_batch(batch, **deciding(store, publisher), rollups=rollups)
    for envelope in batch:
        await handle_submitted(envelope, **deciding(other_store, publisher))

    assert [a.TYPE.rsplit(".", 1)[1] for a in announced] == [
        "routed",
        "duplicate-linked",
        "routed",
        "triage-needed",
    ]
    batched, one_by_one = await books(store), await books(other_store)
    assert batched == one_by_one
    for sub in subs:  # where each is counted, for a later reassignment to move (router/stats.py)
        mine, theirs = (
            await records.find(store, sub.complaint_id),
            await records.find(other_store, sub.complaint_id),
        )
        assert mine is not None and theirs is not None and mine.get("counted_as") == theirs.get("counted_as")
    rollup_docs, entries, markers = batched
    assert markers, "the console finds entries through their slot markers (services/inbox.py)"
    total = next(d for d in rollup_docs if d["_id"] == "all|-|total|-")
    assert total["submitted"] == 3  # routed, routed, triage; the duplicate follows its first report
    assert {e["_id"] for e in entries} == {subs[0].complaint_id, subs[2].complaint_id, subs[3].complaint_id}
    assert {e["status"] for e in entries} == {"routed", "triage"}

    # Redelivered: as a batch again (in another order, one twice), one by one, and the announcements
    # read back by the events agent's counting: nothing is stored, listed or counted twice.
    records_before = [await records.find(store, s.complaint_id) for s in subs]
    again = await handle_submitted_batch(
        [batch[3], batch[1], batch[0], batch[3]], **deciding(store, publisher), rollups=rollups
    )
    assert again == [announced[3], announced[1], announced[0]]
    await handle_submitted(batch[2], **deciding(store, publisher))
    for sub, envelope, decision in zip(subs, batch, announced, strict=True):
        event_id = derived_id(envelope.source, envelope.id, "decision")
        key, value = to_kafka(new_event(decision, subject=sub.complaint_id, source=SOURCE, event_id=event_id))
        assert not await router_stats.count(from_kafka(value, key), store=store)
    assert await books(store) == batched
    assert [await records.find(store, s.complaint_id) for s in subs] == records_before


async def test_an_inbox_entry_lost_before_a_redelivery_is_written_again(
    store: Store, publisher: KafkaPublisher
) -> None:
    sub = submitted(LIGHT, location=DISTRICT_6, submitted_at=AT)
    envelope = envelope_of(sub)
    await handle_submitted_batch([envelope], **deciding(store, publisher))
    # The worker stopped after storing the decision, before its inbox entry was written.
    await inbox.collection(store).delete_one({"_id": sub.complaint_id})

    await handle_submitted_batch([envelope], **deciding(store, publisher))

    entry = await inbox.collection(store).find_one({"_id": sub.complaint_id})
    assert entry is not None and entry["status"] == "routed" and entry["department"]
    total = await store.db[stats.COLLECTION].find_one({"_id": "all|-|total|-"})
    assert total is not None and total["submitted"] == 1


async def test_rollups_sum_a_batch_in_memory_and_create_each_rollup_once(store: Store) -> None:
    day = datetime(2026, 11, 22, tzinfo=UTC).date()
    one = stats.rollup_keys(day, "roads", "civil-works", "2")
    two = stats.rollup_keys(day, "waste", "waste", "2")
    rollups = Rollups()

    written = await rollups.add(
        store,
        [(one, stats.increments(submitted=1)), (one, stats.increments(submitted=1)), (two, {"submitted": 1})],
    )
    await stats.add(store, two, stats.increments(submitted=1))  # another worker, one event at a time
    await rollups.add(store, [(one, stats.increments(submitted=1))])

    distinct = {k["_id"] for k in one + two}
    assert written == len(distinct) and rollups.known == distinct
    docs = {d["_id"]: d for d in await store.db[stats.COLLECTION].find().to_list(None)}
    assert docs["all|-|total|-"]["submitted"] == 5
    assert docs["all|-|category|roads"]["submitted"] == 3
    assert docs["all|-|category|waste"]["submitted"] == 2
    assert docs["all|-|district|2"]["submitted"] == 5
    assert docs[one[0]["_id"]]["category"] == "roads" and docs[one[0]["_id"]]["submitted"] == 3


async def test_a_worker_answers_cells_it_read_lately_from_memory_and_sees_other_workers_after_that(
    store: Store, publisher: KafkaPublisher
) -> None:
    now = [0.0]
    cache = NearbyCache(5.0, clock=lambda: now[0])
    mine = {**deciding(store, publisher), "nearby": cache}
    elsewhere = deciding(store, publisher)  # another worker, on other partitions

    def at(minutes: int) -> datetime:
        return AT + timedelta(minutes=minutes)

    async def decide(sub: ComplaintSubmitted, kwargs: dict[str, Any]) -> Any:
        (announced,) = await handle_submitted_batch([envelope_of(sub)], **kwargs)
        return announced

    first = submitted(LIGHT, location=DISTRICT_6, submitted_at=at(0))
    assert isinstance(await decide(first, mine), ComplaintRouted)
    read = cache.misses
    # The same pole again: its cells are answered from memory, which holds the first report.
    link = await decide(submitted(LIGHT, location=NEAR, submitted_at=at(1)), mine)
    assert isinstance(link, ComplaintDuplicateLinked) and link.primary_id == first.complaint_id
    assert cache.misses == read and cache.hits > 0
    # Redelivered: the stored decisions are announced again, nothing changes, no query is needed.
    stored = await records.find(store, first.complaint_id)
    again_first = await decide(first, mine)
    assert again_first.complaint_id == first.complaint_id and isinstance(again_first, ComplaintRouted)
    assert await records.find(store, first.complaint_id) == stored and cache.misses == read

    # Resolved by another worker's events agent (this one's cache still holds it as routed): no longer
    # a primary, since a primary is read again before anything is linked to it.
    resolved = ComplaintResolved(
        complaint_id=first.complaint_id, actor_id="k", actor_name="clerk", note="fixed", at=at(2)
    )
    key, value = to_kafka(new_event(resolved, subject=first.complaint_id, source="/pasokh/intake/staff"))
    envelope = from_kafka(value, key)
    assert await actions.apply_action(envelope, store=store)
    again = submitted(LIGHT, location=NEAR, submitted_at=at(3))
    assert isinstance(await decide(again, mine), ComplaintRouted)

    # Another worker routes a report 1.7 km north, in cells this worker read a moment ago …
    far = {"lat": DISTRICT_6["lat"] + 0.015, "lon": DISTRICT_6["lon"]}  # cells apart from the first
    pole = {"lat": far["lat"] + 0.002, "lon": far["lon"]}  # 220 m away: the same cells, another pole
    other_pole = submitted(LIGHT, location=pole, submitted_at=at(3))
    assert isinstance(await decide(other_pole, mine), ComplaintRouted)
    theirs = submitted(LIGHT, location=far, submitted_at=at(4))
    assert isinstance(await decide(theirs, elsewhere), ComplaintRouted)
    # … which this worker does not see until the cells are read again (docs/routing.md) …
    assert isinstance(await decide(submitted(LIGHT, location=far, submitted_at=at(5)), mine), ComplaintRouted)
    now[0] += 5.1
    # … at most cache_seconds later.
    late = await decide(submitted(LIGHT, location=far, submitted_at=at(6)), mine)
    assert isinstance(late, ComplaintDuplicateLinked) and late.primary_id == theirs.complaint_id
