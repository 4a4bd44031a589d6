"""Who may call what, walked from intake's live route table on the real Kafka and MongoDB.

Every (method, path) the app serves is called without credentials: it is either listed in PUBLIC with
the reason, or it refuses (401; 403 where GeoReport v2 mandates it; 401 for the SMS provider's signed
webhooks). A route added later is walked too, so it fails here until it refuses anonymous calls or is
listed. Each route that takes an API key also refuses (403) a valid key without the scope it needs.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr
from starlette.routing import Route

from intake import auth, tracking
from intake.app import create_app
from intake.bootstrap import Intake

IntakeApp = tuple[httpx.AsyncClient, Intake]
Call = tuple[str, str, str]  # (method, route path as declared, URL called)

_CONTRACT = "a published contract: the API's own documentation"
_GEOREPORT = "public per GeoReport v2: anyone may read services and requests (public fields only)"
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", "/v1/complaints"): "citizens' form and apps submit without a key (limited per client IP)",
    ("GET", "/v1/complaints/{tracking_code}"): "citizen status by tracking code; no personal data",
    ("GET", "/healthz"): "operations: liveness probe",
    ("GET", "/readyz"): "operations: readiness probe",
    ("GET", "/metrics"): "operations: Prometheus scrape",
    ("GET", "/openapi.json"): _CONTRACT,
    ("GET", "/docs"): _CONTRACT,
    ("GET", "/docs/oauth2-redirect"): _CONTRACT,
    ("GET", "/redoc"): _CONTRACT,
    ("GET", "/asyncapi.json"): "a published contract: the events on Kafka",
    ("GET", "/v1/schemas"): "a published contract: the event schemas",
    ("GET", "/v1/schemas/{name}"): "a published contract: the event schemas",
    ("GET", "/open311/v2/discovery.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/services.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/services/{service_code}.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/requests.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): _GEOREPORT,
    ("GET", "/open311/v2/servicerequestupdates.{fmt}"): _GEOREPORT + " (mySociety's extension)",
    ("GET", "/open311/v2/{path:path}"): "serves nothing: 404 in the spec's error format to everyone",
    ("POST", "/open311/v2/{path:path}"): "serves nothing: 404 in the spec's error format to everyone",
    # The web pages (docs/web.md): the citizen's form and status page, transparency, the console's sign-in.
    ("GET", "/"): "citizens' complaint form",
    ("POST", "/complaints/new"): "citizens' form posts here, as to POST /v1/complaints (limited per IP)",
    ("GET", "/track"): "citizen status by tracking code: the form asking for it",
    ("GET", "/track/{code}"): "citizen status by tracking code; no personal data",
    ("POST", "/track/{code}/survey"): "the survey's answer, for a resolved complaint's tracking code",
    ("GET", "/transparency"): "public statistics",
    ("GET", "/open-data/stats.json"): "public statistics as open data",
    ("GET", "/open-data/stats.csv"): "public statistics as open data",
    ("GET", "/console/login"): "staff sign-in form",
    ("POST", "/console/login"): "staff sign-in (CSRF token, argon2 password check)",
    ("POST", "/console/logout"): "signing out needs no session",
}
CONSOLE = "/console"  # the staff console: session cookies, not API keys; anonymous calls go to sign-in
SIGN_IN = "/console/login"
STATIC = "/static"  # the pages' CSS, fonts and script
# The scopes that open each route taking an API key ("admin" opens every one).
GRANTS: dict[tuple[str, str], frozenset[str]] = {
    **{
        ("POST", f"/v1/complaints/{{complaint_id}}/{action}"): frozenset({"staff"})
        for action in ("acknowledge", "comment", "reassign", "resolve", "reject", "reopen", "unlink")
    },
    ("GET", "/v1/partner/complaints/{complaint_id}"): frozenset({"complaints:read"}),
    # The city's routing configuration: only an admin key opens these.
    **{
        call: frozenset()
        for call in (
            ("GET", "/v1/admin/routing"),
            ("PUT", "/v1/admin/routing/rules/{rule_id}"),
            ("DELETE", "/v1/admin/routing/rules/{rule_id}"),
            ("PUT", "/v1/admin/departments/{code}"),
            ("DELETE", "/v1/admin/departments/{code}"),
            ("GET", "/v1/admin/districts"),
            ("PUT", "/v1/admin/districts"),
        )
    },
    ("POST", "/v1/events"): frozenset({"complaints:write", "events:write"}),
    ("POST", "/open311/v2/requests.{fmt}"): frozenset({"complaints:write"}),
    ("POST", "/open311/v2/servicerequestupdates.{fmt}"): frozenset({"events:write", "staff"}),
}
SIGNED = "/v1/sms/"  # provider webhooks: a signature with the webhook secret, not an API key
# Plausible values of every path parameter the app has; Open311 resources are walked in both formats.
SAMPLES: dict[str, tuple[str, ...]] = {
    "tracking_code": (tracking.new_code(),),
    "complaint_id": (str(uuid.uuid4()),),
    "name": ("org.pasokh.complaint.routed.v1.json",),
    "service_code": ("lighting",),
    "service_request_id": (tracking.new_code(),),
    "token": (str(uuid.uuid4()),),
    "path": ("nowhere.json",),
    "fmt": ("json", "xml"),
    "code": (tracking.new_code(),),
    "action": ("acknowledge", "resolve"),
    "rule_id": ("night-lights",),
    "username": ("sara",),
    "change": ("disable", "enable", "password"),
    "key_id": ("0123456789ab",),
}


def refusals(path: str) -> set[int]:
    """What an anonymous call to a non-public ``path`` must be answered with."""
    if path.startswith("/open311/"):
        return {403}  # GeoReport v2: "403 Forbidden" for a missing or invalid api_key
    if path.startswith(CONSOLE):
        return {303}  # to the sign-in page (checked in unrefused)
    return {401}  # native API (Bearer/X-API-Key) and signed webhooks (no or bad signature)


def walk(app: FastAPI) -> Iterator[Call]:
    """Every (method, route, URL) of the live route table, path parameters filled in."""
    for route in iter_route_contexts(app.routes):
        if route.path == STATIC:
            continue
        assert isinstance(route.original_route, Route), f"the walk cannot call {route.original_route!r}"
        assert route.path is not None and route.path_format is not None
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # starlette answers HEAD with the GET handler
        names = list(route.param_convertors)
        unknown = [name for name in names if name not in SAMPLES]
        assert not unknown, f"{route.path}: add plausible values of {unknown} to SAMPLES"
        for values in itertools.product(*(SAMPLES[name] for name in names)):
            url = route.path_format.format(**dict(zip(names, values, strict=True)))
            for method in sorted(methods):
                yield method, route.path, url


def serve(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://intake.test")


async def unrefused(app: FastAPI) -> list[str]:
    """Calls that are neither listed public nor refused without credentials, and stale PUBLIC entries."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    async with serve(app) as client:
        for method, path, url in walk(app):
            seen.add((method, path))
            response = await client.request(method, url)
            if (method, path) in PUBLIC:
                if response.status_code in (401, 403) or response.status_code >= 500:
                    problems.append(f"public {method} {url} answered {response.status_code}")
                continue
            if response.status_code not in refusals(path):
                problems.append(f"{method} {url} answered {response.status_code} without credentials")
            elif response.status_code == 303 and not response.headers["location"].startswith(SIGN_IN):
                problems.append(f"{method} {url} sent an anonymous caller to {response.headers['location']}")
            elif response.status_code == 401 and "www-authenticate" not in response.headers:
                problems.append(f"{method} {url} answered 401 without WWW-Authenticate")
    stale = sorted(PUBLIC.keys() - seen)
    problems += [f"PUBLIC lists {method} {path}, which the app does not serve" for method, path in stale]
    return problems


