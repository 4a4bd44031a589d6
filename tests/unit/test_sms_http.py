"""notifier.sms.http: the generic HTTP SMS provider, against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from notifier.sms import Sms, SmsOutcomeUnknown, SmsRejected, SmsUnavailable
from notifier.sms.http import HttpSms


@dataclass
class Provider:
    """What the fake provider received, and what it answers next."""

    url: str
    status: int = 200
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)  # the client's connections


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as providers speak

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.peers.add(self.client_address)
            state.paths.append(self.path)
            state.content_types.append(self.headers.get("Content-Type", ""))
            state.received.append(json.loads(body))
            if state.delay:
                time.sleep(state.delay)
            answer = b"" if state.status == 204 else b"{}"
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # a short poll interval so that shutdown() returns at once instead of after the default 0.5 s
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def gateway(provider: Provider) -> AsyncIterator[HttpSms]:
    sms = HttpSms(provider.url, timeout=2.0)
    try:
        yield sms
    finally:
        await sms.close()


def message(text: str = "پاسخ: درخواست شما با کد پیگیری ۱۲۳۴۵۶۷۸۹۷ ثبت شد.") -> Sms:
    return Sms(id=str(uuid.uuid4()), to="+98912" + str(uuid.uuid4().int)[:7], text=text)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_2xx_means_accepted_and_the_json_body_is_to_text_id(
    provider: Provider, gateway: HttpSms, status: int
) -> None:
    provider.status = status
    sms = message()
    await gateway.send(sms)
    assert provider.received == [{"to": sms.to, "text": sms.text, "id": sms.id}]
    assert provider.paths == ["/sms/send"]
    assert provider.content_types[0].startswith("application/json")


async def test_each_message_is_one_post(provider: Provider, gateway: HttpSms) -> None:
    sent = [message(f"text {i}") for i in range(3)]
    for sms in sent:
        await gateway.send(sms)
    assert [r["id"] for r in provider.received] == [s.id for s in sent]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
async def test_temporary_failures_are_unavailable(provider: Provider, gateway: HttpSms, status: int) -> None:
    provider.status = status
    with pytest.raises(SmsUnavailable, match=str(status)) as info:
        await gateway.send(message())
    assert info.value.retriable is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_refusals_are_rejected(provider: Provider, gateway: HttpSms, status: int) -> None:
    provider.status = status
    with pytest.raises(SmsRejected, match=str(status)) as info:
        await gateway.send(message())
    assert info.value.retriable is False


async def test_a_slow_provider_is_unavailable(provider: Provider) -> None:
    provider.delay = 0.5
    gateway = HttpSms(provider.url, timeout=0.1)
    try:
        with pytest.raises(SmsUnavailable):
            await gateway.send(message())
    finally:
        await gateway.close()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = HttpSms(f"http://127.0.0.1:{port}/sms", timeout=2.0)
    try:
        with pytest.raises(SmsUnavailable, match="unreachable"):
            await gateway.send(message())
    finally:
        await gateway.close()


async def test_a_connection_dropped_after_the_request_left_is_an_unknown_outcome() -> None:
    # The provider may have taken it: retried with the same id, never handed to another provider.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def drop_after_reading() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)

        thread = threading.Thread(target=drop_after_reading, daemon=True)
        thread.start()
        gateway = HttpSms(f"http://127.0.0.1:{port}/sms", timeout=2.0)
        try:
            with pytest.raises(SmsOutcomeUnknown, match="did not answer"):
                await gateway.send(message())
        finally:
            await gateway.close()
            thread.join(timeout=5)


async def test_messages_share_one_kept_alive_connection(provider: Provider, gateway: HttpSms) -> None:
    for i in range(5):
        await gateway.send(message(f"text {i}"))
    assert len(provider.received) == 5
    assert len(provider.peers) == 1
