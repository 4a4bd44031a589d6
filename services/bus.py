"""Kafka adapters: publishing CloudEvents, creating topics, dead-lettering poison messages."""

from __future__ import annotations

import abc
import asyncio
import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from cloudevents.core.v1.event import CloudEvent

from services.contracts import topics
from services.contracts.envelope import EventPayload, new_event, to_kafka
from services.errors import DependencyUnavailable
from services.settings import KafkaSettings

log = logging.getLogger(__name__)


class Publisher(abc.ABC):
    """Port: puts an event on a topic and returns only once the broker has it."""

    @abc.abstractmethod
    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Publish ``event`` keyed by its subject; raise DependencyUnavailable if not acknowledged."""


@dataclass
class InMemoryPublisher(Publisher):
    """Twin of the Kafka publisher for unit tests: keeps what was published."""

    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Record the encoded message."""
        key, value = to_kafka(event)
        self.sent.append((topic, key, value))


class KafkaPublisher(Publisher):
    """aiokafka producer with acks=all: a returned publish is durable, a failed one raises in bounded time."""

    def __init__(self, settings: KafkaSettings, *, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer_or_none: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._producer_or_none is None:
            raise DependencyUnavailable("the Kafka producer is not started")
        return self._producer_or_none

    async def start(self) -> None:
        """Connect to the cluster (aiokafka needs a running event loop to create the producer)."""
        self._producer_or_none = AIOKafkaProducer(
            bootstrap_servers=self._settings.servers(),
            client_id=self._client_id,
            acks="all",
            # aiokafka's idempotent producer retries without bound while the broker is down, so a
            # request would hang; without it a send fails after request_timeout_ms (→ 503), and a
            # duplicate from a retry is dropped downstream by its event id.
            enable_idempotence=False,
            request_timeout_ms=self._settings.request_timeout_ms,
            linger_ms=self._settings.linger_ms,
        )
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise DependencyUnavailable(f"Kafka producer could not connect: {exc}") from exc

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer_or_none is not None:
            await self._producer_or_none.stop()

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Send and wait for the broker's acknowledgement."""
        key, value = to_kafka(event)
        deadline = 2 * self._settings.request_timeout_ms / 1000
        try:
            await asyncio.wait_for(self._producer.send_and_wait(topic, value=value, key=key), deadline)
        except (KafkaError, TimeoutError) as exc:
            raise DependencyUnavailable(f"Kafka did not acknowledge the event: {exc!r}") from exc

    async def ready(self) -> None:
        """Raise DependencyUnavailable unless the cluster answers a metadata request."""
        try:
            await self._producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise DependencyUnavailable(f"Kafka did not answer: {exc}") from exc


class _FaustProducer(Protocol):
    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> Any: ...


class FaustPublisher(Publisher):
    """Publishes through a faust app's producer (acks=all), waiting for the broker."""

    def __init__(self, producer: _FaustProducer) -> None:
        self._producer = producer

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Send and wait for the broker's acknowledgement."""
        key, value = to_kafka(event)
        try:
            await self._producer.send_and_wait(topic, key, value, None, None, None)
        except KafkaError as exc:
            raise DependencyUnavailable(f"Kafka did not acknowledge the event: {exc}") from exc


class DeadLettered(EventPayload):
    """A message a service gave up on, with where it came from and why."""

    TYPE: ClassVar[str] = "org.pasokh.deadletter"

    reason: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    value_b64: str
    failed_at: datetime
    service: str


async def dead_letter(
    publisher: Publisher,
    *,
    service: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> None:
    """Put the original message on ``pasokh.deadletter`` with the reason and its coordinates."""
    key_text = key.decode("utf-8", "replace") if key else None
    payload = DeadLettered(
        reason=reason[:2000],
        topic=topic,
        partition=partition,
        offset=offset,
        key=key_text,
        value_b64=base64.b64encode(value or b"").decode(),
        failed_at=datetime.now(UTC),
        service=service,
    )
    subject = key_text or f"{topic}/{partition}/{offset}"
    await publisher.publish(
        topics.DEADLETTER, new_event(payload, subject=subject, source=f"/pasokh/{service}")
    )
    log.warning(
        "dead-lettered", extra={"topic": topic, "partition": partition, "offset": offset, "reason": reason}
    )


def ensure_topics(settings: KafkaSettings, names: tuple[str, ...] = topics.ALL) -> list[str]:
    """Create the missing topics (kafka-python admin); return the names it created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError as SyncKafkaError
    from kafka.errors import TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.servers(), client_id="pasokh-admin")
    except SyncKafkaError as exc:
        raise DependencyUnavailable(f"Kafka admin could not connect to {settings.servers()}: {exc}") from exc
    created = []
    try:
        existing = set(admin.list_topics())
        for name in names:
            if name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(name, settings.topic_partitions, settings.replication_factor)],
                    timeout_ms=settings.request_timeout_ms,
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created