@pytest.fixture
def service(intake_app: IntakeApp) -> Intake:
    """``intake_app``'s started intake, SMS webhooks configured as in production."""
    _, intake = intake_app
    intake.settings.intake.sms_webhook_secret = SecretStr("sms-webhook-secret-for-the-auth-walk")
    return intake


async def test_every_route_is_public_or_refuses_anonymous_calls(service: Intake) -> None:
    assert await unrefused(create_app(service)) == []


async def test_the_walk_finds_a_new_route_that_lets_anyone_in(service: Intake) -> None:
    app = create_app(service)

    @app.get("/v1/complaints/{complaint_id}/history")
    async def history(complaint_id: str) -> list[str]:
        return []

    @app.post("/v1/exports")
    async def export() -> dict[str, str]:
        return {}

    problems = await unrefused(app)

    assert len(problems) == 2
    assert "GET /v1/complaints/" in problems[0] and "/history answered 200" in problems[0]
    assert problems[1] == "POST /v1/exports answered 200 without credentials"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_without_the_scope_a_route_needs_gets_403(service: Intake) -> None:
    app = create_app(service)
    granted: set[tuple[str, str]] = set()
    scopes = set(auth.SCOPES) - {"admin"}

    async def key(*scopes: str) -> str:
        role: auth.Role | None = "department" if "staff" in scopes else None
        created, _ = await auth.create_key(service.store, name="walk", scopes=scopes, role=role)
        return created

    async with serve(app) as client:
        admin = await key("admin")
        for method, path, url in walk(app):
            if (method, path) in PUBLIC or path.startswith((SIGNED, CONSOLE)):
                continue
            grants = GRANTS.get((method, path))
            assert grants is not None, f"{method} {path} takes a key: add the scopes that open it to GRANTS"
            granted.add((method, path))
            others = sorted(scopes - grants)
            refused = await client.request(method, url, headers=bearer(await key(*others)))
            answers = {
                scope: await client.request(method, url, headers=bearer(await key(scope))) for scope in grants
            }
            answers["admin"] = await client.request(method, url, headers=bearer(admin))

            assert refused.status_code == 403, f"{method} {url} let in a key with {others}: {refused.text}"
            let_in = {scope: answer.status_code not in (401, 403) for scope, answer in answers.items()}
            assert all(let_in.values()), f"{method} {url}: the scopes that should open it did not: {let_in}"

    assert granted == GRANTS.keys()
