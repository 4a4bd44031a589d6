"""notifier's Prometheus metrics (bounded labels: provider, outcome, template)."""

from __future__ import annotations

from prometheus_client import Counter

from services.metrics import PREFIX

SMS = Counter(f"{PREFIX}sms", "SMS by provider, template and outcome", ["provider", "template", "outcome"])
