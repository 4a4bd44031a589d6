"""Adapters against the session's real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from intake.app import create_app
from intake.bootstrap import Intake, bootstrap
from intake.settings import IntakeSettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from services.bus import KafkaPublisher
from services.settings import KafkaSettings, MongoSettings
from services.store import Store
from tests.support.sms_server import SmsCapture


@pytest.fixture
async def store(infra: LocalInfra, database: str) -> AsyncIterator[Store]:
    """A Store on a database of this test's own, indexes created."""
    store = Store.connect(MongoSettings(uri=infra.mongo_uri, database=database))
    await store.ensure_indexes()
    yield store
    await store.client.drop_database(database)
    await store.close()


@pytest.fixture
async def publisher(infra: LocalInfra) -> AsyncIterator[KafkaPublisher]:
    """A started acks=all publisher on the session's broker."""
    publisher = KafkaPublisher(
        KafkaSettings(bootstrap_servers=infra.bootstrap_servers), client_id="pasokh-test"
    )
    await publisher.start()
    yield publisher
    await publisher.stop()


@pytest.fixture
async def intake_app(infra: LocalInfra, database: str) -> AsyncIterator[tuple[httpx.AsyncClient, Intake]]:
    """intake in this process on the real broker and a database of its own, with an HTTP client.

    Yields (client, intake); ``intake.store`` is the database, ``intake.settings`` its settings.
    """
    settings = IntakeSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.bootstrap_servers),
        mongo=MongoSettings(uri=infra.mongo_uri, database=database),
    )
    intake = bootstrap(settings)
    app = create_app(intake)
    await intake.start()
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
        yield client, intake
    await intake.store.client.drop_database(database)
    await intake.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is marked integration."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def capture() -> Iterator[SmsCapture]:
    """A local SMS gateway that keeps every request (the notifier tests' provider)."""
    server = SmsCapture().start()
    yield server
    server.stop()


@pytest.fixture
async def gateway(capture: SmsCapture) -> AsyncIterator[HttpSms]:
    """The ``http`` SMS provider pointed at :func:`capture`."""
    sms = HttpSms(capture.url, timeout=5)
    yield sms
    await sms.close()
