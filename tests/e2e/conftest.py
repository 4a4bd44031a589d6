"""The whole system as processes (`pasokh up` on the session's Kafka and MongoDB), SMS captured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from pasokh.infra.local import LocalInfra
from services.settings import KafkaSettings, MongoSettings, PasokhSettings
from tests.support.sms_server import SmsCapture
from tests.support.system import PasokhUp


@pytest.fixture(scope="package")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    """Kafka and MongoDB of the end-to-end tests alone (they override the session's): the services
    consume whole topics as one consumer group, so other suites' messages must not queue before theirs.
    """
    settings = PasokhSettings(kafka=KafkaSettings(), mongo=MongoSettings())
    local = LocalInfra(settings, tmp_path_factory.mktemp("e2e-infra"), log=False)
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def sms() -> Iterator[SmsCapture]:
    """The fake SMS provider: a real HTTP server."""
    capture = SmsCapture().start()
    yield capture
    capture.stop()


@pytest.fixture(scope="module")
def system(
    infra: LocalInfra, sms: SmsCapture, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PasokhUp]:
    """`pasokh up` with the session's servers, its own database, the http SMS provider."""
    up = PasokhUp(
        tmp_path_factory.mktemp("up"),
        {
            **infra.env(),
            "PASOKH_MONGO__DATABASE": f"pasokh_e2e_{uuid.uuid4().hex[:8]}",
            "PASOKH_SMS__PROVIDER": "http",
            "PASOKH_SMS__URL": sms.url,
            "PASOKH_NOTIFIER__RETRY_BASE_SECONDS": "0.05",
            # SMS at once whatever the hour (quiet hours have tests of their own), and a coalescing
            # window that lets the routed SMS replace the received one (one SMS per complaint).
            "PASOKH_POLICY__QUIET_START": "00:00",
            "PASOKH_POLICY__QUIET_END": "00:00",
            "PASOKH_POLICY__COALESCE_SECONDS": "8",
            # Every test posts from 127.0.0.1; the per-IP limits have tests of their own.
            "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_PER_MINUTE": "100000",
            "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_BURST": "1000",
        },
    ).start()
    yield up
    assert up.stop() == 0, up.output()[-4000:]


@pytest.fixture(scope="module")
def db(system: PasokhUp, infra: LocalInfra) -> Iterator[object]:
    """The system's MongoDB database, read directly to check what is stored."""
    client: MongoClient[dict[str, object]] = MongoClient(infra.mongo_uri, tz_aware=True)
    yield client[system.env["PASOKH_MONGO__DATABASE"]]
    client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is marked e2e."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
