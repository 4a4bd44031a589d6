"""The ceiling of the raw infrastructure on this machine, measured with the pipeline's own documents.

Kafka: acknowledged (acks=all) produces of ``complaint.submitted`` events, then one consumer reading
them back. MongoDB: one upsert per complaint record, as many in flight as the router keeps, and the
same records bulk-written. The pipeline's throughput is reported as a fraction of the slowest of the
stages it needs (produce, consume, upsert), since every complaint passes through each of them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import ReplaceOne

from pasokh.bench.router import submitted
from services import records
from services.contracts.envelope import new_event, to_kafka
from services.settings import MongoSettings
from services.store import Store


def _events(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        sub = submitted(i)
        key, value = to_kafka(new_event(sub, subject=sub.complaint_id, source="/pasokh/bench"))
        out.append((key or b"", value))
    return out


async def kafka(servers: str, n: int, *, partitions: int = 6) -> dict[str, float]:
    """Messages per second produced (acks=all) and consumed, on a fresh topic of ``partitions``."""
    topic = f"pasokh.bench.ceiling.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        messages = _events(n)
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
        await producer.start()
        try:
            started = time.perf_counter()
            sent = [await producer.send(topic, value=v, key=k) for k, v in messages]
            await asyncio.gather(*sent)
            produce = n / (time.perf_counter() - started)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, auto_offset_reset="earliest")
        await consumer.start()
        try:
            started, seen = time.perf_counter(), 0
            while seen < n:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                seen += sum(len(records) for records in batch.values())
            consume = n / (time.perf_counter() - started)
        finally:
            await consumer.stop()
        return {"kafka_produce_per_s": round(produce), "kafka_consume_per_s": round(consume)}
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def mongo(uri: str, n: int, *, concurrency: int = 32) -> dict[str, float]:
    """Complaint records upserted per second one by one (``concurrency`` in flight) and in bulk."""
    database = f"pasokh_bench_ceiling_{uuid.uuid4().hex[:8]}"
    store = Store.connect(MongoSettings(uri=uri, database=database), app_name="pasokh-bench")
    try:
        docs = [records.received_record(submitted(i), event_id=f"e{i}") for i in range(n)]
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for doc in docs:
            queue.put_nowait(doc)

        async def worker() -> None:
            while not queue.empty():
                doc = queue.get_nowait()
                await store.complaints.replace_one({"_id": doc["_id"]}, doc, upsert=True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        single = n / (time.perf_counter() - started)
        await store.complaints.delete_many({})
        started = time.perf_counter()
        for i in range(0, n, 500):
            await store.complaints.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs[i : i + 500]], ordered=False
            )
        bulk = n / (time.perf_counter() - started)
        return {"mongo_upserts_per_s": round(single), "mongo_bulk_upserts_per_s": round(bulk)}
    finally:
        await store.client.drop_database(database)
        await store.close()


async def measure(servers: str, uri: str, *, n_kafka: int = 20_000, n_mongo: int = 5_000) -> dict[str, float]:
    """Every ceiling figure, one after the other (they would compete for the cores if run together)."""
    return {**await kafka(servers, n_kafka), **await mongo(uri, n_mongo)}
