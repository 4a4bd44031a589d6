"""notifier.policy: which templates an event calls for, quiet hours in Tehran, urgency."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from click.testing import CliRunner

from notifier.policy import allowed_at, citizen_templates, is_quiet, is_urgent
from notifier.settings import PolicySettings
from pasokh.cli import main

POLICY = PolicySettings()


def test_default_templates_per_event_type() -> None:
    assert citizen_templates(POLICY, "org.pasokh.complaint.submitted") == ["received"]
    assert citizen_templates(POLICY, "org.pasokh.complaint.resolved") == ["resolved"]
    # Escalations are for the department head or supervisor, never the citizen.
    assert citizen_templates(POLICY, "org.pasokh.complaint.escalated") == []
    assert citizen_templates(POLICY, "org.pasokh.complaint.sla-warning") == []


def test_templates_are_configurable_per_event_type() -> None:
    policy = PolicySettings(citizen_templates={"complaint.acknowledged": []})
    assert citizen_templates(policy, "org.pasokh.complaint.acknowledged") == []
    assert citizen_templates(policy, "org.pasokh.complaint.submitted") == []


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        ("2026-11-26T18:29:00", False),  # 21:59 in Tehran
        ("2026-11-26T18:30:00", True),  # 22:00
        ("2026-11-26T23:00:00", True),  # 02:30
        ("2026-11-27T03:29:00", True),  # 06:59
        ("2026-11-27T03:30:00", False),  # 07:00
    ],
)
def test_quiet_hours_are_22_to_7_in_tehran(utc: str, quiet: bool) -> None:
    at = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert is_quiet(POLICY, at) is quiet


def test_a_night_sms_waits_for_seven_in_the_morning() -> None:
    night = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
    assert allowed_at(POLICY, night) == datetime(2026, 11, 27, 3, 30, tzinfo=UTC)
    early = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 04:30 the next day
    assert allowed_at(POLICY, early) == datetime(2026, 11, 27, 3, 30, tzinfo=UTC)
    day = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert allowed_at(POLICY, day) == day


def test_equal_start_and_end_switch_quiet_hours_off() -> None:
    policy = PolicySettings(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert not is_quiet(policy, datetime(2026, 11, 26, 23, 0, tzinfo=UTC))


def test_urgent_means_a_reply_or_an_urgent_complaint() -> None:
    assert is_urgent(POLICY, "status", None)
    assert is_urgent(POLICY, "routed", "urgent")
    assert not is_urgent(POLICY, "routed", "high")


def test_sms_preview_prints_every_template_with_its_segments() -> None:
    result = CliRunner().invoke(main, ["sms", "preview", "--language", "fa"])
    assert result.exit_code == 0, result.output
    assert "== survey [fa] 1/1 segments" in result.output
    assert "۱۴۰۵/۰۹/۰۵" in result.output


def test_sms_preview_fails_when_a_template_exceeds_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASOKH_POLICY__SEGMENT_BUDGET", '{"routed": 1}')
    result = CliRunner().invoke(main, ["sms", "preview"])
    assert result.exit_code == 1
    assert "== routed [fa] 2/1 segments" in result.output and "OVER BUDGET" in result.output


def test_a_policy_naming_an_unknown_template_or_zone_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="unknown SMS templates"):
        PolicySettings(citizen_templates={"complaint.routed": ["routd"]})
    with pytest.raises(ValueError):
        PolicySettings(timezone="Asia/Tehrn")
