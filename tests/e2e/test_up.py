"""`pasokh up` on its own: starts Kafka and the MongoDB-wire server itself, serves, stops clean."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.system import PasokhUp, pid_alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_up_starts_everything_and_stops_without_orphans(tmp_path: Path, sig: int) -> None:
    up = PasokhUp(tmp_path, {}).start()
    try:
        output = up.output()
        assert "kafka: 127.0.0.1:" in output and "mongo: mongodb://127.0.0.1:" in output
        assert (
            "topics: created pasokh.complaints.submitted, pasokh.complaints.events, pasokh.deadletter"
            in output
        )
        for service in ("intake", "router", "notifier"):
            assert up.url(service) in output
        # Kafka, the MongoDB-wire server and the three services.
        assert len(up.child_pids) == 5, up.child_pids

        accepted = httpx.post(
            f"{up.url('intake')}/v1/complaints",
            json={
                "text": "درخت بزرگ کوچه شکسته و شاخه‌هایش روی ماشین‌ها افتاده",
                "phone": "09120000000",
                "district": "2",
            },
            timeout=10,
        ).json()
        deadline = time.monotonic() + 30
        seen: dict[str, object] = {}
        while time.monotonic() < deadline and seen.get("status") != "routed":
            seen = httpx.get(f"{up.url('intake')}/v1/complaints/{accepted['tracking_code']}").json()
            time.sleep(0.2)
        assert seen["status"] == "routed" and seen["category"] == "green"
        # The log provider prints the SMS in the terminal of `pasokh up`.
        assert "SMS to +98912***0000" in up.output()
    finally:
        code = up.stop(sig)

    assert code == 0, up.output()[-3000:]
    assert "stopped." in up.output()
    left = [pid for pid in up.child_pids if pid_alive(pid)]
    assert left == [], f"processes left behind: {left}"
