"""intake's native API in-process on the real Kafka and MongoDB: place rules, rate limits, CORS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from intake import auth
from intake.app import create_app
from intake.bootstrap import Intake, bootstrap
from intake.settings import IntakeSettings
from pasokh.infra.local import LocalInfra
from services.settings import KafkaSettings, MongoSettings

LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"
IntakeApp = tuple[httpx.AsyncClient, Intake]


@asynccontextmanager
async def custom_intake(infra: LocalInfra, database: str, **intake: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.bootstrap_servers),
        mongo=MongoSettings(uri=infra.mongo_uri, database=database),
        intake=intake,
    )
    service = bootstrap(settings)
    await service.start()
    transport = httpx.ASGITransport(app=create_app(service), client=("198.51.100.9", 5000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
            yield client
    finally:
        await service.store.client.drop_database(database)
        await service.stop()


async def test_location_must_be_in_the_city_or_a_place_named(intake_app: IntakeApp) -> None:
    client, intake = intake_app

    outside = await client.post(
        "/v1/complaints", json={"text": LIGHTS, "location": {"lat": 29.61, "lon": 52.53}}
    )
    nowhere = await client.post("/v1/complaints", json={"text": LIGHTS})
    inside = await client.post(
        "/v1/complaints", json={"text": LIGHTS, "location": {"lat": 35.8327, "lon": 50.9915}}
    )
    by_address = await client.post(
        "/v1/complaints", json={"text": LIGHTS, "address": "کرج، گوهردشت، بلوار موذن"}
    )
    key, _ = await auth.create_key(intake.store, name="sms gateway", scopes=["complaints:write"])
    by_sms = await client.post(
        "/v1/complaints", json={"text": LIGHTS, "channel": "sms"}, headers={"X-API-Key": key}
    )
    spoofed = await client.post("/v1/complaints", json={"text": LIGHTS, "channel": "sms"})

    assert (outside.status_code, outside.json()["error"]["code"]) == (422, "location_outside_city")
    assert (nowhere.status_code, nowhere.json()["error"]["code"]) == (422, "place_required")
    assert "نشانی" in nowhere.json()["error"]["message"]["fa"]
    assert [r.status_code for r in (inside, by_address, by_sms)] == [202, 202, 202]
    assert (spoofed.status_code, spoofed.json()["error"]["code"]) == (403, "channel_needs_key")


async def test_anonymous_submissions_are_limited_per_ip(infra: LocalInfra, database: str) -> None:
    async with custom_intake(
        infra, database, rate_limits={"submit_per_minute": 60, "submit_burst": 3}
    ) as client:
        answers = [
            await client.post("/v1/complaints", json={"text": LIGHTS, "district": "3"}) for _ in range(4)
        ]
        health = await client.get("/healthz")

    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert health.status_code == 200


async def test_every_route_is_limited_per_ip(infra: LocalInfra, database: str) -> None:
    async with custom_intake(infra, database, rate_limits={"ip_per_minute": 60, "ip_burst": 2}) as client:
        codes = [(await client.get("/v1/complaints/1234567897")).status_code for _ in range(3)]
        probes = [(await client.get("/readyz")).status_code for _ in range(5)]

    assert codes == [404, 404, 429]
    assert probes == [200] * 5, "probes and scrapes are never limited"


async def test_cors_allows_only_the_configured_origin(infra: LocalInfra, database: str) -> None:
    async with custom_intake(infra, database, cors_origins=["https://137.karaj.ir"]) as client:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        allowed = await client.options(
            "/v1/complaints", headers={"Origin": "https://137.karaj.ir", **preflight}
        )
        other = await client.options(
            "/v1/complaints", headers={"Origin": "https://evil.example", **preflight}
        )

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://137.karaj.ir"
    assert "access-control-allow-origin" not in other.headers


async def test_a_stale_idempotency_claim_is_taken_over(intake_app: IntakeApp) -> None:
    from datetime import UTC, datetime, timedelta

    from intake import idempotency

    client, intake = intake_app
    body = {"text": LIGHTS, "district": "3"}
    raw = json.dumps(body).encode()
    # A process died holding this key three minutes ago.
    await intake.store.db["idempotency_keys"].insert_one(
        {
            "_id": "complaints:crashed-key",
            "fingerprint": idempotency.fingerprint(raw),
            "state": "pending",
            "at": datetime.now(UTC) - timedelta(minutes=3),
        }
    )
    fresh = "fresh-key"
    await intake.store.db["idempotency_keys"].insert_one(
        {
            "_id": f"complaints:{fresh}",
            "fingerprint": idempotency.fingerprint(raw),
            "state": "pending",
            "at": datetime.now(UTC),
        }
    )
    headers = {"Content-Type": "application/json"}

    retried = await client.post(
        "/v1/complaints", content=raw, headers={**headers, "Idempotency-Key": "crashed-key"}
    )
    in_progress = await client.post(
        "/v1/complaints", content=raw, headers={**headers, "Idempotency-Key": fresh}
    )

    assert retried.status_code == 202
    assert in_progress.status_code == 409 and in_progress.json()["error"]["code"] == "idempotency_in_progress"
