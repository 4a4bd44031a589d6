"""Publishing CloudEvents to the real Kafka broker and reading them back."""

from __future__ import annotations

import json

import pytest

from pasokh.infra.local import LocalInfra
from pasokh.infra.process import free_port
from services.bus import KafkaPublisher, ensure_topics
from services.contracts import topics
from services.contracts.envelope import from_kafka, new_event
from services.errors import DependencyUnavailable
from services.settings import KafkaSettings
from tests.factories import submitted
from tests.support.kafka import read_topic


async def test_published_event_is_durable_cloudevent_keyed_by_complaint(
    publisher: KafkaPublisher, infra: LocalInfra
) -> None:
    payload = submitted()
    event = new_event(payload, subject=payload.complaint_id, source="/test")

    await publisher.publish(topics.SUBMITTED, event)

    key = payload.complaint_id.encode()
    [(k, value)] = [
        m
        for m in read_topic(
            infra.bootstrap_servers, topics.SUBMITTED, until=lambda ms: any(k == key for k, _ in ms)
        )
        if m[0] == key
    ]
    assert json.loads(value)["id"] == event.get_id()
    assert from_kafka(value, k).payload(type(payload)) == payload


async def test_publisher_without_broker_fails_clearly() -> None:
    publisher = KafkaPublisher(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=1000), client_id="t"
    )
    with pytest.raises(DependencyUnavailable, match="Kafka"):
        await publisher.start()
    await publisher.stop()


def test_topics_are_created_once(infra: LocalInfra) -> None:
    settings = KafkaSettings(bootstrap_servers=infra.bootstrap_servers)

    assert ensure_topics(settings) == []  # the session created them already
    name = f"pasokh.test.{free_port()}"
    assert ensure_topics(settings, (name,)) == [name]
    assert ensure_topics(settings, (name,)) == []
