"""intake's tracking-code pool and group commit of received records, on the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from intake import tracking
from intake.codes import TrackingCodePool
from intake.received import ReceivedWriter
from pasokh.infra.process import free_port
from services import records
from services.errors import DependencyUnavailable
from services.settings import MongoSettings
from services.store import Store
from tests.factories import submitted


@pytest.fixture
async def nowhere() -> AsyncIterator[Store]:
    """A store whose server does not exist: every operation fails after a short wait."""
    store = Store.connect(MongoSettings(uri=f"mongodb://127.0.0.1:{free_port()}/", timeout_ms=300))
    yield store
    await store.close()


async def test_batch_reservation_skips_codes_already_held(store: Store) -> None:
    now = datetime.now(UTC)
    assert await records.reserve_tracking_code(store, "1234567897", "someone", now)

    held = await records.reserve_tracking_codes(store, ["1234567897", "2345678903", "3456789019"], now)

    assert held == ["2345678903", "3456789019"]
    assert await records.reserve_tracking_codes(store, ["2345678903"], now) == []


async def test_pool_hands_out_distinct_reserved_codes_across_refills(store: Store) -> None:
    pool = TrackingCodePool(store, batch=50, low_water=10)

    codes = await asyncio.gather(*(pool.take() for _ in range(180)))
    await pool.close()

    assert len(set(codes)) == 180 and all(tracking.is_valid(c) for c in codes)
    reserved = {d["_id"] async for d in store.tracking_codes.find({"_id": {"$in": list(codes)}})}
    assert reserved == set(codes)


async def test_pool_without_database_is_a_clear_dependency_error(nowhere: Store) -> None:
    pool = TrackingCodePool(nowhere, batch=5, low_water=1)

    with pytest.raises(DependencyUnavailable, match="tracking codes"):
        await pool.take()


async def test_concurrent_writes_share_batches_and_all_land(store: Store) -> None:
    writer = ReceivedWriter(store, max_batch=40)
    subs = [submitted() for _ in range(150)]

    await asyncio.gather(
        *(writer.write(records.received_record(s, event_id=f"e-{s.complaint_id}")) for s in subs)
    )
    # A second delivery of the same records (the router got there first) is no error.
    await asyncio.gather(*(writer.write(records.received_record(s, event_id="again")) for s in subs[:5]))
    await writer.close()

    ids = [s.complaint_id for s in subs]
    stored = {d["_id"]: d async for d in store.complaints.find({"_id": {"$in": ids}})}
    assert set(stored) == set(ids)
    assert all(d["status"] == "received" and d["applied_events"] != ["again"] for d in stored.values())


async def test_every_waiter_of_a_failed_batch_gets_the_error(nowhere: Store) -> None:
    writer = ReceivedWriter(nowhere)
    subs = [submitted() for _ in range(3)]

    outcomes = await asyncio.gather(
        *(writer.write(records.received_record(s, event_id="e")) for s in subs), return_exceptions=True
    )

    assert len(outcomes) == 3 and all(isinstance(o, Exception) for o in outcomes)


async def test_a_bounded_wait_answers_before_a_slow_record_and_the_record_still_lands(store: Store) -> None:
    writer = ReceivedWriter(store, wait_at_most=0.0)  # MongoDB is never this fast: every wait times out
    subs = [submitted() for _ in range(20)]
    late = REGISTRY.get_sample_value("pasokh_intake_records_late_total") or 0.0

    await asyncio.gather(
        *(writer.write(records.received_record(s, event_id=f"e-{s.complaint_id}")) for s in subs)
    )
    assert REGISTRY.get_sample_value("pasokh_intake_records_late_total") == late + 20
    await writer.close()  # the writes went on after the answers

    ids = [s.complaint_id for s in subs]
    assert {d["_id"] async for d in store.complaints.find({"_id": {"$in": ids}})} == set(ids)


async def test_a_late_record_that_fails_is_logged_not_raised(
    nowhere: Store, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ReceivedWriter(nowhere, wait_at_most=0.0)

    await writer.write(records.received_record(submitted(), event_id="e"))  # no error: answered first
    await writer.close()
    await asyncio.sleep(0)

    assert "could not record the received state" in caplog.text
