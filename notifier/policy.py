"""What is sent when: the templates each event calls for, quiet hours, segment budgets. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.messages import CATALOG
from notifier.settings import PolicySettings

PREFIX = "org.pasokh."


def citizen_templates(policy: PolicySettings, event_type: str) -> list[str]:
    """The SMS templates the citizen gets for an event of ``event_type`` (none for unknown types)."""
    return list(policy.citizen_templates.get(event_type.removeprefix(PREFIX), []))


def budget(policy: PolicySettings, template: str) -> int:
    """The most segments ``template`` may cost."""
    return policy.segment_budget.get(template, CATALOG[template].budget if template in CATALOG else 1)


def quiet_hours(policy: PolicySettings) -> bool:
    """False when quiet hours are switched off (start equal to end)."""
    return policy.quiet_start != policy.quiet_end


def is_quiet(policy: PolicySettings, at: datetime) -> bool:
    """Whether ``at`` falls in the quiet hours of the city's time zone."""
    if not quiet_hours(policy):
        return False
    local = at.astimezone(ZoneInfo(policy.timezone)).time()
    start, end = policy.quiet_start, policy.quiet_end
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight: 22:00–07:00


def allowed_at(policy: PolicySettings, at: datetime) -> datetime:
    """``at`` itself, or the end of the quiet hours it falls in (in UTC)."""
    if not is_quiet(policy, at):
        return at
    zone = ZoneInfo(policy.timezone)
    local = at.astimezone(zone)
    morning = datetime.combine(local.date(), policy.quiet_end, tzinfo=zone)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), policy.quiet_end, tzinfo=zone)
    return morning.astimezone(UTC)


def is_urgent(policy: PolicySettings, template: str, priority: str | None) -> bool:
    """Urgent SMS go at once, also at night: replies the citizen asked for, urgent complaints."""
    return template in policy.urgent_templates or (
        priority is not None and priority in policy.urgent_priorities
    )
