"""What a Prometheus label of Pasokh may be: its name on an allow-list, its value bounded and impersonal."""

from __future__ import annotations

import re

# Label name → why its values are bounded. Nothing here may carry an id, a phone number or text.
ALLOWED_LABELS = {
    "route": "route templates of intake (never raw paths)",
    "method": "HTTP methods",
    "status": "HTTP status codes, or a complaint's decision (routed, triage)",
    "channel": "the fixed submission channels",
    "category": "category codes of the taxonomy",
    "department": "department codes of the taxonomy",
    "action": "staff actions and SMS command outcomes",
    "outcome": "fixed outcome words",
    "provider": "configured SMS provider names",
    "template": "SMS template names",
    "kind": "fixed kinds (dead letters: invalid, failed; SMS webhooks)",
    "service": "the three service names",
    "topic": "the Kafka topics of services.contracts.topics",
    "group": "the consumer groups (one per service)",
    "partition": "partition numbers, at most the partition count",
    "rating": "survey ratings 1 to 5",
    "step": "the fixed steps of a submission (intake.metrics.SUBMIT_STEPS)",
    "command": "MongoDB command names of a fixed set, else 'other' (services/mongo_metrics.py)",
}
# Labels that Prometheus' own client sets (histogram buckets, python_info, ...).
CLIENT_LABELS = {"le", "generation", "implementation", "major", "minor", "patchlevel", "version"}

_SHAPE = re.compile(r"[A-Za-z0-9_./{}:+-]{1,64}")
_ID_LIKE = re.compile(r"[0-9a-fA-F]{8}-|[0-9a-fA-F]{12,}|[0-9]{5,}")


def why_not(name: str, value: str) -> str | None:
    """Why the label ``name=value`` must not be exposed, or None if it may."""
    if name not in ALLOWED_LABELS and name not in CLIENT_LABELS:
        return f"label {name!r} is not on the allow-list"
    if name in CLIENT_LABELS:
        return None
    if not _SHAPE.fullmatch(value):
        return f"{name}={value!r} looks like free text (spaces, non-ASCII or long)"
    if _ID_LIKE.search(value):
        return f"{name}={value!r} looks like an id, a phone number or a tracking code"
    return None
