"""The router's handler on real MongoDB and Kafka: decide once, announce the same decision again."""

from __future__ import annotations

import json

from pasokh.infra.local import LocalInfra
from router.classifier import KeywordClassifier
from router.handlers import handle_submitted
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintTriageNeeded
from services.contracts.envelope import from_kafka, new_event, to_kafka
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import submitted
from tests.support.kafka import read_topic

TAXONOMY = load_taxonomy()


async def route(envelope_bytes: bytes, key: bytes, store: Store, publisher: KafkaPublisher) -> object:
    return await handle_submitted(
        from_kafka(envelope_bytes, key),
        store=store,
        publisher=publisher,
        classifier=KeywordClassifier(TAXONOMY),
        taxonomy=TAXONOMY,
        threshold=0.5,
    )


async def test_second_delivery_announces_the_stored_decision(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    sub = submitted("بوی گاز شدیدی در کوچه می‌آید، لطفاً سریع بیایید")
    key, value = to_kafka(new_event(sub, subject=sub.complaint_id, source="/pasokh/intake"))

    first = await route(value, key, store, publisher)
    stored = await records.find(store, sub.complaint_id)
    second = await route(value, key, store, publisher)

    assert isinstance(first, ComplaintRouted)
    assert (first.category, first.department, first.priority) == ("emergency", "fire-safety", "urgent")
    assert second == first
    assert await records.find(store, sub.complaint_id) == stored
    announced = [
        json.loads(v)
        for k, v in read_topic(
            infra.bootstrap_servers, topics.EVENTS, until=lambda m: sum(k == key for k, _ in m) >= 2
        )
        if k == key
    ]
    assert len(announced) == 2 and announced[0]["id"] == announced[1]["id"]
    assert announced[0]["type"] == "org.pasokh.complaint.routed"


async def test_unclassifiable_complaint_goes_to_triage(store: Store, publisher: KafkaPublisher) -> None:
    sub = submitted("سلام وقت بخیر")
    key, value = to_kafka(new_event(sub, subject=sub.complaint_id, source="/pasokh/intake"))

    decision = await route(value, key, store, publisher)

    assert isinstance(decision, ComplaintTriageNeeded) and decision.department == "triage"
    doc = await records.find(store, sub.complaint_id)
    assert doc is not None and doc["status"] == "triage"
