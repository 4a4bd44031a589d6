"""Real local HTTP servers that speak Kavenegar's and SMS.ir's send APIs, for adapter tests.

Each keeps what it accepted (``sent``), can be told what to answer next (``script``: a list of
``(http status, api status)``), checks the credentials, the phone format and the sender line the way
the real service does, and (Kavenegar) drops a repeat of a ``localid`` it has seen, answering with the
earlier message as Kavenegar documents.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

Answer = tuple[int, dict[str, Any] | bytes]


class _Server:
    """A ThreadingHTTPServer on a free loopback port calling ``respond(path, headers, body)``."""

    def __init__(self, respond: Callable[[str, dict[str, str], bytes], Answer]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = respond(self.path, headers, body)
                raw = answer if isinstance(answer, bytes) else json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up is what some tests do on purpose

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Provider:
    """Serving a provider's API on a free port; the subclass answers each request in ``_respond``."""

    _server: _Server | None

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        raise NotImplementedError

    def start(self) -> Self:
        """Serve on a free port."""
        self._server = _Server(self._respond)
        return self

    @property
    def url(self) -> str:
        """The API base to configure (``PASOKH_SMS__KAVENEGAR__URL``, ``PASOKH_SMS__SMSIR__URL``)."""
        assert self._server is not None
        return self._server.base_url

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()


@dataclass
class Kavenegar(_Provider):
    """A local Kavenegar: ``POST /v1/{API-KEY}/sms/send.json`` with a form body."""

    api_key: str = "test-kavenegar-key"
    sender: str = "10004346"
    sent: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    script: list[tuple[int, int]] = field(default_factory=list)
    raw_answer: bytes | None = None  # answer 200 with this body instead (a proxy's page)
    blocked: set[str] = field(default_factory=set)
    delay: float = 0.0
    _by_localid: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(8792343))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.delay:
            threading.Event().wait(self.delay)
        with self._lock:
            self.requests += 1
            if self.raw_answer is not None:
                return 200, self.raw_answer
            if self.script:
                http_status, status = self.script.pop(0)
                return http_status, {
                    "return": {"status": status, "message": f"scripted {status}"},
                    "entries": None,
                }
            match = re.fullmatch(r"/v1/([^/]+)/sms/send\.json", path)
            if match is None:
                return 404, _kavenegar_error(404, "متد نامشخص است")
            if match.group(1) != self.api_key:
                return 403, _kavenegar_error(403, "کد شناسائی API-Key معتبر نمی‌باشد")
            form = dict(parse_qsl(body.decode()))
            if not form.get("receptor") or not form.get("message"):
                return 400, _kavenegar_error(400, "پارامترها ناقص هستند")
            if form.get("sender") != self.sender:
                return 412, _kavenegar_error(412, "ارسال کننده نامعتبر است")
            if not re.fullmatch(r"09\d{9}|00[1-9]\d{6,14}", form["receptor"]):
                return 411, _kavenegar_error(411, "دریافت کننده نامعتبر است")
            local = form.get("localid")
            if local and local in self._by_localid:
                return 200, _kavenegar_ok(self._by_localid[local])
            entry = {
                "messageid": next(self._ids),
                "message": form["message"],
                "status": 14 if form["receptor"] in self.blocked else 1,
                "statustext": "بلاک شده" if form["receptor"] in self.blocked else "در صف ارسال",
                "sender": form["sender"],
                "receptor": form["receptor"],
                "date": 1356619709,
                "cost": 120,
            }
            if local:
                self._by_localid[local] = entry
            if entry["status"] == 1:
                self.sent.append(form)
            return 200, _kavenegar_ok(entry)


def _kavenegar_ok(entry: dict[str, Any]) -> dict[str, Any]:
    return {"return": {"status": 200, "message": "تایید شد"}, "entries": [entry]}


def _kavenegar_error(status: int, message: str) -> dict[str, Any]:
    return {"return": {"status": status, "message": message}, "entries": None}


@dataclass
class SmsIr(_Provider):
    """A local SMS.ir: ``POST /v1/send/bulk`` with ``x-api-key`` and a JSON body."""

    api_key: str = "test-smsir-key"
    line_number: int = 30007732000000
    sent: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    script: list[tuple[int, int]] = field(default_factory=list)
    blacklisted: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(86522023))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            self.requests += 1
            if self.script:
                http_status, status = self.script.pop(0)
                return http_status, {"status": status, "message": f"scripted {status}", "data": None}
            if path != "/v1/send/bulk":
                return 404, {"status": 0, "message": "not found", "data": None}
            if headers.get("x-api-key") != self.api_key:
                return 401, {"status": 10, "message": "کلید وب سرویس نامعتبر است", "data": None}
            request = json.loads(body)
            if request.get("lineNumber") != self.line_number:
                return 400, {"status": 101, "message": "شماره خط نامعتبر میباشد", "data": None}
            if not request.get("messageText"):
                return 400, {"status": 103, "message": "درخواست شما دارای متن (های) خالی است", "data": None}
            mobiles = request.get("mobiles") or []
            if not mobiles or not all(re.fullmatch(r"09\d{9}", m) for m in mobiles):
                return 400, {
                    "status": 104,
                    "message": "درخواست شما دارای موبایل (های) نادرست است",
                    "data": None,
                }
            if any(m in self.blacklisted for m in mobiles):
                return 400, {
                    "status": 115,
                    "message": "شماره موبایل(ها) در لیست سیاه سامانه میباشند",
                    "data": None,
                }
            self.sent.append(request)
            ids = [next(self._ids) for _ in mobiles]
            return 200, {
                "status": 1,
                "message": "موفق",
                "data": {"packId": "pack-1", "messageIds": ids, "cost": 1.0},
            }
