"""notifier's Prometheus metrics (bounded labels: provider, outcome, template)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.metrics import FLOW_BUCKETS, PREFIX

SMS = Counter(f"{PREFIX}sms", "SMS by provider, template and outcome", ["provider", "template", "outcome"])
OVER_BUDGET = Counter(
    f"{PREFIX}sms_over_budget", "Rendered SMS longer than their segment budget", ["template"]
)
NOTICES = Counter(f"{PREFIX}department_notices", "Department webhook notices by outcome", ["outcome"])
DECIDED_TO_SMS = Histogram(
    f"{PREFIX}decided_to_sms_seconds",
    "From the router's decision event (routed or triage) to its first SMS accepted by the provider",
    ["template"],
    buckets=FLOW_BUCKETS,
)
MAIL = Counter(f"{PREFIX}department_mail", "Department e-mail notices by outcome", ["outcome"])
