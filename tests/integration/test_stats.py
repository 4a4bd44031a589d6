"""The public rollups: each event counted once, redeliveries and refused actions not at all (real MongoDB)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from router import actions
from router.stats import count
from services import inbox, records, stats
from services.contracts.actions import ComplaintReassigned, ComplaintResolved
from services.contracts.complaints import ComplaintRated, ComplaintTriageNeeded
from services.contracts.envelope import Envelope, EventPayload
from services.store import Store
from tests.factories import routed, submitted, wired


def envelope(payload: EventPayload, subject: str, event_id: str | None = None) -> Envelope:
    return wired(payload, subject, source="/test", event_id=event_id)


async def decided(store: Store, district: str = "3", hours_to_due: float = 48) -> tuple[str, Envelope]:
    sub = submitted(district=district)
    decision = routed(sub, due_at=datetime.now(UTC) + timedelta(hours=hours_to_due))
    now = records.store_precision(datetime.now(UTC))
    event = envelope(decision, sub.complaint_id)
    await records.apply_decision(
        store, sub, decision, submitted_event_id="s", decision_event_id=event.id, status="routed", at=now
    )
    return sub.complaint_id, event


def resolution(complaint_id: str) -> Envelope:
    payload = ComplaintResolved(
        complaint_id=complaint_id,
        actor_id="user:test",
        actor_name="Test",
        at=records.store_precision(datetime.now(UTC)),
        note="done",
    )
    return envelope(payload, complaint_id)


def rating(complaint_id: str, value: int) -> Envelope:
    payload = ComplaintRated(
        complaint_id=complaint_id, rating=value, channel="web", answered_at=datetime.now(UTC)
    )
    return envelope(payload, complaint_id)


async def test_each_event_counts_once_and_only_when_it_was_applied(store: Store) -> None:
    first, decision_1 = await decided(store, hours_to_due=48)
    second, decision_2 = await decided(store, district="5", hours_to_due=-1)  # already overdue

    assert await count(decision_1, store=store) is True
    assert await count(decision_1, store=store) is False  # redelivered
    listed = await inbox.collection(store).find_one({"_id": first})
    assert listed is not None and (listed["department"], listed["status"]) == ("lighting", "routed")
    assert await count(decision_2, store=store) is True
    early_rating = rating(first, 5)
    assert await count(early_rating, store=store) is False  # not resolved yet: no survey

    for cid in (first, second):
        resolved = resolution(cid)
        assert await count(resolved, store=store) is False  # not applied to the record yet
        assert await actions.apply_action(resolved, store=store) is True
        assert await count(resolved, store=store) is True
        assert await count(resolved, store=store) is False

    assert await inbox.collection(store).count_documents({}) == 0, "resolved: out of the inbox"
    assert await count(rating(first, 4), store=store) is True
    assert await count(rating(first, 1), store=store) is False  # the first answer stands
    assert await count(rating(second, 2), store=store) is True

    summary = await stats.summary(store)
    assert (summary.total.submitted, summary.total.resolved) == (2, 2)
    assert (summary.total.sla_known, summary.total.in_sla) == (2, 1)
    assert summary.total.satisfaction == 3.0
    assert set(summary.by["district"]) == {"3", "5"}
    assert summary.by["district"]["5"].in_sla == 0 and summary.by["district"]["3"].in_sla == 1
    assert summary.by["category"]["lighting"].submitted == 2
    assert summary.by["department"]["lighting"].rating_count == 2
    # Resolved within seconds: the first bucket, so both percentiles are under a quarter of an hour.
    median = summary.total.percentile_hours(0.5)
    assert median is not None and median <= stats.FIRST_BUCKET_HOURS
    assert len(summary.months) == 1 and summary.months[0][1].submitted == 2
    assert len(summary.weeks) == 1 and summary.weeks[0][1].resolved == 2
    stored = await records.find(store, first)
    assert stored is not None and stored["rating"] == 4
    days = await store.db[stats.COLLECTION].count_documents({"scope": "day"})
    assert days == 2  # one fine-grained rollup per (day, category, department, district)


async def test_a_triaged_complaint_reassigned_by_staff_counts_under_its_new_category(store: Store) -> None:
    sub = submitted(district="4")
    guess = routed(sub, category="other", department="triage")
    decision = ComplaintTriageNeeded(**guess.model_dump())
    event = envelope(decision, sub.complaint_id)
    now = records.store_precision(datetime.now(UTC))
    await records.apply_decision(
        store, sub, decision, submitted_event_id="s", decision_event_id=event.id, status="triage", at=now
    )
    assert await count(event, store=store) is True
    reassigned = envelope(
        ComplaintReassigned(
            complaint_id=sub.complaint_id,
            actor_id="user:op",
            actor_name="Operator",
            at=records.store_precision(datetime.now(UTC)),
            from_department="triage",
            to_department="lighting",
            from_category="other",
            to_category="lighting",
            reason="a street light",
        ),
        sub.complaint_id,
    )
    assert await count(reassigned, store=store) is False, "not applied to the record yet"
    assert await actions.apply_action(reassigned, store=store) is True
    assert await count(reassigned, store=store) is True
    assert await count(reassigned, store=store) is False  # redelivered
    resolved = resolution(sub.complaint_id)
    assert await actions.apply_action(resolved, store=store) is True
    assert await count(resolved, store=store) is True

    summary = await stats.summary(store)
    assert summary.total.submitted == 1 and summary.total.resolved == 1
    lighting = summary.by["category"]["lighting"]
    assert (lighting.submitted, lighting.resolved) == (1, 1)
    assert summary.by["category"].get("other", stats.Figures()).submitted == 0
    assert summary.by["department"]["lighting"].submitted == 1
    assert summary.by["department"].get("triage", stats.Figures()).submitted == 0
    assert summary.by["district"]["4"].submitted == 1
    days = await store.db[stats.COLLECTION].find({"scope": "day"}).to_list()
    assert {(d["category"], d["department"], d.get("submitted")) for d in days} >= {
        ("lighting", "lighting", 1),
    }
    assert all(d.get("submitted", 0) == 0 for d in days if d["category"] == "other")


async def test_concurrent_increments_of_one_rollup_are_all_kept(store: Store) -> None:
    # FerretDB v1 applies an update as a read then a write: without the store's lock, 200 concurrent
    # increments of one rollup kept fewer than half (Store.serial).
    keys = stats.rollup_keys(datetime.now(UTC).date(), "lighting", "lighting", "3")
    await asyncio.gather(*(stats.add(store, keys, stats.increments(submitted=1)) for _ in range(200)))
    for key in keys:
        doc = await store.db[stats.COLLECTION].find_one({"_id": key["_id"]})
        assert doc is not None and doc["submitted"] == 200, (key["_id"], doc)
