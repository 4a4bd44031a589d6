"""Hostile input on every route of intake's live route table: a 4xx with a clear error, never a 5xx.

Each route is called as an administrator (so the input, not the missing key, is what gets judged), the
SMS webhooks with a valid signature. Bodies: invalid UTF-8, NUL bytes, only RTL and zero-width marks,
an emoji flood, numbers too large for a float or for Python's int parser, JSON nested 100,000 deep,
binary junk; in JSON and form encoding. Query strings: NUL, invalid percent-encoding, huge numbers,
10,000-character values. A route added later is walked too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from intake import auth
from intake.app import create_app
from intake.bootstrap import Intake
from intake.sms_webhooks import sign
from tests.integration.test_auth_walk import SIGNED, walk

IntakeApp = tuple[httpx.AsyncClient, Intake]
SECRET = "sms-webhook-secret-for-the-abuse-walk"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_BODIES: dict[str, tuple[str, bytes]] = {
    "invalid UTF-8": (JSON, b'{"text": "\xff\xfe\xfd chiragh", "channel": "web", "district": "1"}'),
    "NUL in strings": (
        JSON,
        json.dumps({"text": "a\u0000b" * 10, "channel": "web", "district": "\u0000"}).encode(),
    ),
    "only RTL and zero-width marks": (
        JSON,
        json.dumps(
            {"text": "\u200f\u200b\u202e\u2066\u200c" * 50, "channel": "web", "district": "1"}
        ).encode(),
    ),
    "emoji flood": (
        JSON,
        json.dumps({"text": "😀👨‍👩‍👧‍👦🇮🇷" * 3000, "channel": "web", "district": "1"}).encode(),
    ),
    "float overflow": (JSON, b'{"text": "x", "location": {"lat": 1e999, "lon": -1e999}, "district": "1"}'),
    "int beyond the parser's digit limit": (JSON, b'{"text": "x", "rating": 1' + b"0" * 5000 + b"}"),
    "JSON nested 100,000 deep": (JSON, DEEP),
    "binary junk": (JSON, bytes(range(256)) * 4),
    "form with invalid UTF-8 and NUL": (FORM, b"text=%FF%FE%00&api_key=%00&service_code=\xff&lat=1e999"),
    "form deep and long": (FORM, b"attribute" + b"[a]" * 20_000 + b"=1&" + b"x=" + b"9" * 50_000),
}
HOSTILE_QUERIES = (
    "?q=%00&status=%00",
    "?lat=1e999&long=-1e999&page=1" + "0" * 5000,
    "?service_request_id=%FF%FE&start_date=" + "9" * 10_000,
    "?" + "&".join(f"k{i}=v" for i in range(2000)),
)


def _headers(path: str, content_type: str | None, body: bytes, admin: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {admin}"}
    if content_type:
        headers["Content-Type"] = content_type
    if path.startswith(SIGNED):
        timestamp = str(int(time.time()))
        headers |= {
            "x-pasokh-timestamp": timestamp,
            "x-pasokh-signature": "sha256=" + sign(SECRET, timestamp, body),
        }
    return headers


def _calls(app: FastAPI) -> Iterator[tuple[str, str, str, str | None, bytes]]:
    for method, _path, url in walk(app):
        if method in ("POST", "PUT", "PATCH"):
            for name, (content_type, body) in HOSTILE_BODIES.items():
                yield f"{method} {url} [{name}]", method, url, content_type, body
        for query in HOSTILE_QUERIES:
            yield f"{method} {url} [query {query[:24]}…]", method, url + query, None, b""


@pytest.fixture
def service(intake_app: IntakeApp) -> Intake:
    _, intake = intake_app
    intake.settings.intake.sms_webhook_secret = SecretStr(SECRET)
    return intake


async def test_hostile_input_on_every_route_is_a_clear_4xx_never_a_5xx(service: Intake) -> None:
    app = create_app(service)
    admin, _ = await auth.create_key(service.store, name="abuse walk", scopes=("admin",), role="admin")
    problems: list[str] = []
    calls = 0
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://intake.test", timeout=60) as client:
        for label, method, url, content_type, body in _calls(app):
            calls += 1
            path = url.split("?", 1)[0]
            response = await client.request(
                method, url, content=body or None, headers=_headers(path, content_type, body, admin)
            )
            if response.status_code >= 500:
                problems.append(f"{label}: {response.status_code} {response.text[:200]}")
            elif response.status_code >= 400 and response.headers.get("content-type", "").startswith(JSON):
                if (
                    not response.content
                    or "error" not in response.text
                    and "description" not in response.text
                ):
                    problems.append(
                        f"{label}: {response.status_code} without an error body: {response.text[:200]}"
                    )

    assert calls > 200
    assert problems == []
