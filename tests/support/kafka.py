"""Reading and writing raw Kafka messages in tests (kafka-python, no consumer group)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def read_topic(
    servers: str,
    topic: str,
    *,
    until: Callable[[list[tuple[bytes | None, bytes]]], bool] = lambda _: False,
    timeout: float = 10.0,
) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) on ``topic`` from the start; stops early once ``until(messages)`` holds."""
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, consumer_timeout_ms=500)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        messages: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                messages.extend((r.key, r.value) for r in records)
            if until(messages):
                break
        return messages
    finally:
        consumer.close()


def produce(servers: str, topic: str, key: bytes | None, value: bytes) -> None:
    """Put one raw message on ``topic`` and wait for the broker's acknowledgement."""
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=15)
    finally:
        producer.close()
