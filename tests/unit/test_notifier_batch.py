"""How the notifier's batched path splits a batch: one key's events in order, different keys together."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.batch import batchable, rounds
from services.contracts.citizens import CitizenOptedOut
from services.contracts.notifications import NotificationDelivered
from tests.factories import routed, submitted, wired


def test_one_key_per_round_and_each_keys_order_kept() -> None:
    messages = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)]

    split = rounds(messages, key=lambda m: m[0])

    assert split == [[("a", 1), ("b", 1), ("c", 1)], [("a", 2), ("b", 2)], [("a", 3)]]
    assert rounds([], key=lambda m: m) == []


def test_events_that_need_more_than_the_complaint_record_go_one_at_a_time() -> None:
    sub = submitted()
    at = datetime(2026, 11, 26, tzinfo=UTC)
    opted_out = CitizenOptedOut(
        phone_hash="h", phone_sealed="s", provider="http", message_id="m1", received_at=at
    )
    delivered = NotificationDelivered(
        complaint_id="c1", notification_id="n1", provider="http", status="delivered", reported_at=at
    )

    assert batchable(wired(sub, sub.complaint_id))
    assert batchable(wired(routed(sub), sub.complaint_id))
    assert not batchable(wired(opted_out, "h"))
    assert not batchable(wired(delivered, "c1"))
