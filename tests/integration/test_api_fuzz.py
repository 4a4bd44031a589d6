"""Property-based fuzzing of intake against its own /openapi.json (schemathesis), in-process on the real
Kafka and MongoDB: valid and invalid inputs, an admin key on every call; no 5xx, and every status,
Content-Type and body is one the document promises.

The run is derandomized (the same cases every time) and keeps no example database. Path parameters
and a few body fields are drawn half the time from what exists (seeded complaints, the city's
service codes, the published schema names), so the fuzzer gets past "not found" into the handlers.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import configuration
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from intake import auth, partner_events
from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.ratelimit import RateLimitSettings
from intake.settings import IntakeHttpSettings, IntakeSettings
from intake.sms_webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, is_json, sign
from pasokh.infra.local import LocalInfra
from services import records
from services.contracts import schemas
from services.contracts.complaints import Location
from services.settings import KafkaSettings, MongoSettings
from services.store import Store
from services.taxonomy import load_taxonomy
from tests.factories import routed as routed_decision
from tests.factories import submitted

# Per operation, for the fuzzing phase; the examples and coverage phases add cases of their own.
MAX_EXAMPLES = 100
MIN_CASES = 1000
DATABASE = f"pasokh_test_fuzz_{uuid.uuid4().hex[:12]}"
SMS_SECRET = "sms-webhook-secret-for-the-fuzz-run"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
UNLIMITED = 1_000_000
# What each operation ("GET /healthz") answered, for the last test of this module.
ANSWERS: defaultdict[str, Counter[int]] = defaultdict(Counter)


async def _seed(store: Store) -> dict[str, list[str]]:
    """Complaints received, routed and resolved; returns their ids and tracking codes."""
    now = records.store_precision(datetime.now(UTC))
    received = submitted(location=Location(lat=35.7219, lon=51.3347), address="خیابان آزادی")
    await records.record_received(store, received, event_id=f"s-{received.complaint_id}")
    routed, resolved = submitted(submitted_at=now - timedelta(hours=2)), submitted(submitted_at=now)
    for sub in (routed, resolved):
        decision = routed_decision(sub, due_at=now + timedelta(hours=48))
        await records.apply_decision(
            store,
            sub,
            decision,
            submitted_event_id=f"s-{sub.complaint_id}",
            decision_event_id=f"d-{sub.complaint_id}",
            status="routed",
            at=now,
        )
    entry = records.timeline_entry("resolved", now, event_id=f"r-{resolved.complaint_id}", note="تعمیر شد")
    await records.apply_event(
        store,
        resolved.complaint_id,
        event_id=f"r-{resolved.complaint_id}",
        entry=entry,
        fields={"status": "resolved"},
    )
    # Linked to the routed one by the router, so that staff can unlink it.
    duplicate = submitted(submitted_at=now)
    await records.record_received(store, duplicate, event_id=f"s-{duplicate.complaint_id}")
    await store.complaints.update_one(
        {"_id": duplicate.complaint_id},
        {
            "$set": {
                "status": "duplicate",
                "category": "lighting",
                "department": "lighting",
                "duplicate": {
                    "primary_id": routed.complaint_id,
                    "primary_tracking_code": routed.tracking_code,
                },
            }
        },
    )
    seeded = (received, routed, resolved, duplicate)
    return {
        "complaint_ids": [s.complaint_id for s in seeded],
        "tracking_codes": [s.tracking_code for s in seeded],
    }


@pytest.fixture(scope="module")
async def seeded(infra: LocalInfra) -> AsyncIterator[dict[str, Any]]:
    """An admin key and a few complaints in the fuzzed intake's database (dropped afterwards)."""
    store = Store.connect(MongoSettings(uri=infra.mongo_uri, database=DATABASE))
    await store.ensure_indexes()
    key, _ = await auth.create_key(store, name="fuzz", scopes=["admin"], role="admin")
    yield {"admin_key": key, **await _seed(store)}
    await store.client.drop_database(DATABASE)
    await store.close()


