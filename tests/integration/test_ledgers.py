"""The de-duplication ledgers expire on the real MongoDB-wire server, each after its own period.

Entries are written by the code that writes them in service (intake's idempotency, SMS webhook and
partner-event claims), then expired as if the sweep ran later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from pymongo import MongoClient

from intake import idempotency, partner_events, sms_handlers
from intake.auth import Principal
from pasokh.cli import main
from pasokh.infra.local import LocalInfra
from services import ledgers
from services.settings import RetentionSettings
from services.store import Doc, Store

PARTNER = Principal(key_id="k1", name="137 call centre", scopes=frozenset({"events:write"}))


async def _counts(store: Store) -> dict[str, int]:
    names = ("idempotency_keys", "inbound_sms", "partner_events", "tracking_codes")
    return {name: await store.db[name].count_documents({}) for name in names}


async def test_each_ledger_forgets_after_its_own_period_and_tracking_codes_stay(store: Store) -> None:
    now = datetime.now(UTC)
    assert await idempotency.claim(store, "complaints", "key-1", b"{}") is None
    await idempotency.complete(store, "complaints", "key-1", 202, {"id": "c1"})
    assert await sms_handlers.claim(store, "sms:http:m-1", now) is None
    assert not isinstance(await partner_events._claim(store, "/cc", "e-1", "t", PARTNER), dict)
    await store.tracking_codes.insert_one({"_id": "4820193756", "at": now})
    settings = RetentionSettings()  # 24 hours, 30 days, 30 days
    assert await _counts(store) == dict.fromkeys(
        ("idempotency_keys", "inbound_sms", "partner_events", "tracking_codes"), 1
    )

    nothing = await ledgers.expire(store, now=now + timedelta(hours=23), settings=settings)
    assert nothing == {"idempotency_keys": 0, "inbound_sms": 0, "partner_events": 0}

    day_later = await ledgers.expire(store, now=now + timedelta(hours=25), settings=settings)
    assert day_later == {"idempotency_keys": 1, "inbound_sms": 0, "partner_events": 0}
    # The same key is new again: claimed afresh, not answered from the forgotten record.
    assert await idempotency.claim(store, "complaints", "key-1", b"other body") is None

    month_later = await ledgers.expire(store, now=now + timedelta(days=31), settings=settings)
    assert month_later == {"idempotency_keys": 1, "inbound_sms": 1, "partner_events": 1}
    assert await _counts(store) == {
        "idempotency_keys": 0,
        "inbound_sms": 0,
        "partner_events": 0,
        "tracking_codes": 1,
    }


async def test_periods_come_from_the_settings(store: Store) -> None:
    now = datetime.now(UTC)
    assert await sms_handlers.claim(store, "sms:http:m-2", now) is None
    short = RetentionSettings(inbound_sms_days=1)
    assert (await ledgers.expire(store, now=now + timedelta(days=2), settings=short))["inbound_sms"] == 1


def test_pasokh_retention_sweep_expires_the_ledgers_too(
    infra: LocalInfra, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASOKH_MONGO__URI", infra.mongo_uri)
    monkeypatch.setenv("PASOKH_MONGO__DATABASE", database)
    monkeypatch.setenv("PASOKH_RETENTION__IDEMPOTENCY_HOURS", "1")
    client: MongoClient[Doc] = MongoClient(infra.mongo_uri, tz_aware=True)
    now = datetime.now(UTC)
    try:
        client[database].idempotency_keys.insert_many(
            [{"_id": "old", "at": now - timedelta(hours=2)}, {"_id": "new", "at": now}]
        )
        result = CliRunner().invoke(main, ["retention", "sweep"])
        left = [d["_id"] for d in client[database].idempotency_keys.find({})]
    finally:
        client.drop_database(database)
        client.close()
    assert result.exit_code == 0, result.output
    assert "expired ledger entries: idempotency_keys 1, inbound_sms 0, partner_events 0" in result.output
    assert left == ["new"]
