"""Learning on real MongoDB and Kafka: a reassignment becomes an example, a model version is stored,
activated, and the router's classifier switches to it and records it on the next decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pasokh.infra.local import LocalInfra
from router import learning, registry
from router.actions import apply_action
from router.bootstrap import build_classifier
from router.handlers import handle_submitted
from router.model import Example, default_seed_file, read_jsonl, train
from router.settings import RouterSettings
from services import records
from services.bus import KafkaPublisher
from services.contracts.actions import ComplaintReassigned
from services.contracts.envelope import Envelope, from_kafka, new_event, to_kafka
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import routed, submitted

TAXONOMY = load_taxonomy()
PASOKH = Path(sys.executable).with_name("pasokh")
CORRECTED = "کانکس نگهبانی وسط پارک رها شده و معتادها شب‌ها توش جمع میشن"


def small_seed(per_label: int = 6) -> list[Example]:
    """A few seed examples per category: enough to train in seconds."""
    chosen: dict[str, list[Example]] = defaultdict(list)
    for example in read_jsonl(default_seed_file()):
        if len(chosen[example.label]) < per_label:
            chosen[example.label].append(example)
    return [e for group in chosen.values() for e in group]


async def stored_complaint(store: Store, text: str) -> str:
    sub = submitted(text)
    now = records.store_precision(datetime.now(UTC))
    await records.apply_decision(
        store, sub, routed(sub), submitted_event_id="s", decision_event_id="d", status="routed", at=now
    )
    return sub.complaint_id


def reassignment(complaint_id: str, to_category: str) -> Envelope:
    payload = ComplaintReassigned(
        complaint_id=complaint_id,
        actor_id="key-op-1",
        actor_name="137 operator",
        at=records.store_precision(datetime.now(UTC)),
        from_department="lighting",
        to_department="city-services",
        from_category="lighting",
        to_category=to_category,
        reason="not a lamp",
    )
    key, value = to_kafka(new_event(payload, subject=complaint_id, source="/pasokh/intake"))
    return from_kafka(value, key)


async def test_an_applied_reassignment_becomes_one_example(store: Store) -> None:
    cid = await stored_complaint(store, CORRECTED)
    event = reassignment(cid, "appearance")
    assert await apply_action(event, store=store) is True

    assert await learning.record_reassignment(event, store=store) is True
    assert await learning.record_reassignment(event, store=store) is False  # redelivery
    assert await learning.corrections(store) == [Example(CORRECTED, "appearance")]
    assert await store.db[learning.EXAMPLES].count_documents({}) == 1


async def test_a_reassignment_never_applied_teaches_nothing(store: Store) -> None:
    unknown = reassignment("no-such-complaint", "roads")
    assert await learning.record_reassignment(unknown, store=store) is False
    cid = await stored_complaint(store, CORRECTED)
    not_applied = reassignment(cid, "roads")  # apply_action was never called for it
    assert await learning.record_reassignment(not_applied, store=store) is False
    assert await learning.corrections(store) == []


async def test_the_latest_correction_of_a_complaint_wins(store: Store) -> None:
    cid = await stored_complaint(store, CORRECTED)
    for category in ("roads", "appearance"):
        event = reassignment(cid, category)
        assert await apply_action(event, store=store)
        assert await learning.record_reassignment(event, store=store)
    assert await learning.corrections(store) == [Example(CORRECTED, "appearance")]


async def test_versions_are_stored_in_chunks_and_checked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = train(small_seed(), folds=3)
    monkeypatch.setattr(registry, "CHUNK_BYTES", 64 * 1024)
    saved = await registry.save(store, model)
    assert saved.chunks > 1 and not saved.active
    assert await registry.active_version(store) is None

    loaded = await registry.load(store, saved.version)
    texts = [e.text for e in read_jsonl(default_seed_file())[:20]]
    assert loaded.predict_many(texts) == model.predict_many(texts)
    assert [v.version for v in await registry.versions(store)] == [saved.version]

    await store.db[registry.CHUNKS].update_one({"_id": f"{saved.version}:1"}, {"$set": {"data": b"x"}})
    with pytest.raises(ValueError, match="corrupt"):
        await registry.load(store, saved.version)
    with pytest.raises(registry.UnknownVersion):
        await registry.activate(store, "no-such-version")


async def test_activated_version_is_picked_up_and_recorded_on_the_next_decision(
    store: Store, publisher: KafkaPublisher, infra: LocalInfra, database: str
) -> None:
    settings = RouterSettings()
    classifier = build_classifier(settings, TAXONOMY)
    assert await registry.refresh(classifier, store) is False  # nothing active: the shipped model

    cid = await stored_complaint(store, CORRECTED)
    event = reassignment(cid, "appearance")
    await apply_action(event, store=store)
    await learning.record_reassignment(event, store=store)
    examples = small_seed() + await learning.corrections(store)
    model = train(examples, folds=3)
    saved = await registry.save(store, model)
    await registry.activate(store, saved.version)

    assert await registry.refresh(classifier, store) is True
    assert await registry.refresh(classifier, store) is False  # already in use
    sub = submitted("چراغ‌های کوچه ما سه شب است خاموش است")
    key, value = to_kafka(new_event(sub, subject=sub.complaint_id, source="/pasokh/intake"))
    decision = await handle_submitted(
        from_kafka(value, key),
        store=store,
        publisher=publisher,
        classifier=classifier,
        taxonomy=TAXONOMY,
        threshold=classifier.threshold,
    )
    expected = f"{model.name}@{saved.version}"
    assert decision.classifier == expected  # type: ignore[union-attr]
    doc = await records.find(store, sub.complaint_id)
    assert doc is not None and doc["classifier"]["name"] == expected


async def test_cli_trains_from_the_store_lists_and_activates(
    store: Store, infra: LocalInfra, database: str, tmp_path: Path
) -> None:
    """The CLI against the same database (the store fixture drops it afterwards)."""
    data = tmp_path / "small.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": e.text, "label": e.label}, ensure_ascii=False) + "\n" for e in small_seed()
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PASOKH_MONGO__URI": infra.mongo_uri, "PASOKH_MONGO__DATABASE": database}

    def pasokh(*args: str) -> str:
        done = subprocess.run([str(PASOKH), *args], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "no stored versions" in pasokh("models", "list")
    trained = pasokh("train", "--from-store", "--data", str(data))
    assert f"{len(small_seed())} examples from {data}, 0 corrections" in trained
    version = next(line for line in trained.splitlines() if line.startswith("stored as version")).split()[3]
    assert pasokh("models", "list").startswith(f"  {version}  tfidf-svc-3")
    assert f"active: {version}" in pasokh("models", "activate", version)
    assert pasokh("models", "list").startswith(f"* {version}")
    refused = subprocess.run(
        [str(PASOKH), "models", "activate", "nope"], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1 and "no stored version nope" in refused.stderr
    usage = subprocess.run([str(PASOKH), "train"], env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "--data and --out are required" in usage.stderr
