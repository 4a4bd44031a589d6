"""router.decisions: department, priority, due time, and routed versus the triage desk."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router.classifier import Classification, KeywordClassifier
from router.decisions import decide
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded
from services.taxonomy import Taxonomy, load_taxonomy

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def now() -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=random.randrange(10**8))


def submitted(text: str, **overrides: Any) -> ComplaintSubmitted:
    fields: dict[str, Any] = {
        "complaint_id": str(uuid.uuid4()),
        "tracking_code": str(random.randrange(10**9, 10**10)),
        "text": text,
        "channel": "sms",
        "language": "fa",
        "submitted_at": datetime.now(UTC),
    }
    fields.update(overrides)
    return ComplaintSubmitted(**fields)


def classify_and_decide(
    taxonomy: Taxonomy, complaint: ComplaintSubmitted, now: datetime
) -> ComplaintRouted | ComplaintTriageNeeded:
    classification = KeywordClassifier(taxonomy).classify(complaint.text, hint=complaint.category_hint)
    decision = decide(complaint, classification, taxonomy=taxonomy, threshold=THRESHOLD, now=now)
    assert isinstance(decision, ComplaintRouted | ComplaintTriageNeeded)
    return decision


def test_confident_complaint_is_routed_to_its_department(taxonomy: Taxonomy, now: datetime) -> None:
    complaint = submitted("سه روزه زباله‌های کوچه رو کسی جمع نکرده")
    decision = classify_and_decide(taxonomy, complaint, now)

    assert isinstance(decision, ComplaintRouted)
    assert decision.TYPE == "org.pasokh.complaint.routed"
    assert decision.complaint_id == complaint.complaint_id
    assert decision.tracking_code == complaint.tracking_code
    assert decision.category == "waste"
    assert decision.department == taxonomy.category("waste").department == "waste"
    assert decision.priority == "normal"
    assert decision.confidence == 1.0
    assert decision.classifier == "keywords-v1"
    assert decision.language == "fa"


@pytest.mark.parametrize("code", ["roads", "waste", "lighting", "snow", "emergency", "appreciation"])
def test_due_at_is_now_plus_the_category_sla(taxonomy: Taxonomy, now: datetime, code: str) -> None:
    decision = decide(
        submitted("..."), Classification(code, 1.0, "test"), taxonomy=taxonomy, threshold=THRESHOLD, now=now
    )
    assert decision.due_at == now + timedelta(hours=taxonomy.category(code).sla_hours)


def test_gas_smell_is_urgent_and_due_within_two_hours(taxonomy: Taxonomy, now: datetime) -> None:
    decision = classify_and_decide(taxonomy, submitted("توی راه‌پله ساختمون بوی گاز شدید میاد"), now)
    assert isinstance(decision, ComplaintRouted)
    assert decision.category == "emergency"
    assert decision.priority == "urgent"
    assert decision.department == "fire-safety"
    assert decision.due_at == now + timedelta(hours=2)


def test_thanks_are_low_priority(taxonomy: Taxonomy, now: datetime) -> None:
    decision = classify_and_decide(taxonomy, submitted("خیلی ممنون از رسیدگی سریع‌تون"), now)
    assert decision.priority == "low"


def test_unclassifiable_complaint_goes_to_the_triage_desk(taxonomy: Taxonomy, now: datetime) -> None:
    complaint = submitted("سلام، لطفاً پیگیری کنید")
    decision = classify_and_decide(taxonomy, complaint, now)

    assert isinstance(decision, ComplaintTriageNeeded)
    assert decision.TYPE == "org.pasokh.complaint.triage-needed"
    assert decision.category == "other"
    assert decision.confidence == 0.0
    assert decision.department == taxonomy.triage_department == "triage"
    assert decision.due_at == now + timedelta(hours=taxonomy.category("other").sla_hours)


def test_hint_routes_a_complaint_without_keywords(taxonomy: Taxonomy, now: datetime) -> None:
    decision = classify_and_decide(
        taxonomy, submitted("لطفاً زودتر رسیدگی کنید", category_hint="lighting"), now
    )
    assert isinstance(decision, ComplaintRouted)
    assert decision.department == "lighting"


def test_low_confidence_goes_to_triage_but_keeps_the_guess(taxonomy: Taxonomy, now: datetime) -> None:
    decision = decide(
        submitted("..."),
        Classification("roads", THRESHOLD - 0.01, "test"),
        taxonomy=taxonomy,
        threshold=THRESHOLD,
        now=now,
    )
    assert isinstance(decision, ComplaintTriageNeeded)
    assert decision.department == "triage"
    assert decision.category == "roads"  # the triage operator sees the classifier's best guess


def test_confidence_exactly_at_the_threshold_is_routed(taxonomy: Taxonomy, now: datetime) -> None:
    decision = decide(
        submitted("..."),
        Classification("roads", THRESHOLD, "test"),
        taxonomy=taxonomy,
        threshold=THRESHOLD,
        now=now,
    )
    assert isinstance(decision, ComplaintRouted)
    assert decision.department == "civil-works"


def test_fallback_category_is_never_routed_even_when_certain(taxonomy: Taxonomy, now: datetime) -> None:
    decision = decide(
        submitted("..."),
        Classification("other", 1.0, "test"),
        taxonomy=taxonomy,
        threshold=THRESHOLD,
        now=now,
    )
    assert isinstance(decision, ComplaintTriageNeeded)


@pytest.mark.parametrize(("given", "expected"), [("en", "en"), ("fa", "fa"), (None, "fa")])
def test_language_of_the_decision(
    taxonomy: Taxonomy, now: datetime, given: str | None, expected: str
) -> None:
    decision = decide(
        submitted("...", language=given),
        Classification("roads", 1.0, "test"),
        taxonomy=taxonomy,
        threshold=THRESHOLD,
        now=now,
    )
    assert decision.language == expected
