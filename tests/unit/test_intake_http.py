"""intake's HTTP edge without Kafka or MongoDB: what it refuses, and how it says so (fa + en)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.settings import IntakeSettings
from intake.tracking import luhn_digit, new_code
from services.bus import InMemoryPublisher

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture(scope="module")
def client(publisher: InMemoryPublisher) -> Iterator[TestClient]:
    # Unreachable servers on purpose: the client is never entered as a context manager, so the
    # lifespan (Kafka producer, MongoDB indexes) never runs and every request below must be answered
    # without them.
    settings = IntakeSettings(
        mongo={"uri": "mongodb://127.0.0.1:1/"},
        kafka={"bootstrap_servers": "127.0.0.1:1"},
        # Dozens of requests from one client: the per-IP limits are tested in tests/integration.
        intake={
            "max_body_bytes": MAX_BODY,
            "rate_limits": {"submit_burst": 10_000, "ip_burst": 10_000},
        },
    )
    client = TestClient(create_app(bootstrap(settings, publisher=publisher)))
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _nothing_published(publisher: InMemoryPublisher) -> Iterator[None]:
    before = len(publisher.sent)
    yield
    assert len(publisher.sent) == before, "a refused request must not publish anything"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert set(error["message"]) == {"fa", "en"}
    assert error["message"]["fa"].strip() and error["message"]["en"].strip()
    assert any("\u0600" <= ch <= "\u06ff" for ch in error["message"]["fa"])
    result: dict[str, Any] = error
    return result


VALID = {"text": "چراغ‌های کوچه ما سه شب است خاموش است", "phone": "09121234567", "channel": "web"}


def with_(**changes: Any) -> dict[str, Any]:
    body = {**VALID, **changes}
    return {k: v for k, v in body.items() if v is not ...}


INVALID_BODIES = [
    pytest.param(with_(text=""), "text", id="empty text"),
    pytest.param(with_(text=...), "text", id="no text"),
    pytest.param(with_(text="   \n\t "), "text", id="only whitespace"),
    pytest.param(with_(text="\u200c \u200c\u200c "), "text", id="only whitespace and zwnj"),
    pytest.param(with_(text="\u200f\u200e\u0640"), "text", id="only invisible marks and tatweel"),
    pytest.param(with_(text="ب" * 4001), "text", id="text over 4000 chars"),
    pytest.param(with_(text=12345), "text", id="text not a string"),
    pytest.param(with_(nickname="ali"), "nickname", id="unknown field"),
    pytest.param(with_(phone="02112345678"), "phone", id="landline phone"),
    pytest.param(with_(phone="0912123"), "phone", id="short phone"),
    pytest.param(with_(phone="not a phone"), "phone", id="letters as phone"),
    pytest.param(with_(location={"lat": 91, "lon": 51.4}), "location.lat", id="lat over 90"),
    pytest.param(with_(location={"lat": -90.5, "lon": 51.4}), "location.lat", id="lat under -90"),
    pytest.param(with_(location={"lat": 35.7, "lon": 181}), "location.lon", id="lon over 180"),
    pytest.param(with_(location={"lat": 35.7}), "location.lon", id="location without lon"),
    pytest.param(with_(location={"lat": 35.7, "lon": 51.4, "alt": 3}), "location.alt", id="location extra"),
    pytest.param(
        with_(media_urls=[f"https://cdn.example.org/{i}.jpg" for i in range(6)]),
        "media_urls",
        id="6 media urls",
    ),
    pytest.param(with_(media_urls=["ftp://example.org/a.jpg"]), "media_urls.0", id="ftp media url"),
    pytest.param(with_(media_urls=["javascript:alert(1)"]), "media_urls.0", id="javascript media url"),
    pytest.param(with_(media_urls=["not a url"]), "media_urls.0", id="not a url"),
    pytest.param(with_(channel="fax"), "channel", id="wrong channel"),
    pytest.param(with_(language="de"), "language", id="wrong language"),
    pytest.param(with_(address="x" * 501), "address", id="address too long"),
]


@pytest.mark.parametrize(("body", "field"), INVALID_BODIES)
def test_invalid_bodies_get_422_with_the_field_named(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    error = assert_error(client.post("/v1/complaints", json=body), 422, "invalid_request")
    assert field in [d["field"] for d in error["details"]], error["details"]
    assert all(d["problem"] for d in error["details"])


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[]", b'"text"', '{"text": "چراغ"'.encode()],
    ids=["empty", "broken json", "array", "string", "truncated"],
)
def test_a_body_that_is_not_a_json_object_gets_422(client: TestClient, content: bytes) -> None:
    response = client.post("/v1/complaints", content=content, headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_unknown_category_hint_gets_422_unknown_category(client: TestClient) -> None:
    assert_error(client.post("/v1/complaints", json=with_(category="potholes")), 422, "unknown_category")


def test_a_body_over_the_limit_gets_413(client: TestClient) -> None:
    body = json.dumps(with_(text="ب" * MAX_BODY)).encode()
    response = client.post("/v1/complaints", content=body, headers={"content-type": "application/json"})
    assert_error(response, 413, "body_too_large")


def test_a_streamed_body_over_the_limit_gets_413(client: TestClient) -> None:
    # No Content-Length (chunked transfer, as from a proxy or a streaming client): the limit still holds.
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"a" * 4096
        yield b'"}'

    response = client.post("/v1/complaints", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "body_too_large")


@pytest.mark.parametrize(
    "code",
    [
        "123",
        "abcdefghij",
        "12345678901",
        "۱۲۳",
        "0000000000x",
        "%20",
    ],
)
def test_a_malformed_tracking_code_is_not_found(client: TestClient, code: str) -> None:
    assert_error(client.get(f"/v1/complaints/{code}"), 404, "not_found")


def test_a_tracking_code_with_a_wrong_check_digit_is_not_found(client: TestClient) -> None:
    # a typo is answered without looking anything up (there is no database here to look in)
    code = new_code()
    typo = code[:-1] + str((int(luhn_digit(code[:-1])) + 1) % 10)
    assert_error(client.get(f"/v1/complaints/{typo}"), 404, "not_found")


def test_an_unknown_path_gets_the_json_404(client: TestClient) -> None:
    assert_error(client.get("/v1/no-such-thing"), 404, "not_found")


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_lists_the_public_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/v1/complaints"]
    assert "get" in paths["/v1/complaints/{tracking_code}"]
    post = paths["/v1/complaints"]["post"]
    assert "202" in post["responses"] and "422" in post["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post.get("parameters", []))


def test_a_body_that_is_not_utf8_gets_the_documented_400(client: TestClient) -> None:
    # Found by the API fuzz run: FastAPI answers 400 (not 422) here, and /openapi.json did not say so.
    response = client.post(
        "/v1/complaints", content=b'{"text": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "http_400")
    paths = client.get("/openapi.json").json()["paths"]
    assert "400" in paths["/v1/complaints"]["post"]["responses"]
    assert "400" in paths["/v1/complaints/{complaint_id}/comment"]["post"]["responses"]


def test_openapi_documents_the_media_types_actually_served(client: TestClient) -> None:
    # Found by the API fuzz run: Open311 answers XML too, and event schemas are application/schema+json.
    paths = client.get("/openapi.json").json()["paths"]
    open311 = [op for path, ops in paths.items() if path.startswith("/open311/") for op in ops.values()]
    assert len(open311) == 9
    for operation in open311:
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/xml"}
        assert "404" in operation["responses"], "an unknown format is 404 in the spec's error format"
    schema = paths["/v1/schemas/{name}"]["get"]["responses"]
    assert set(schema["200"]["content"]) == {"application/schema+json"}
    assert set(schema["404"]["content"]) == {"application/json"}


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_idempotency_key_is_refused(client: TestClient, key: str) -> None:
    body = {"text": "چراغ کوچه خاموش است", "district": "3"}
    response = client.post("/v1/complaints", json=body, headers={"Idempotency-Key": key})
    error = assert_error(response, 422, "invalid_request")
    assert error["details"][0]["field"] == "header.Idempotency-Key"


def _open311_errors(response: Any, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        assert response.headers["content-type"].startswith("application/json")
        errors: list[dict[str, Any]] = response.json()
        return errors
    assert response.headers["content-type"].startswith(("application/xml", "text/xml"))
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    return [{"code": int(e.findtext("code") or 0), "description": e.findtext("description")} for e in root]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_refusals_before_any_handler_take_open311_s_error_form_on_its_paths(
    client: TestClient, fmt: str
) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    too_big = client.post(f"/open311/v2/requests.{fmt}", content=b"a" * (MAX_BODY + 1), headers=form)
    nul = client.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id": "a\x00b"})
    for response, code in ((too_big, 413), (nul, 400)):
        assert response.status_code == 400, response.text
        (error,) = _open311_errors(response, fmt)
        assert error["code"] == code and error["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_per_client_rate_limit_answers_open311_s_error_form_on_its_paths(fmt: str) -> None:
    settings = IntakeSettings(
        mongo={"uri": "mongodb://127.0.0.1:1/"},
        kafka={"bootstrap_servers": "127.0.0.1:1"},
        intake={"rate_limits": {"ip_burst": 1, "ip_per_minute": 1}},
    )
    limited = TestClient(create_app(bootstrap(settings, publisher=InMemoryPublisher())))  # no lifespan
    limited.get(f"/open311/v2/services.{fmt}")
    refused = limited.get(f"/open311/v2/services.{fmt}")
    limited.close()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    (error,) = _open311_errors(refused, fmt)
    assert error["code"] == 429