def _config(seeded: dict[str, Any], settings: IntakeSettings) -> schemathesis.Config:
    taxonomy = load_taxonomy(settings.taxonomy_file)
    dictionaries = {
        "complaint_ids": seeded["complaint_ids"],
        "tracking_codes": seeded["tracking_codes"],
        "service_codes": sorted(taxonomy.categories),
        "departments": sorted(taxonomy.departments),
        "schema_names": [*schemas.schema_names(), *sorted(partner_events.inbound_schemas())],
    }
    bound = {
        "path.complaint_id": "complaint_ids",
        "path.tracking_code": "tracking_codes",
        "path.service_request_id": "tracking_codes",
        "path.token": "complaint_ids",
        "path.service_code": "service_codes",
        "path.name": "schema_names",
        "body.service_code": "service_codes",
        "body.service_request_id": "tracking_codes",
        "body.category": "service_codes",
        "body.department": "departments",
    }
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",  # invalid inputs too
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,  # the same cases on every run
                "database": "none",  # no .hypothesis directory in the checkout
            },
            "dictionaries": {name: {"values": values} for name, values in dictionaries.items()},
            "parameters": {
                **{key: {"dictionary": name, "probability": 0.5} for key, name in bound.items()},
                # Kavenegar's form callbacks may carry ?token=<secret> (JSON ones are signed below).
                "query.token": SMS_SECRET,
            },
            "headers": {"Authorization": f"Bearer {seeded['admin_key']}"},
        }
    )


@pytest.fixture(scope="module")
def api_schema(infra: LocalInfra, seeded: dict[str, Any]) -> Iterator[schemathesis.BaseSchema]:
    """intake's OpenAPI document, read from the running app; every call carries the admin key."""
    settings = IntakeSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.bootstrap_servers),
        mongo=MongoSettings(uri=infra.mongo_uri, database=DATABASE),
        intake=IntakeHttpSettings(
            sms_webhook_secret=SecretStr(SMS_SECRET),
            rate_limits=RateLimitSettings.model_validate(
                {
                    f"{scope}_{limit}": UNLIMITED
                    for scope in ("ip", "submit", "key")
                    for limit in ("per_minute", "burst")
                }
            ),
        ),
    )
    app = create_app(bootstrap(settings))
    # schemathesis serves the app on an event loop of its own: it starts the lifespan (intake.start)
    # there before reading the document, and ends it (intake.stop) after the test that used it.
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(seeded, settings))


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Even without an example database Hypothesis caches constants and Unicode tables on disk.
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(None)


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32.5's from_fixture reads Node._nodeid, which pytest 9.2 no longer has.
    request.node._nodeid = request.node.nodeid


def _signature(case: schemathesis.Case[Any]) -> dict[str, str]:
    """Headers signing the body this case will send, the way the generic SMS provider does."""
    kwargs = case.as_transport_kwargs()
    # Serialized as the transport will serialize it (requests), to sign the very bytes that are sent.
    request = requests.Request("POST", "http://intake.test", json=kwargs.get("json"), data=kwargs.get("data"))
    body = request.prepare().body
    raw = body if isinstance(body, bytes) else str(body or "").encode()
    timestamp = str(int(time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: "sha256=" + sign(SMS_SECRET, timestamp, raw)}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_documented(case: schemathesis.Case[Any]) -> None:
    signed = case.path.startswith("/v1/sms/") and is_json(case.media_type)
    response = case.call_and_validate(checks=CHECKS, headers=_signature(case) if signed else None)
    ANSWERS[case.operation.label][response.status_code] += 1


def test_the_run_was_big_enough_and_got_past_the_door(api_schema: schemathesis.BaseSchema) -> None:
    cases = sum(sum(answers.values()) for answers in ANSWERS.values())
    assert cases >= MIN_CASES, f"only {cases} cases ran: {dict(ANSWERS)}"
    documented = {f"{method.upper()} {path}" for path, methods in api_schema.items() for method in methods}
    assert documented <= ANSWERS.keys(), f"never called: {sorted(documented - ANSWERS.keys())}"
    # Not just 401/403/404: the admin key and the seeded ids took the fuzzer into every handler.
    shallow = [op for op, answers in ANSWERS.items() if not any(200 <= status < 300 for status in answers)]
    assert not shallow, f"never answered 2xx: {shallow}"
