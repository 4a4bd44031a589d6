"""router.routing and router.decisions: ordered rules by category, district and time; emergencies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from router.classifier import Classification
from router.decisions import decide
from router.routing import RoutingTable
from router.settings import SlaOptions
from router.sla import SlaPolicy
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded
from services.rules import Rule
from services.taxonomy import Department, load_taxonomy
from services.worktime import TEHRAN

TAXONOMY = load_taxonomy()
# Saturday 28 November 2026, 10:00 and 23:30 in Tehran.
SAT_MORNING = datetime(2026, 11, 28, 10, tzinfo=TEHRAN)
SAT_NIGHT = datetime(2026, 11, 28, 23, 30, tzinfo=TEHRAN)


def table(*rules: Rule, departments: dict[str, Department] | None = None) -> RoutingTable:
    extra = {"night-crew": Department(code="night-crew", fa="گروه شب", en="Night crew")}
    return RoutingTable(TAXONOMY, rules_=list(rules), departments={**TAXONOMY.departments, **extra})


def test_without_rules_each_category_goes_to_its_default_department() -> None:
    routing = table()
    for code, category in TAXONOMY.categories.items():
        assert routing.department(code, district=None, at=SAT_MORNING) == category.department


def test_the_first_matching_rule_wins() -> None:
    routing = table(
        Rule(id="d3-lights", order=10, category="lighting", district="3", department="urban-services"),
        Rule(id="all-lights", order=20, category="lighting", department="crisis"),
    )
    assert routing.department("lighting", district="3", at=SAT_MORNING) == "urban-services"
    assert routing.department("lighting", district="4", at=SAT_MORNING) == "crisis"
    assert routing.department("waste", district="3", at=SAT_MORNING) == "waste"


def test_a_time_window_over_midnight_and_days() -> None:
    night = Rule(id="night", category="drainage", start=time(22), end=time(6), department="night-crew")
    friday = Rule(id="friday", days=("fri",), department="crisis")
    routing = table(night, friday)
    assert routing.department("drainage", district=None, at=SAT_NIGHT) == "night-crew"
    assert routing.department("drainage", district=None, at=SAT_MORNING) == "urban-services"
    friday_noon = datetime(2026, 11, 27, 12, tzinfo=TEHRAN)
    assert routing.department("roads", district=None, at=friday_noon) == "crisis"
    # The rule reads Tehran time whatever zone the time comes in.
    assert routing.department("drainage", district=None, at=SAT_NIGHT.astimezone(UTC)) == "night-crew"


def test_a_rule_naming_an_unknown_department_is_skipped() -> None:
    routing = table(Rule(id="gone", category="roads", department="no-such-unit"))
    assert routing.department("roads", district=None, at=SAT_MORNING) == "civil-works"


@dataclass(frozen=True)
class Flagged:
    """A classification with the fields the trained classifier adds (forced priority, emergency)."""

    category: str
    confidence: float
    classifier: str
    priority: str | None = None
    emergency: bool = False


def submitted(**extra: Any) -> ComplaintSubmitted:
    fields: dict[str, Any] = {
        "complaint_id": str(uuid.uuid4()),
        "tracking_code": "1234567890",
        "text": "x",
        "channel": "web",
        "submitted_at": SAT_MORNING,
    }
    fields.update(extra)
    return ComplaintSubmitted(**fields)


def run(classification: Any, routing: RoutingTable | None = None, district: str | None = None) -> Any:
    return decide(
        submitted(),
        classification,
        taxonomy=TAXONOMY,
        threshold=0.6,
        now=SAT_MORNING,
        routing=routing,
        district=district,
        sla=SlaPolicy.from_options(SlaOptions()),
    )


def test_an_emergency_is_urgent_and_goes_to_the_emergency_department_whatever_its_category() -> None:
    decision = run(Flagged("roads", 0.3, "test", emergency=True))
    assert isinstance(decision, ComplaintRouted)
    assert (decision.category, decision.department, decision.priority) == ("roads", "fire-safety", "urgent")
    # Urgent: around the clock, at most 4 hours (the emergency category's own 2 hours here).
    assert decision.due_at == SAT_MORNING + timedelta(hours=2)


def test_an_emergency_follows_the_districts_emergency_rule() -> None:
    routing = table(Rule(id="d5-fire", category="emergency", district="5", department="crisis"))
    assert run(Flagged("waste", 0.9, "t", emergency=True), routing, district="5").department == "crisis"


def test_a_forced_priority_overrides_the_default() -> None:
    decision = run(Flagged("green", 0.9, "test", priority="high"))
    assert decision.priority == "high"
    plain = run(Classification("green", 0.9, "test"))
    assert plain.priority == "normal" and plain.due_at > decision.due_at


def test_routing_rules_apply_to_confident_decisions_only() -> None:
    routing = table(Rule(id="d3", district="3", department="crisis"))
    assert run(Classification("waste", 0.9, "t"), routing, district="3").department == "crisis"
    unsure = run(Classification("waste", 0.2, "t"), routing, district="3")
    assert isinstance(unsure, ComplaintTriageNeeded) and unsure.department == "triage"


def test_due_time_is_in_working_time() -> None:
    # lighting: 48 working hours from Saturday 10:00 with 8-hour days and a half Thursday
    # → Sat 6 h, Sun–Wed 32 h, Thu 4 h, next Sat 6 h = 48 h: next Saturday 14:00.
    decision = run(Classification("lighting", 0.9, "t"))
    assert decision.due_at == datetime(2026, 12, 5, 14, tzinfo=TEHRAN)


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        Rule(id="bad id", department="x")
    with pytest.raises(ValueError):
        Rule(id="x", department="x", days=())
    with pytest.raises(ValueError):
        Rule(id="x", department="x", days=("someday",))  # type: ignore[arg-type]
