"""The benchmarks read services' /metrics pages: counters by MongoDB command, intake's step histogram."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from pasokh.bench import scrape
from pasokh.bench.intake import step_figures, submit_steps

REGISTRY = CollectorRegistry()
COMMANDS = Counter("pasokh_mongo_commands", "commands", ["command"], registry=REGISTRY)
STEPS = Histogram(
    "pasokh_intake_submit_step_seconds", "steps", ["step"], buckets=(0.01, 0.025, 0.05), registry=REGISTRY
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(REGISTRY)
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_counters_by_command_and_nothing_for_an_absent_family(url: str) -> None:
    COMMANDS.labels("find").inc(3)
    COMMANDS.labels("update").inc()

    found = scrape.families(url)

    assert scrape.by_command(found, "pasokh_mongo_commands") == {"find": 3.0, "update": 1.0}
    assert scrape.by_command(found, "pasokh_mongo_documents") == {}


def test_step_means_and_slow_submissions_between_two_readings(url: str) -> None:
    before = submit_steps(url)
    for seconds in (0.002, 0.004, 0.03):
        STEPS.labels("record").observe(seconds)
    STEPS.labels("publish").observe(0.001)

    figures = step_figures(before, submit_steps(url))

    assert figures["record"] == {"mean_ms": 12.0, "over_25ms": 1}
    assert figures["publish"] == {"mean_ms": 1.0, "over_25ms": 0}
