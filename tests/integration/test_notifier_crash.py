"""Exactly one SMS per (event, recipient, template) even when the notifier dies between writing the
record and the provider's answer: a real process running the handler is killed with SIGKILL while the
local SMS gateway holds its request, then started again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pasokh.infra.local import LocalInfra
from services import records
from services.contracts.envelope import new_event, to_kafka
from services.store import Store
from tests.factories import SEALER, routed, submitted

PHONE = "+989121234567"


class HangingGateway:
    """An idempotent SMS gateway (``http`` provider API) that can hold a request without answering.

    ``hang_before_accept``: the first request is held before it is accepted (the SMS did not go out);
    ``hang_after_accept``: the first request is accepted, then held (the SMS went out, the answer never
    came back). A repeat of an accepted id is answered 200 and not sent again, as Kavenegar's localid.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.posts: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.holding = threading.Event()
        self.release = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                sms = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                gateway.posts.append(sms)
                first = len(gateway.posts) == 1
                if first and gateway.mode == "hang_before_accept":
                    gateway.holding.set()
                    gateway.release.wait(60)
                    return  # the connection's process is dead by now
                gateway.accepted.setdefault(sms["id"], sms)
                if first and gateway.mode == "hang_after_accept":
                    gateway.holding.set()
                    gateway.release.wait(60)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(params=["hang_before_accept", "hang_after_accept"])
def gateway(request: pytest.FixtureRequest) -> Iterator[HangingGateway]:
    server = HangingGateway(request.param)
    yield server
    server.stop()


def _start(event_file: Path, env: dict[str, str], repo_root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.notify_once", str(event_file)],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_killed_between_record_and_send_then_restarted_sends_exactly_one_sms(
    store: Store,
    infra: LocalInfra,
    database: str,
    gateway: HangingGateway,
    tmp_path: Path,
    repo_root: Path,
) -> None:
    sub = submitted(phone=PHONE)
    await records.record_received(store, sub, event_id="e1")
    key, value = to_kafka(new_event(routed(sub), subject=sub.complaint_id, source="/pasokh/router"))
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({"key": key.decode(), "value": value.decode()}))
    env = {
        **os.environ,
        "PASOKH_MONGO__URI": infra.mongo_uri,
        "PASOKH_MONGO__DATABASE": database,
        "PASOKH_KAFKA__BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "PASOKH_SMS__PROVIDER": "http",
        "PASOKH_SMS__URL": gateway.url,
    }

    first = _start(event_file, env, repo_root)
    try:
        assert gateway.holding.wait(60), first.stderr.read() if first.stderr else ""
        [record] = await store.notifications.find({"complaint_id": sub.complaint_id}).to_list()
        assert record["state"] == "sending"  # written before the send
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stdout:
            first.stdout.close()
        if first.stderr:
            first.stderr.close()

    second = _start(event_file, env, repo_root)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert out.strip() == "sent"

    # The same SMS id both times: the gateway (like Kavenegar with localid) sends it once.
    assert len(gateway.posts) == 2 and gateway.posts[0]["id"] == gateway.posts[1]["id"]
    assert list(gateway.accepted) == [record["_id"]]
    assert gateway.accepted[record["_id"]]["to"] == PHONE
    [record] = await store.notifications.find({"complaint_id": sub.complaint_id}).to_list()
    assert (record["state"], record["attempts"]) == ("sent", 2)
    assert SEALER.open(record["phone_sealed"]) == PHONE  # kept sealed, never in clear
    assert PHONE not in json.dumps(record, default=str)
