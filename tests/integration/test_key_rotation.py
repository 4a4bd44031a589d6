"""Rotating PASOKH_SECRET_KEY on the real MongoDB-wire server: data written under key A stays readable
and findable once B is active (A previous), ``pasokh keys rotate-secret`` re-seals and re-hashes it
all, and with A gone everything still works and nothing carries A's key id.

The data is written by the real code paths: intake's received record, the notifier handling events
(its SMS records and the citizen's opt-out) with SMS sent to a real local HTTP gateway.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.sms_handlers import last_resolved
from notifier import preferences
from notifier.handlers import Context, Retry, handle
from notifier.settings import PolicySettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from services import keyrotation, records
from services.bus import KafkaPublisher
from services.contracts.actions import ComplaintAcknowledged
from services.contracts.citizens import CitizenOptedOut
from services.contracts.complaints import ComplaintSubmitted
from services.contracts.envelope import Envelope, EventPayload, from_kafka, new_event, to_kafka
from services.privacy import Sealer
from services.store import Doc, Store
from services.taxonomy import load_taxonomy
from tests.support.clock import Clock, no_wait
from tests.support.sms_server import SmsCapture

KEY_A = secrets.token_urlsafe(32)
KEY_B = secrets.token_urlsafe(32)
DAY = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # 10:00 in Tehran: no quiet hours
TAXONOMY = load_taxonomy()


def _phone() -> str:
    return "+989" + "".join(secrets.choice("0123456789") for _ in range(9))


def _context(store: Store, publisher: KafkaPublisher, sms: HttpSms, sealer: Sealer) -> Context:
    return Context(
        store=store,
        publisher=publisher,
        sms=sms,
        sealer=sealer,
        taxonomy=TAXONOMY,
        retry=Retry(max_attempts=2, base_seconds=0.01, sleep=no_wait),
        policy=PolicySettings(coalesce_seconds=0),
        clock=Clock(DAY),
    )


def _event(payload: EventPayload, subject: str) -> Envelope:
    key, value = to_kafka(new_event(payload, subject=subject, source="/pasokh/test", time=DAY))
    return from_kafka(value, key)


async def _complaint(store: Store, sealer: Sealer, phone: str, status: str) -> ComplaintSubmitted:
    """A complaint as intake records it (sealed and hashed by ``sealer``), then moved to ``status``."""
    sub = ComplaintSubmitted(
        complaint_id=str(uuid.uuid4()),
        tracking_code=f"T{uuid.uuid4().hex[:7].upper()}",
        text="چراغ کوچه ما خاموش است",
        channel="sms",
        language="fa",
        submitted_at=DAY,
        phone_sealed=sealer.seal(phone),
        phone_hash=sealer.lookup_hash(phone),
    )
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    await store.complaints.update_one(
        {"_id": sub.complaint_id}, {"$set": {"department": "lighting", "status": status}}
    )
    return sub


def _opt_out(sealer: Sealer, phone: str, at: datetime) -> Envelope:
    fields = {"phone_sealed": sealer.seal(phone), "phone_hash": sealer.lookup_hash(phone)}
    message = CitizenOptedOut(message_id=uuid.uuid4().hex, provider="http", received_at=at, **fields)
    return _event(message, fields["phone_hash"])


async def _personal(store: Store) -> dict[str, list[Doc]]:
    return {name: await store.db[name].find().to_list(None) for name in keyrotation.COLLECTIONS}


def _rotate_secret(infra: LocalInfra, database: str, *args: str, previous: str = "") -> Any:
    env = {
        **os.environ,
        "PASOKH_MONGO__URI": infra.mongo_uri,
        "PASOKH_MONGO__DATABASE": database,
        "PASOKH_SECRET_KEY": KEY_B,
        "PASOKH_SECRET_KEYS_PREVIOUS": previous,
    }
    command = [sys.executable, "-m", "pasokh.cli", "keys", "rotate-secret", "--batch", "2", "--json", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert KEY_A not in result.stdout + result.stderr and KEY_B not in result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def capture() -> Any:
    server = SmsCapture().start()
    yield server
    server.stop()


async def test_rotating_the_secret_key_keeps_everything_readable_and_findable(
    store: Store, publisher: KafkaPublisher, capture: SmsCapture, infra: LocalInfra, database: str
) -> None:
    a, b_with_a, b = Sealer(KEY_A), Sealer(KEY_B, [KEY_A]), Sealer(KEY_B)
    informed, quiet, legacy = _phone(), _phone(), _phone()
    sms = HttpSms(capture.url, timeout=5)
    try:
        # Under key A: three citizens' complaints, their SMS, one opt-out recorded the current way and
        # one the way it was before preferences kept the phone sealed (hash only).
        ctx_a = _context(store, publisher, sms, a)
        resolved = await _complaint(store, a, informed, "resolved")
        assert await handle(_event(resolved, resolved.complaint_id), ctx_a) == "sent"
        await _complaint(store, a, quiet, "routed")
        assert await handle(_opt_out(a, quiet, DAY), ctx_a) == "sent"  # the confirmation
        old = await _complaint(store, a, legacy, "routed")
        await preferences.set_opted_out(store, a.lookup_hash(legacy), True, DAY)
        sent_under_a = len(capture.received)
        before = await _personal(store)
        assert all(d.get("phone_sealed") for d in before["notifications"])
        assert [d for d in before[keyrotation.PREFERENCES] if d.get("phone_sealed")]

        # B active, A previous: everything opens and is found, by old hashes and new.
        ctx_b = _context(store, publisher, sms, b_with_a)
        for doc in before["complaints"] + before["notifications"]:
            assert b_with_a.open(doc["phone_sealed"]) in (informed, quiet, legacy)
        found = await last_resolved(store, b_with_a.lookup_hashes(informed))
        assert found is not None and found["_id"] == resolved.complaint_id
        for citizen in (quiet, legacy):
            assert await preferences.opted_out(store, b_with_a.lookup_hashes(citizen))
        new = await _complaint(store, b_with_a, quiet, "routed")  # a new complaint, under B
        assert await handle(_event(new, new.complaint_id), ctx_b) == "suppressed"
        ack = ComplaintAcknowledged(
            complaint_id=old.complaint_id, actor_id="k1", actor_name="کارشناس", at=DAY + timedelta(minutes=1)
        )
        assert await handle(_event(ack, old.complaint_id), ctx_b) == "suppressed"

        snapshot = await _personal(store)
        under_a = sum(not b_with_a.is_current(d["phone_sealed"]) for d in snapshot["notifications"])
        dry = _rotate_secret(infra, database, "--dry-run", previous=KEY_A)
        assert dry["complaints"]["rewritten"] == 3 and dry["complaints"]["current"] == 1
        assert await _personal(store) == snapshot

        counts = _rotate_secret(infra, database, previous=KEY_A)
        assert counts["key_id"] == b.key_id
        assert counts["complaints"] | {"scanned": 4, "rewritten": 3, "current": 1} == counts["complaints"]
        assert counts["sms_preferences"]["rewritten"] == 2 and counts["sms_preferences"]["orphaned"] == 0
        assert counts["notifications"]["rewritten"] == under_a > 0
        again = _rotate_secret(infra, database, previous=KEY_A)
        assert all(c["rewritten"] == 0 for name, c in again.items() if name in keyrotation.COLLECTIONS)

        # A removed: nothing carries A's key id, every hash is B's, and all still works.
        after = await _personal(store)
        for name in ("complaints", "notifications", keyrotation.PREFERENCES):
            for doc in after[name]:
                assert b.key_id_of(doc["phone_sealed"]) == b.key_id != a.key_id
                phone = b.open(doc["phone_sealed"])
                hashes = [doc[f] for f in ("_id", "phone_hash", "recipient_hash") if f in doc]
                if name != keyrotation.PREFERENCES:
                    hashes.remove(doc["_id"])
                assert hashes and set(hashes) == {b.lookup_hash(phone)}
        with pytest.raises(ValueError):
            a.open(after["complaints"][0]["phone_sealed"])
        assert len(after[keyrotation.PREFERENCES]) == 2
        ctx_only_b = _context(store, publisher, sms, b)
        found = await last_resolved(store, b.lookup_hash(informed))
        assert found is not None and found["_id"] == resolved.complaint_id
        for citizen in (quiet, legacy):
            assert await preferences.opted_out(store, b.lookup_hash(citizen))
        later = await _complaint(store, b, legacy, "routed")
        assert await handle(_event(later, later.complaint_id), ctx_only_b) == "suppressed"
        resolved_again = ComplaintAcknowledged(
            complaint_id=resolved.complaint_id, actor_id="k1", actor_name="کارشناس", at=DAY
        )
        assert await handle(_event(resolved_again, resolved.complaint_id), ctx_only_b) == "sent"
        assert len(capture.received) == sent_under_a + 1
        assert capture.received[-1]["to"] == informed
        assert _rotate_secret(infra, database)["complaints"]["rewritten"] == 0  # without A: all current
    finally:
        await sms.close()


async def test_an_interrupted_rotation_resumes_where_a_rerun_finds_work_left(store: Store) -> None:
    a, b_with_a = Sealer(KEY_A), Sealer(KEY_B, [KEY_A])
    phones = [_phone() for _ in range(5)]
    for phone in phones:
        await _complaint(store, a, phone, "routed")

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(name: str, counts: keyrotation.Counts) -> None:
        if name == "complaints":
            raise Interrupted

    with pytest.raises(Interrupted):
        await keyrotation.rotate(store, b_with_a, batch=2, progress=stop_after_first_batch)
    docs = await store.complaints.find().to_list(None)
    assert sorted(b_with_a.is_current(d["phone_sealed"]) for d in docs) == [False] * 3 + [True] * 2

    counts = await keyrotation.rotate(store, b_with_a, batch=2)

    assert (counts["complaints"].rewritten, counts["complaints"].current) == (3, 2)
    assert counts["complaints"].left == 0
    docs = await store.complaints.find().to_list(None)
    assert {b_with_a.open(d["phone_sealed"]) for d in docs} == set(phones)
    assert all(b_with_a.is_current(d["phone_sealed"]) for d in docs)
    assert all(d["phone_hash"] == b_with_a.lookup_hash(b_with_a.open(d["phone_sealed"])) for d in docs)


async def test_a_value_no_known_key_opens_is_reported_and_left_alone(store: Store) -> None:
    stranger = Sealer(secrets.token_urlsafe(32))
    sub = await _complaint(store, stranger, _phone(), "routed")

    counts = await keyrotation.rotate(store, Sealer(KEY_B, [KEY_A]))

    assert counts["complaints"].unreadable == 1 and counts["complaints"].left == 1
    doc = await store.complaints.find_one({"_id": sub.complaint_id})
    assert doc is not None and doc["phone_sealed"] == sub.phone_sealed
