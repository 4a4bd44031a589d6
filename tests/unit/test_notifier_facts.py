"""notifier/facts.py: phones of complaints seen submitted, so that a decision's SMS reads no record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.facts import ComplaintFacts
from notifier.handlers import Context, Retry, remembered
from notifier.sms import InMemorySms
from services.bus import InMemoryPublisher
from services.privacy import Sealer
from services.settings import DEV_SECRET_KEY, MongoSettings
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import SEALER, routed, submitted, wired
from tests.support.clock import Clock

DAY = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)


def test_a_submitted_complaint_is_remembered_until_it_is_too_old() -> None:
    clock = Clock(DAY)
    facts = ComplaintFacts(ttl=timedelta(hours=1), clock=clock)
    sub = submitted(phone="+989121112233")

    facts.remember(sub)
    doc = facts.record(sub.complaint_id)

    assert doc is not None
    assert SEALER.open(doc["phone_sealed"]) == "+989121112233"
    assert (doc["phone_hash"], doc["tracking_code"], doc["language"]) == (
        sub.phone_hash,
        sub.tracking_code,
        "fa",
    )
    assert facts.record("another complaint") is None
    clock.now = DAY + timedelta(hours=1, seconds=1)
    assert facts.record(sub.complaint_id) is None  # too old: the record is read instead
    assert (facts.hits, facts.misses) == (1, 2)


def test_the_oldest_entries_go_first_and_complaints_without_phone_are_not_kept() -> None:
    facts = ComplaintFacts(size=2)
    first, second, third = submitted(), submitted(), submitted()
    for sub in (first, second, third):
        facts.remember(sub)
    facts.remember(submitted(phone=None))

    assert len(facts) == 2
    assert facts.record(first.complaint_id) is None
    assert facts.record(third.complaint_id) is not None


def _context(sealer: Sealer, facts: ComplaintFacts) -> Context:
    return Context(
        store=Store.connect(MongoSettings(uri="mongodb://127.0.0.1:9/")),  # never reached: no I/O here
        publisher=InMemoryPublisher(),
        sms=InMemorySms(),
        sealer=sealer,
        taxonomy=load_taxonomy(),
        retry=Retry(max_attempts=1),
        facts=facts,
    )


def test_only_decisions_use_it_in_the_decisions_language_and_not_while_keys_rotate() -> None:
    facts = ComplaintFacts()
    sub = submitted()
    facts.remember(sub)
    ctx = _context(SEALER, facts)

    doc = remembered(wired(routed(sub, language="en"), sub.complaint_id), ctx)
    assert doc is not None and doc["language"] == "en"  # the router stores the decision's language
    assert remembered(wired(sub, sub.complaint_id), ctx) is None  # not a decision
    rotating = Sealer(DEV_SECRET_KEY, previous=["an older secret of this deployment"])
    assert remembered(wired(routed(sub), sub.complaint_id), _context(rotating, facts)) is None
