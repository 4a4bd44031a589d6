"""intake's Prometheus metrics. Labels are bounded: route templates, methods, status codes."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.metrics import PREFIX

REQUESTS = Counter(f"{PREFIX}http_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    f"{PREFIX}http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Where a submission's time goes, for the on-call engineer and `pasokh bench intake`: waiting for a
# tracking code (the pool refills ahead of need, so normally ~0), Kafka's acknowledgement, and the
# group-committed ``received`` record.
SUBMIT_STEP = Histogram(
    f"{PREFIX}intake_submit_step_seconds",
    "Time a submission spent in each step before its 202",
    ["step"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
SUBMIT_STEPS = ("code", "publish", "record")
RECORDS_LATE = Counter(
    f"{PREFIX}intake_records_late",
    "Submissions answered before their received record was written (PASOKH_INTAKE__RECORD_WAIT_MS)",
)
SUBMITTED = Counter(f"{PREFIX}complaints_submitted", "Complaints accepted (2xx) by channel", ["channel"])
RATINGS = Counter(f"{PREFIX}survey_ratings", "Survey answers by the rating given (1 to 5)", ["rating"])


class MetricsMiddleware:
    """Counts and times every request by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
