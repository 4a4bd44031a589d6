"""services.worker.MessagePolicy: poison messages are dead-lettered, outages waited out, nothing lost."""

from __future__ import annotations

import base64
import random
import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.core.v1.event import CloudEvent
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from services.bus import DeadLettered, InMemoryPublisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.contracts.envelope import Envelope, from_kafka, new_event, to_kafka
from services.errors import DependencyUnavailable
from services.worker import MessagePolicy

FAST = {"base_delay": 0.0005, "max_delay": 0.002}


def kafka_message() -> tuple[bytes, bytes, ComplaintSubmitted]:
    payload = ComplaintSubmitted(
        complaint_id=str(uuid.uuid4()),
        tracking_code="1234567897",
        text="چراغ کوچه خاموش است",
        channel="web",
        submitted_at=datetime.now(UTC),
    )
    key, value = to_kafka(new_event(payload, subject=payload.complaint_id, source="/pasokh/test"))
    return key, value, payload


class Handler:
    """A handler that fails with the queued errors, then succeeds; remembers what it saw."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[Envelope] = []

    async def __call__(self, envelope: Envelope) -> None:
        self.calls.append(envelope)
        if self.failures:
            raise self.failures.pop(0)


class AlwaysFails:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    async def __call__(self, envelope: Envelope) -> None:
        self.calls += 1
        raise self.error


def coordinates() -> dict[str, int | str]:
    return {"topic": topics.SUBMITTED, "partition": random.randrange(6), "offset": random.randrange(10**6)}


def dead_letters(publisher: InMemoryPublisher) -> list[DeadLettered]:
    assert all(topic == topics.DEADLETTER for topic, _, _ in publisher.sent), publisher.sent
    return [from_kafka(value, key).payload(DeadLettered) for _, key, value in publisher.sent]


async def test_a_message_handled_successfully_is_not_dead_lettered() -> None:
    publisher = InMemoryPublisher()
    handler = Handler()
    key, value, payload = kafka_message()
    await MessagePolicy("router", publisher, **FAST).run(handler, key=key, value=value, **coordinates())

    assert len(handler.calls) == 1
    assert handler.calls[0].payload(ComplaintSubmitted) == payload
    assert publisher.sent == []


@pytest.mark.parametrize(
    "value",
    [b"\xff\x00 not an event", b"{}", b"[1, 2]", b""],
    ids=["bytes", "empty-object", "array", "empty"],
)
async def test_invalid_bytes_are_dead_lettered_once_with_their_coordinates(value: bytes) -> None:
    publisher = InMemoryPublisher()
    handler = Handler()
    where = coordinates()
    await MessagePolicy("router", publisher, **FAST).run(handler, key=None, value=value, **where)

    assert handler.calls == []
    [letter] = dead_letters(publisher)
    assert (letter.topic, letter.partition, letter.offset) == (
        where["topic"],
        where["partition"],
        where["offset"],
    )
    assert letter.reason.startswith("invalid event")
    assert letter.service == "router"
    assert base64.b64decode(letter.value_b64) == value  # the original message, to replay by hand


async def test_dead_letter_is_a_cloudevent_keyed_like_the_original() -> None:
    publisher = InMemoryPublisher()
    key, value, payload = kafka_message()
    await MessagePolicy("router", publisher, **FAST).run(
        Handler(), key=key, value=value[:-5], **coordinates()
    )
    [(topic, dl_key, dl_value)] = publisher.sent
    envelope = from_kafka(dl_value, dl_key)
    assert topic == topics.DEADLETTER == "pasokh.deadletter"
    assert envelope.type == "org.pasokh.deadletter"
    assert dl_key == key == payload.complaint_id.encode()
    assert envelope.source == "/pasokh/router"
    assert {"topic", "partition", "offset", "reason"} <= envelope.data.keys()


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("primary stepped down"),
        ServerSelectionTimeoutError("no servers"),
        DependencyUnavailable("Kafka did not acknowledge"),
    ],
    ids=["AutoReconnect", "ServerSelectionTimeout", "DependencyUnavailable"],
)
async def test_transient_errors_are_retried_until_the_message_goes_through(error: Exception) -> None:
    publisher = InMemoryPublisher()
    handler = Handler(error, error)
    key, value, _ = kafka_message()
    await MessagePolicy("router", publisher, max_attempts=1, **FAST).run(
        handler, key=key, value=value, **coordinates()
    )
    assert len(handler.calls) == 3
    assert publisher.sent == []


async def test_an_outage_longer_than_max_attempts_still_loses_nothing() -> None:
    publisher = InMemoryPublisher()
    handler = Handler(*[AutoReconnect("down")] * 10)
    key, value, _ = kafka_message()
    await MessagePolicy("router", publisher, max_attempts=3, **FAST).run(
        handler, key=key, value=value, **coordinates()
    )
    assert len(handler.calls) == 11
    assert publisher.sent == []


async def test_a_failing_handler_is_dead_lettered_after_max_attempts_with_the_reason() -> None:
    publisher = InMemoryPublisher()
    marker = uuid.uuid4().hex
    handler = AlwaysFails(ValueError(f"department {marker} is unknown"))
    key, value, _ = kafka_message()
    where = coordinates()
    await MessagePolicy("router", publisher, max_attempts=4, **FAST).run(
        handler, key=key, value=value, **where
    )

    assert handler.calls == 4
    [letter] = dead_letters(publisher)
    assert letter.reason == f"ValueError: department {marker} is unknown"
    assert letter.offset == where["offset"]
    assert letter.key == key.decode()
    assert base64.b64decode(letter.value_b64) == value


async def test_an_error_that_goes_away_on_retry_is_not_dead_lettered() -> None:
    publisher = InMemoryPublisher()
    handler = Handler(RuntimeError("flaky"))
    key, value, _ = kafka_message()
    await MessagePolicy("router", publisher, max_attempts=3, **FAST).run(
        handler, key=key, value=value, **coordinates()
    )
    assert len(handler.calls) == 2
    assert publisher.sent == []


async def test_a_payload_of_the_wrong_shape_is_dead_lettered_without_retrying() -> None:
    publisher = InMemoryPublisher()
    calls = 0

    async def handler(envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        envelope.payload(ComplaintRouted)  # a submitted event on a topic that expects routed ones

    key, value, _ = kafka_message()
    await MessagePolicy("router", publisher, max_attempts=5, **FAST).run(
        handler, key=key, value=value, **coordinates()
    )
    assert calls == 1
    [letter] = dead_letters(publisher)
    assert "org.pasokh.complaint.routed" in letter.reason


class FlakyPublisher(InMemoryPublisher):
    """Kafka refuses the first ``failures`` publishes, then takes them."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if self.failures:
            self.failures -= 1
            raise DependencyUnavailable("Kafka did not acknowledge the event")
        await super().publish(topic, event)


async def test_a_dead_letter_that_kafka_refuses_once_is_still_written() -> None:
    # "The worker never crashes on a message": a broker hiccup while dead-lettering must be waited out
    # like any other outage, not escape from run() and kill the agent.
    publisher = FlakyPublisher(failures=1)
    await MessagePolicy("router", publisher, **FAST).run(
        Handler(), key=None, value=b"garbage", **coordinates()
    )
    assert len(dead_letters(publisher)) == 1


async def test_a_busy_ferretdb_is_waited_out_not_dead_lettered() -> None:
    from pymongo.errors import OperationFailure

    busy = OperationFailure(
        "[collection.go:191 sqlite.(*collection).UpdateAll] database is locked (5) (SQLITE_BUSY)", code=1
    )
    publisher = InMemoryPublisher()
    handler = Handler(busy, busy, busy, busy)
    key, value, _ = kafka_message()

    await MessagePolicy("router", publisher, max_attempts=2, **FAST).run(
        handler, key=key, value=value, **coordinates()
    )

    assert len(handler.calls) == 5, "retried past max_attempts: the server was busy, the message is fine"
    assert publisher.sent == []
