"""Prometheus helpers: one registry per process (with process metrics), names prefixed ``pasokh_``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

PREFIX = "pasokh_"


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus' text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
