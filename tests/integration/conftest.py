"""Adapters against the session's real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pasokh.infra.local import LocalInfra
from services.bus import KafkaPublisher
from services.settings import KafkaSettings, MongoSettings
from services.store import Store


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is marked integration."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)
