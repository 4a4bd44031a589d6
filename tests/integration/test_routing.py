"""Routing, duplicates and SLA on real MongoDB and Kafka: districts and rules, links and unlinks,
warnings and escalations once across restarts, and redeliveries that change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from intake import auth
from intake.bootstrap import Intake
from pasokh.infra.local import LocalInfra
from router import sla
from router.batch import handle_submitted_batch
from router.classifier import KeywordClassifier
from router.handlers import handle_submitted, handle_unlinked
from router.routing import RoutingTable
from router.settings import DuplicateOptions, SlaOptions
from router.sla import SlaPolicy
from services import records, rules
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.contracts.envelope import from_kafka, new_event, to_kafka
from services.contracts.routing import ComplaintDuplicateLinked, ComplaintDuplicateUnlinked
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import submitted
from tests.support.kafka import read_topic

TAXONOMY = load_taxonomy()
CLASSIFIER = KeywordClassifier(TAXONOMY)
POLICY = SlaPolicy.from_options(SlaOptions())
# Inside the approximate outline of Karaj's district 6 (services/data/districts/karaj.geojson).
DISTRICT_6 = {"lat": 35.82, "lon": 50.96}
LIGHT = "چراغ برق تیر روبروی مدرسه خاموش است"


def envelope_of(sub: ComplaintSubmitted) -> Any:
    # One submission, one event id: calling this again for ``sub`` is a redelivery.
    event = new_event(
        sub, subject=sub.complaint_id, source="/pasokh/intake", event_id=f"s-{sub.complaint_id}"
    )
    key, value = to_kafka(event)
    return from_kafka(value, key)


async def route(
    sub: ComplaintSubmitted,
    store: Store,
    publisher: KafkaPublisher,
    routing: RoutingTable | None = None,
    clock: Any = None,
) -> Any:
    return await handle_submitted(
        envelope_of(sub),
        store=store,
        publisher=publisher,
        classifier=CLASSIFIER,
        taxonomy=TAXONOMY,
        threshold=0.5,
        routing=routing or RoutingTable(TAXONOMY),
        sla=POLICY,
        dedupe=DuplicateOptions(),
        clock=clock or (lambda: datetime.now(UTC)),
    )


def events_of(infra: LocalInfra, key: bytes, count: int) -> list[dict[str, Any]]:
    found = read_topic(
        infra.bootstrap_servers, topics.EVENTS, until=lambda m: sum(k == key for k, _ in m) >= count
    )
    return [json.loads(v) for k, v in found if k == key]


async def test_a_rule_for_a_district_applies_without_restart(store: Store, publisher: KafkaPublisher) -> None:
    routing = RoutingTable(TAXONOMY)
    await routing.refresh(store)
    before = await route(submitted(LIGHT, location=DISTRICT_6), store, publisher, routing)
    assert before.department == "lighting"

    await rules.put_department(store, rules.DepartmentIn(code="d6-lights", fa="روشنایی منطقه ۶", en="D6"))
    await rules.put_rule(
        store, rules.Rule(id="d6", order=1, category="lighting", district="6", department="d6-lights")
    )
    assert await routing.refresh(store) is True
    assert await routing.refresh(store) is False  # nothing changed since

    # 700 m from the first report (not a duplicate of it), still in district 6.
    elsewhere_in_6 = {"lat": DISTRICT_6["lat"] + 0.0065, "lon": DISTRICT_6["lon"]}
    by_place = await route(submitted(LIGHT, location=elsewhere_in_6), store, publisher, routing)
    by_name = await route(submitted(LIGHT, district="منطقه ۶"), store, publisher, routing)
    elsewhere = await route(submitted(LIGHT, district="District 7"), store, publisher, routing)

    departments = (by_place.department, by_name.department, elsewhere.department)
    assert departments == ("d6-lights", "d6-lights", "lighting")
    doc = await records.find(store, by_place.complaint_id)
    assert doc is not None and doc["district"] == "6" and doc["department"] == "d6-lights"
    assert doc["sla"]["due_at"] == doc["due_at"] and doc["sla"]["warn_at"] < doc["due_at"]


async def test_admin_api_edits_rules_and_refuses_what_does_not_exist(
    intake_app: tuple[httpx.AsyncClient, Intake],
) -> None:
    client, intake = intake_app
    admin_key, _ = await auth.create_key(intake.store, name="city admin", scopes=["admin"])
    staff_key, _ = await auth.create_key(
        intake.store, name="clerk", scopes=["staff"], role="department", departments=["roads"]
    )
    admin = {"Authorization": f"Bearer {admin_key}"}
    rule = {"order": 5, "category": "drainage", "start": "22:00", "end": "06:00", "department": "crisis"}

    assert (await client.put("/v1/admin/routing/rules/night", json=rule)).status_code == 401
    refused = await client.put(
        "/v1/admin/routing/rules/night", json=rule, headers={"Authorization": f"Bearer {staff_key}"}
    )
    assert refused.status_code == 403
    saved = await client.put("/v1/admin/routing/rules/night", json=rule, headers=admin)
    assert saved.status_code == 200, saved.text
    unknown = await client.put(
        "/v1/admin/routing/rules/x", json={**rule, "department": "nobody"}, headers=admin
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_department"
    assert set(unknown.json()["error"]["message"]) == {"fa", "en"}
    no_district = await client.put(
        "/v1/admin/routing/rules/x", json={**rule, "district": "99"}, headers=admin
    )
    assert no_district.status_code == 422
    bad_geojson = await client.put("/v1/admin/districts", json={"type": "Point"}, headers=admin)
    assert bad_geojson.status_code == 422

    config = (await client.get("/v1/admin/routing", headers=admin)).json()
    assert [r["id"] for r in config["rules"]] == ["night"] and config["version"] >= 1
    assert len(config["districts"]) == 12
    assert [r.id for r in await rules.list_rules(intake.store)] == ["night"]
    assert (await client.delete("/v1/admin/routing/rules/night", headers=admin)).status_code == 204
    assert (await client.delete("/v1/admin/routing/rules/night", headers=admin)).status_code == 404


async def test_a_nearby_similar_report_is_linked_then_unlinked_once(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    first = await route(submitted(LIGHT, location=DISTRICT_6), store, publisher)
    near = {"lat": DISTRICT_6["lat"] + 0.0002, "lon": DISTRICT_6["lon"]}  # about 22 m north
    far = {"lat": DISTRICT_6["lat"] + 0.01, "lon": DISTRICT_6["lon"]}  # about 1.1 km north
    again = submitted("سلام، چراغ تیر برق روبروی مدرسه چند شب است خاموش است", location=near)
    other_place = await route(submitted(LIGHT, location=far), store, publisher)
    other_text = await route(submitted("لامپ پارک محله سوخته", location=near), store, publisher)

    linked = await route(again, store, publisher)
    stored = await records.find(store, again.complaint_id)
    repeated = await route(again, store, publisher)

    assert isinstance(first, ComplaintRouted)
    assert isinstance(other_place, ComplaintRouted) and isinstance(other_text, ComplaintRouted)
    assert isinstance(linked, ComplaintDuplicateLinked)
    assert linked.primary_id == first.complaint_id and linked.department == first.department
    assert 15 < (linked.distance_m or 0) < 30 and linked.similarity >= 0.5
    assert stored is not None and stored["status"] == "duplicate" and "sla" not in stored
    assert repeated == linked
    assert await records.find(store, again.complaint_id) == stored
    key = again.complaint_id.encode()
    announced = events_of(infra, key, 2)
    assert [e["type"] for e in announced] == [ComplaintDuplicateLinked.TYPE] * 2
    assert announced[0]["id"] == announced[1]["id"]

    unlink = ComplaintDuplicateUnlinked(
        complaint_id=again.complaint_id,
        primary_id=first.complaint_id,
        actor_id="k1",
        actor_name="clerk",
        reason="another pole",
        at=records.store_precision(datetime.now(UTC)),
    )
    k, v = to_kafka(new_event(unlink, subject=again.complaint_id, source="/pasokh/intake/staff"))
    kwargs: dict[str, Any] = {
        "store": store,
        "publisher": publisher,
        "classifier": CLASSIFIER,
        "taxonomy": TAXONOMY,
        "threshold": 0.5,
        "routing": RoutingTable(TAXONOMY),
        "sla": POLICY,
    }
    decided = await handle_unlinked(from_kafka(v, k), **kwargs)
    after = await records.find(store, again.complaint_id)
    decided_again = await handle_unlinked(from_kafka(v, k), **kwargs)

    assert isinstance(decided, ComplaintRouted) and decided.department == "lighting"
    assert after is not None and after["status"] == "routed" and "sla" in after
    assert decided_again == decided and await records.find(store, again.complaint_id) == after
    # A redelivered submission still announces what it announced first: the link.
    assert isinstance(await route(again, store, publisher), ComplaintDuplicateLinked)
    routed = [e for e in events_of(infra, key, 5) if e["type"] == ComplaintRouted.TYPE]
    assert len(routed) == 2 and routed[0]["id"] == routed[1]["id"]


async def test_sla_warning_and_escalation_are_published_once_across_restarts(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    # Decided 30 days ago: both the warning time and the due time have passed.
    long_ago = datetime.now(UTC) - timedelta(days=30)
    late = await route(submitted(LIGHT), store, publisher, clock=lambda: long_ago)
    # Decided an hour ago, 72 h (3 working days) to go at most: nothing due yet.
    fresh = await route(submitted("آسفالت خیابان چاله دارد"), store, publisher)
    # Due soon: warn time passed, due time not (set on the record as a long SLA would leave it).
    warned = await route(submitted("درخت خشک پارک"), store, publisher)
    now = datetime.now(UTC)
    await store.complaints.update_one(
        {"_id": warned.complaint_id},
        {
            "$set": {
                "sla.warn_at": now - timedelta(minutes=1),
                "sla.due_at": now + timedelta(hours=1),
                "sla_slot": sla.slot(now - timedelta(minutes=1)),
            }
        },
    )

    first = await sla.scan(store=store, publisher=publisher)
    # A second worker or a restarted one scans the same records: nothing more to publish.
    restarted = KafkaPublisher(publisher._settings, client_id="pasokh-test-restart")
    await restarted.start()
    try:
        second = await sla.scan(store=store, publisher=restarted)
    finally:
        await restarted.stop()

    assert first == {"escalation": 1, "warning": 1} and second == {"escalation": 0, "warning": 0}
    late_doc = await records.find(store, late.complaint_id)
    assert late_doc is not None and late_doc["sla"]["escalation"]["sent"] is True
    assert "warning" not in late_doc["sla"]  # past due, the escalation says it all
    fresh_doc = await records.find(store, fresh.complaint_id)
    assert fresh_doc is not None and "warning" not in fresh_doc["sla"]
    escalations = [e for e in events_of(infra, late.complaint_id.encode(), 2) if "escalated" in e["type"]]
    warnings = [e for e in events_of(infra, warned.complaint_id.encode(), 2) if "sla-warning" in e["type"]]
    assert len(escalations) == 1 and escalations[0]["data"]["department"] == "lighting"
    assert len(warnings) == 1


async def test_a_claim_whose_worker_died_before_publishing_is_published_with_the_same_id(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    late = await route(
        submitted(LIGHT), store, publisher, clock=lambda: datetime.now(UTC) - timedelta(days=30)
    )
    claimed_at = datetime.now(UTC) - timedelta(minutes=10)
    # The worker claimed the escalation, then died before publishing it.
    await store.complaints.update_one(
        {"_id": late.complaint_id}, {"$set": {"sla.escalation": {"claimed_at": claimed_at, "sent": False}}}
    )
    assert await sla.scan(store=store, publisher=publisher) == {"escalation": 1, "warning": 0}
    assert await sla.scan(store=store, publisher=publisher) == {"escalation": 0, "warning": 0}
    [event] = [e for e in events_of(infra, late.complaint_id.encode(), 2) if "escalated" in e["type"]]
    doc = await records.find(store, late.complaint_id)
    assert doc is not None
    assert event["id"] == sla.event_id(late.complaint_id, "escalation", doc["sla"]["due_at"])


async def test_resolved_complaints_are_never_escalated(store: Store, publisher: KafkaPublisher) -> None:
    late = await route(
        submitted(LIGHT), store, publisher, clock=lambda: datetime.now(UTC) - timedelta(days=30)
    )
    await store.complaints.update_one({"_id": late.complaint_id}, {"$set": {"status": "resolved"}})
    assert await sla.scan(store=store, publisher=publisher) == {"escalation": 0, "warning": 0}


async def test_the_sla_scan_reads_only_the_hours_of_deadlines_still_to_announce(
    store: Store, publisher: KafkaPublisher
) -> None:
    now = datetime.now(UTC)
    fresh = await route(submitted(LIGHT), store, publisher)
    doc = await records.find(store, fresh.complaint_id)
    assert doc is not None and doc["sla_slot"] == sla.slot(doc["sla"]["warn_at"]) > sla.slot(now)

    # A record decided by an older version (no sla_slot), its deadlines long passed: the worker's
    # first scan gives it one and announces it.
    old = await route(submitted(LIGHT), store, publisher, clock=lambda: now - timedelta(days=30))
    await store.complaints.update_one({"_id": old.complaint_id}, {"$unset": {"sla_slot": ""}})
    assert await sla.scan(store=store, publisher=publisher) == {"escalation": 1, "warning": 0}
    done = await records.find(store, old.complaint_id)
    assert done is not None and "sla_slot" not in done  # nothing left to announce
    cursor = await store.db[sla.CURSOR].find_one({"_id": "cursor"})
    assert cursor is not None and cursor["slot"] == sla.slot(now)  # nothing older waits

    # Later scans start at that hour: a record put in an older hour behind their back is not read
    # (they do not read the collection), until a worker's first scan finds it again.
    behind = await route(submitted(LIGHT), store, publisher, clock=lambda: now - timedelta(days=30))
    assert await sla.scan(store=store, publisher=publisher, backfill_first=False) == {
        "escalation": 0,
        "warning": 0,
    }
    assert await sla.scan(store=store, publisher=publisher) == {"escalation": 1, "warning": 0}
    [escalated] = await store.complaints.find({"_id": behind.complaint_id}).to_list()
    assert escalated["sla"]["escalation"]["sent"] is True

    # A deadline later in the current hour keeps the scan on that hour until it is announced.
    base = now.replace(minute=10, second=0, microsecond=0)  # the scans below run at this hour's :10
    soon = base + timedelta(minutes=1)
    await store.complaints.update_one(
        {"_id": fresh.complaint_id},
        {"$set": {"sla.warn_at": soon, "sla.due_at": soon + timedelta(hours=5), "sla_slot": sla.slot(soon)}},
    )
    assert await sla.scan(store=store, publisher=publisher, now=base, backfill_first=False) == {
        "escalation": 0,
        "warning": 0,
    }
    cursor = await store.db[sla.CURSOR].find_one({"_id": "cursor"})
    assert cursor is not None and cursor["slot"] == sla.slot(soon)
    later = soon + timedelta(seconds=1)
    assert await sla.scan(store=store, publisher=publisher, now=later, backfill_first=False) == {
        "escalation": 0,
        "warning": 1,
    }
    warned = await records.find(store, fresh.complaint_id)
    assert warned is not None and warned["sla_slot"] == sla.slot(soon + timedelta(hours=5))


async def test_staff_unlink_a_duplicate_through_the_api(
    intake_app: tuple[httpx.AsyncClient, Intake], infra: LocalInfra
) -> None:
    client, intake = intake_app
    publisher = KafkaPublisher(intake.settings.kafka, client_id="pasokh-test")
    await publisher.start()
    try:
        first = await route(submitted(LIGHT, location=DISTRICT_6), intake.store, publisher)
        again = await route(submitted(LIGHT, location=DISTRICT_6), intake.store, publisher)
    finally:
        await publisher.stop()
    assert isinstance(again, ComplaintDuplicateLinked)
    key, _ = await auth.create_key(
        intake.store, name="lights clerk", scopes=["staff"], role="department", departments=["lighting"]
    )
    other, _ = await auth.create_key(
        intake.store, name="roads clerk", scopes=["staff"], role="department", departments=["civil-works"]
    )
    path = f"/v1/complaints/{again.complaint_id}/unlink"

    forbidden = await client.post(path, json={"reason": "x"}, headers={"Authorization": f"Bearer {other}"})
    accepted = await client.post(
        path, json={"reason": "another pole"}, headers={"Authorization": f"Bearer {key}"}
    )
    not_a_duplicate = await client.post(
        f"/v1/complaints/{first.complaint_id}/unlink",
        json={"reason": "x"},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert forbidden.status_code == 403
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["type"] == ComplaintDuplicateUnlinked.TYPE
    assert not_a_duplicate.status_code == 409
    [event] = [
        e
        for e in events_of(infra, again.complaint_id.encode(), 2)
        if e["type"] == ComplaintDuplicateUnlinked.TYPE
    ]
    assert event["data"]["primary_id"] == first.complaint_id and event["data"]["reason"] == "another pole"


async def test_a_batch_decides_like_one_by_one_links_within_itself_and_changes_nothing_twice(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    kwargs: dict[str, Any] = {
        "store": store,
        "publisher": publisher,
        "classifier": CLASSIFIER,
        "taxonomy": TAXONOMY,
        "threshold": 0.5,
        "routing": RoutingTable(TAXONOMY),
        "sla": POLICY,
        "dedupe": DuplicateOptions(),
    }
    near = {"lat": DISTRICT_6["lat"] + 0.0002, "lon": DISTRICT_6["lon"]}
    first = submitted(LIGHT, location=DISTRICT_6)
    same_pole = submitted(LIGHT, location=near)
    pothole = submitted("آسفالت خیابان چاله دارد", district="منطقه ۲")
    batch = [envelope_of(s) for s in (first, same_pole, pothole)]
    # intake stored the pothole's received record already: that one is updated, the others inserted.
    await records.record_received(store, pothole, event_id=batch[2].id)

    announced = await handle_submitted_batch(batch, **kwargs)
    docs = {s.complaint_id: await records.find(store, s.complaint_id) for s in (first, same_pole, pothole)}
    again = await handle_submitted_batch([batch[1], batch[0], batch[1]], **kwargs)

    assert [type(a) for a in announced] == [ComplaintRouted, ComplaintDuplicateLinked, ComplaintRouted]
    link = announced[1]
    assert isinstance(link, ComplaintDuplicateLinked) and link.primary_id == first.complaint_id
    assert announced[2].department == "civil-works"
    for doc in docs.values():
        assert doc is not None and [e["type"] for e in doc["timeline"]][0] == "received"
        assert len(doc["timeline"]) == 2 and len(doc["applied_events"]) == 2
    assert docs[pothole.complaint_id] is not None and docs[pothole.complaint_id]["district"] == "2"
    assert docs[first.complaint_id] is not None and docs[first.complaint_id]["district"] == "6"
    assert again == [announced[1], announced[0]]
    for s in (first, same_pole, pothole):
        assert await records.find(store, s.complaint_id) == docs[s.complaint_id]
    ids = [e["id"] for e in events_of(infra, same_pole.complaint_id.encode(), 2)]
    assert len(ids) == 2 and ids[0] == ids[1]
