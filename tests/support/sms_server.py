"""A real local HTTP server that speaks the ``http`` SMS provider's API and records what it gets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SmsCapture:
    """Accepts ``POST {"to", "text", "id"}``; can answer 503 to the first ``fail_next`` requests."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with capture._lock:
                    if capture.fail_next > 0:
                        capture.fail_next -= 1
                        status = 503
                    else:
                        capture.received.append(json.loads(body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "busy"}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the notifier should post."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/sms"

    def start(self) -> SmsCapture:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def for_text(self, needle: str) -> list[dict[str, Any]]:
        """Every SMS whose text contains ``needle``."""
        with self._lock:
            return [m for m in self.received if needle in m["text"]]

    def wait_for(self, needle: str, *, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until ``count`` SMS contain ``needle``; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.for_text(needle)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no SMS containing {needle!r} within {timeout}s; got {self.received}")
