"""`pasokh up` on its own: starts Kafka and the MongoDB-wire server itself, serves, stops clean."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import bson
import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.support.system import PasokhUp, pid_alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_up_starts_everything_and_stops_without_orphans(tmp_path: Path, sig: int) -> None:
    # SMS whatever the hour: quiet hours (22:00–07:00 Tehran) have tests of their own.
    up = PasokhUp(
        tmp_path, {"PASOKH_POLICY__QUIET_START": "00:00", "PASOKH_POLICY__QUIET_END": "00:00"}
    ).start()
    try:
        output = up.output()
        assert "kafka: 127.0.0.1:" in output and "mongo: mongodb://127.0.0.1:" in output
        assert (
            "topics: created pasokh.complaints.submitted, pasokh.complaints.events, pasokh.deadletter"
            in output
        )
        for service in ("intake", "router", "notifier"):
            assert up.url(service) in output
        # Kafka, the MongoDB-wire server (FerretDB and, under it, PostgreSQL) and the three services.
        servers = 3 if "(ferretdb-postgresql)" in output else 2
        assert len(up.child_pids) == servers + 3, up.child_pids

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
        # The log provider prints the SMS in the terminal of `pasokh up`, once the coalescing window
        # (20 s: the "received" SMS gives way to the routed one) has passed.
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and "SMS to +98912***0000" not in up.output():
            time.sleep(0.5)
        assert "SMS to +98912***0000" in up.output()
        assert up.output().count("SMS to +98912***0000") == 1
        # The citizen's number is nowhere in clear: not in any service's log, not in any stored document.
        assert "9120000000" not in up.output()
        uri = re.search(r"mongo: (mongodb://\S+)", output)
        assert uri is not None
        client: MongoClient[dict[str, Any]]
        with MongoClient(uri.group(1), serverSelectionTimeoutMS=5000) as client:
            database: Database[dict[str, Any]] = client["pasokh"]
            raw = [
                bson.encode(doc) for name in database.list_collection_names() for doc in database[name].find()
            ]
        assert raw and not [doc for doc in raw if b"9120000000" in doc]
    finally:
        code = up.stop(sig)

    assert code == 0, up.output()[-3000:]
    assert "stopped." in up.output()
    left = [pid for pid in up.child_pids if pid_alive(pid)]
    assert left == [], f"processes left behind: {left}"
