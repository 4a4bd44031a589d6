"""Which complaint events the router's events agent books (inbox, public counts) when it reads them back,
and how the changes it applies keep the duplicate cache true."""

from __future__ import annotations

from datetime import UTC, datetime

from faust.types import TP

from router.app import SMS_REPORTS, booked_when_decided, changes
from router.duplicates import NearbyCache
from router.handlers import SOURCE
from services.contracts import topics
from services.contracts.actions import ComplaintReopened, ComplaintResolved
from services.contracts.envelope import Envelope, EventPayload
from services.contracts.routing import ComplaintDuplicateLinked, ComplaintDuplicateUnlinked
from services.worker import holds_everything
from tests.factories import routed, submitted, wired


def envelope(payload: EventPayload, source: str) -> Envelope:
    return wired(payload, "c-1", source=source)


def test_the_routers_own_decisions_are_booked_when_decided_everything_else_when_read_back() -> None:
    sub = submitted()
    decision = routed(sub)
    link = ComplaintDuplicateLinked(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        primary_id="c-0",
        primary_tracking_code="1234567890",
        category="lighting",
        department="lighting",
        distance_m=12.0,
        similarity=0.8,
        linked_at=datetime.now(UTC),
    )
    assert booked_when_decided(envelope(decision, SOURCE))
    assert booked_when_decided(envelope(link, SOURCE))
    # The same type from elsewhere (a partner system, a replay tool) is counted when read.
    assert not booked_when_decided(envelope(decision, "/pasokh/partner/district-7"))
    # The router's other events (SLA escalations) and intake's submissions are not decisions.
    assert not booked_when_decided(envelope(sub, SOURCE))
    assert not booked_when_decided(envelope(sub, "/pasokh/intake"))


def test_changes_the_router_applies_keep_the_duplicate_cache_true() -> None:
    def cached() -> NearbyCache:
        cache = NearbyCache(60.0)
        cache.put("lighting:1:2", [{"_id": "c-1", "status": "routed"}], cache.reading())
        cache.put("lighting:3:4", [{"_id": "c-9", "status": "routed"}], cache.reading())
        return cache

    at = datetime.now(UTC)
    resolved = ComplaintResolved(complaint_id="c-1", actor_id="k", actor_name="clerk", note="fixed", at=at)
    cache = cached()
    changes(cache, envelope(resolved, "/pasokh/intake/staff"))
    assert cache.fresh("lighting:1:2") is None and cache.fresh("lighting:3:4") is not None
    # Open again, in a cell the cache may hold without it: every cell is read again.
    reopened = ComplaintReopened(
        complaint_id="c-1", actor_id="k", actor_name="citizen", reason="again", at=at
    )
    unlinked = ComplaintDuplicateUnlinked(
        complaint_id="c-1", primary_id="c-0", actor_id="k", actor_name="clerk", reason="other", at=at
    )
    for event in (reopened, unlinked):
        cache = cached()
        changes(cache, envelope(event, "/pasokh/intake/staff"))
        assert cache.fresh("lighting:3:4") is None
    # The router's own decisions are added by the batch that made them, not dropped when read back.
    cache = cached()
    changes(cache, envelope(routed(submitted()), SOURCE))
    assert cache.fresh("lighting:1:2") is not None


def test_a_worker_is_alone_only_while_it_holds_every_partition_of_both_topics() -> None:
    counts = {topics.SUBMITTED: 2, topics.EVENTS: 3}
    both = (topics.SUBMITTED, topics.EVENTS)
    everything = {TP(topics.SUBMITTED, p) for p in range(2)} | {TP(topics.EVENTS, p) for p in range(3)}
    assert holds_everything(everything | {TP("pasokh-router-__assignor", 0)}, counts.get, both)
    assert not holds_everything(everything - {TP(topics.EVENTS, 2)}, counts.get, both)
    assert not holds_everything(everything - {TP(topics.SUBMITTED, 0)}, counts.get, both)
    assert not holds_everything(everything, {topics.SUBMITTED: 2}.get, both)  # a topic's size not known yet
    assert not holds_everything(set(), counts.get, both)
    # The notifier asks about the complaint events alone.
    assert holds_everything(everything - {TP(topics.SUBMITTED, 0)}, counts.get, (topics.EVENTS,))


def test_every_report_on_an_sms_is_left_out_of_the_complaint_bookkeeping() -> None:
    # They change no complaint record: the events agent neither re-syncs the inbox nor counts them
    # (two or three per complaint, each a record read and an inbox write before).
    from services.contracts import notifications
    from services.contracts.envelope import EventPayload

    kinds = {
        model.TYPE
        for model in vars(notifications).values()
        if isinstance(model, type) and issubclass(model, EventPayload) and model is not EventPayload
    }
    assert kinds and all(kind.startswith("org.pasokh.notification.") for kind in kinds)
    assert kinds == SMS_REPORTS
