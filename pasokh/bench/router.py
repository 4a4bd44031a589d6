"""``pasokh bench router``: complaints decided per second by one router worker.

Kafka and the MongoDB-wire server are started here unless PASOKH_KAFKA__BOOTSTRAP_SERVERS /
PASOKH_MONGO__URI name them (then use a cluster no other router group reads: the worker joins the
``pasokh-router`` group and drains whatever is on the topic). The topic ``pasokh.complaints.submitted``
is filled with N realistic complaints (texts of pasokh.bench.corpus, places spread over Karaj's
districts, some with a map location), then one router process starts and drains it. The rate is
measured from the first decision to the last, by the offsets of ``pasokh.complaints.events``, where
the router announces every decision. Everything shares the machine's cores.

Also reported: the router's MongoDB commands (round trips) and written documents per complaint, from
its ``/metrics`` (``pasokh_mongo_commands_total``, ``pasokh_mongo_documents_total``,
counted by a PyMongo command listener, router/metrics.py), and the seconds its batches spent in each
step, from their ``batch decided`` log lines (the router runs at log level INFO here).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from pasokh.bench import scrape
from pasokh.bench.corpus import COMPLAINTS
from pasokh.bench.cpu import CpuMeter, infra_pids
from pasokh.bench.intake import machine, rss_mib
from pasokh.infra.local import LocalInfra
from pasokh.infra.process import ManagedProcess, free_port
from pasokh.launcher import Service, stop_services, wait_ready
from services import records
from services.contracts import topics
from services.contracts.complaints import ComplaintSubmitted, Location
from services.contracts.envelope import new_event, to_kafka
from services.settings import PasokhSettings
from services.store import Store

# Karaj's extent (services/data/districts/karaj.geojson).
SOUTH, WEST, NORTH, EAST = 35.78, 50.90, 35.86, 51.06


def submitted(i: int) -> ComplaintSubmitted:
    """The ``i``-th complaint of a run: a corpus text, a district and (two in three) a map location."""
    rng = random.Random(i)
    location = Location(lat=rng.uniform(SOUTH, NORTH), lon=rng.uniform(WEST, EAST)) if i % 3 else None
    return ComplaintSubmitted(
        complaint_id=str(uuid.UUID(int=rng.getrandbits(128))),
        tracking_code=f"{rng.randrange(10**9, 10**10)}",
        text=COMPLAINTS[i % len(COMPLAINTS)],
        channel="web",
        language="fa",
        district=str(1 + i % 12),
        location=location,
        submitted_at=datetime.now(UTC),
    )


async def fill(servers: str, n: int) -> float:
    """Put ``n`` submitted events on the topic; returns the seconds it took."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    started = time.monotonic()
    try:
        futures = []
        for i in range(n):
            sub = submitted(i)
            event = new_event(sub, subject=sub.complaint_id, source="/pasokh/bench", event_id=f"bench-{i}")
            key, value = to_kafka(event)
            futures.append(await producer.send(topics.SUBMITTED, value=value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


def _partitions(consumer: KafkaConsumer, topic: str, timeout: float = 60.0) -> list[TopicPartition]:
    """The topic's partitions, once the consumer's metadata knows them (a fresh consumer may not yet:
    counting over no partitions would wait for ever)."""
    deadline = time.monotonic() + timeout
    while not (found := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions after {timeout} s")
        time.sleep(0.2)
    return [TopicPartition(topic, p) for p in sorted(found)]


def _events(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> int:
    return int(sum(consumer.end_offsets(partitions).values()))


def mongo_counts(port: int) -> tuple[dict[str, float], dict[str, float]]:
    """The router's MongoDB commands and written documents so far, by command (its /metrics page)."""
    found = scrape.families(f"http://127.0.0.1:{port}")
    return scrape.by_command(found, "pasokh_mongo_commands"), scrape.by_command(
        found, "pasokh_mongo_documents"
    )


STEPS = ("decide", "duplicates", "update", "insert", "publish")


def batch_steps(log: Path) -> dict[str, float]:
    """The router's time in each step of its batches, summed over the run (its "batch decided" lines)."""
    totals = dict.fromkeys(("batches", *STEPS), 0.0)
    for line in log.read_text(errors="replace").splitlines():
        if '"batch decided"' not in line:
            continue
        try:
            record = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        totals["batches"] += 1
        for step in STEPS:
            totals[step] += float(record.get(step, 0.0))
    return {k: round(v, 2) for k, v in totals.items()}


def _per(counts: dict[str, float], n: int) -> dict[str, float]:
    figures = {name: round(value / n, 3) for name, value in sorted(counts.items()) if n}
    figures["total"] = round(sum(counts.values()) / n, 3) if n else 0.0
    return figures


async def write_received(uri: str, database: str, n: int) -> None:
    """Store the ``received`` records intake would have written, in batches."""
    store = Store(AsyncMongoClient(uri, tz_aware=True), database)
    try:
        for start in range(0, n, 500):
            docs = [
                records.received_record(submitted(i), event_id=f"bench-{i}")
                for i in range(start, min(n, start + 500))
            ]
            await records.record_received_many(store, docs)
    finally:
        await store.close()


def run(
    *, n: int, timeout: float, received: bool = True, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Fill, start one router, measure until it announced ``n`` decisions; return the figures.

    With ``received`` the records intake writes are stored first (the router updates them, as in
    production); without, the router finds no record and inserts each one whole.
    """
    settings = PasokhSettings()
    with tempfile.TemporaryDirectory(prefix="pasokh-bench-router-") as tmp:
        infra = LocalInfra(settings, Path(tmp) / "infra", log=False).start()
        consumer = KafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
        events = _partitions(consumer, topics.EVENTS)
        before = _events(consumer, events)
        fill_seconds = asyncio.run(fill(infra.bootstrap_servers, n))
        port = free_port()
        database = f"pasokh_bench_router_{port}"
        if received:
            asyncio.run(write_received(infra.mongo_uri, database, n))
        env = {
            **os.environ,
            **infra.env(),
            "PASOKH_ROUTER__PORT": str(port),
            "PASOKH_MONGO__DATABASE": database,
            "PASOKH_DATA_DIR": str(Path(tmp) / "var"),
            "PASOKH_LOG_LEVEL": "INFO",  # one line per batch, with the time of each step (router/batch.py)
            **(extra_env or {}),
        }
        process = ManagedProcess(
            "router", [sys.executable, "-m", "router"], env=env, log_path=Path(tmp) / "r.log"
        )
        process.start()
        service = Service("router", port, process)
        try:
            wait_ready([service])
            pid = process.pid or 0
            deadline = time.monotonic() + timeout
            first_at: float | None = None
            first_count = 0
            done = before
            meter = CpuMeter({"router": pid, **infra_pids(infra.kafka, infra.mongo)})
            while time.monotonic() < deadline:
                done = _events(consumer, events) - before
                now = time.monotonic()
                if first_at is None and done > 0:
                    first_at, first_count = now, done
                    meter.start()
                if done >= n:
                    break
                time.sleep(0.2)
            end = time.monotonic()
            measured = done - first_count
            cpu_ms = meter.stop(measured) if first_at else {}
            commands, documents = mongo_counts(port)
            seconds = end - first_at if first_at else 0.0
            return {
                "machine": machine(),
                "n": n,
                "decided": done,
                "fill_seconds": round(fill_seconds, 2),
                "seconds": round(seconds, 2),
                "decided_per_s": round(measured / seconds, 1) if seconds else 0.0,
                "router_cpu_share": (
                    round(cpu_ms["router"] * measured / 1000 / seconds, 2) if seconds else None
                ),
                # CPU ms per complaint by process; "machine" is every core's busy time, "other" what
                # no named process accounts for (this bench polling Kafka, the kernel, other work).
                "cpu_ms_per_complaint": cpu_ms,
                "router_rss_mib": rss_mib(pid),
                "local_mongo": os.environ.get("PASOKH_LOCAL_MONGO", "default"),
                "received_records_first": received,
                "complete": done >= n,
                # Over the whole run (start-up and timers included), per complaint decided.
                "mongo_round_trips_per_complaint": _per(commands, done),
                "mongo_documents_written_per_complaint": _per(documents, done),
                "batch_steps_seconds": batch_steps(Path(tmp) / "r.log"),
            }
        finally:
            consumer.close()
            stop_services([service])
            infra.stop()


def main(*, n: int, timeout: float, received: bool, as_json: bool) -> None:
    """Print the figures as text, then (with ``as_json``) one JSON line."""
    r = run(n=n, timeout=timeout, received=received)
    print(
        f"router: {r['decided']}/{r['n']} complaints decided in {r['seconds']} s → {r['decided_per_s']}/s "
        f"(one worker; router CPU {r['router_cpu_share']} of a core, RSS {r['router_rss_mib']} MiB; "
        f"MongoDB server: {r['local_mongo']}; received records stored first: {r['received_records_first']}; "
        f"filling the topic took {r['fill_seconds']} s)"
    )
    trips, written = r["mongo_round_trips_per_complaint"], r["mongo_documents_written_per_complaint"]
    print(
        f"MongoDB per complaint: {trips['total']} round trips, {written['total']} documents written "
        f"(round trips by command: {trips}; documents by command: {written})"
    )
    cpu = r["cpu_ms_per_complaint"]
    if cpu.get("machine"):
        cores = os.cpu_count() or 1
        print(
            f"CPU ms per complaint by process: {cpu}; at {cpu['machine']} ms of the machine per complaint, "
            f"{cores} cores decide at most {round(cores * 1000 / cpu['machine'])}/s"
        )
    print(f"seconds in each step of the router's batches, summed: {r['batch_steps_seconds']}")
    if not r["complete"]:
        print("timed out before every complaint was decided", file=sys.stderr)
    if as_json:
        print(json.dumps(r))
