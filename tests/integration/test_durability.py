"""No complaint that got a 2xx is lost when the Kafka broker dies under load and comes back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.settings import IntakeSettings
from pasokh.infra.kafka import KafkaBroker
from pasokh.infra.local import LocalInfra
from services.bus import ensure_topics
from services.contracts import topics
from services.settings import KafkaSettings, MongoSettings
from tests.support.kafka import read_topic

BODY = {"text": "سطل زباله سر کوچه سه روز است خالی نشده", "district": "7"}


async def test_broker_killed_mid_load_loses_no_accepted_complaint(
    infra: LocalInfra, database: str, tmp_path: Path
) -> None:
    broker = KafkaBroker(tmp_path / "kafka", heap="256m")
    broker.start()
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=3000)
    ensure_topics(kafka)
    settings = IntakeSettings(
        kafka=kafka,
        mongo=MongoSettings(uri=infra.mongo_uri, database=database),
        intake={"rate_limits": {"submit_burst": 100_000, "ip_burst": 100_000}},
    )
    intake = bootstrap(settings)
    await intake.start()
    transport = httpx.ASGITransport(app=create_app(intake))
    outcomes: list[tuple[float, int, str | None]] = []
    started = time.monotonic()

    async def submit(client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/complaints", json=BODY)
        complaint = response.json().get("id") if response.status_code == 202 else None
        outcomes.append((time.monotonic() - started, response.status_code, complaint))

    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://intake.test", timeout=60
        ) as client:
            in_flight: set[asyncio.Task[None]] = set()
            killed = restarted = False
            while (elapsed := time.monotonic() - started) < 14:
                if elapsed > 3 and not killed:
                    assert broker.process is not None
                    broker.process.kill()  # SIGKILL: no controlled shutdown
                    killed = True
                if elapsed > 8 and not restarted:
                    await asyncio.to_thread(broker.start)
                    restarted = True
                task = asyncio.create_task(submit(client))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                await asyncio.sleep(0.02)
            await asyncio.gather(*in_flight)
        accepted = {cid for _, status, cid in outcomes if status == 202 and cid}
        statuses = {status for _, status, _ in outcomes}
        on_kafka = {
            key.decode()
            for key, _ in read_topic(
                broker.bootstrap_servers,
                topics.SUBMITTED,
                until=lambda ms: accepted <= {k.decode() for k, _ in ms if k},
                timeout=60,
            )
            if key
        }
    finally:
        await intake.store.client.drop_database(database)
        await intake.stop()
        broker.stop()

    assert statuses <= {202, 503}, f"unexpected answers: {statuses}"
    down = [t for t, status, _ in outcomes if status == 503]
    assert down, "the broker was never seen down: the test proved nothing"
    assert any(status == 202 and t > max(down) for t, status, _ in outcomes), (
        "no submission accepted after recovery"
    )
    assert accepted - on_kafka == set(), f"{len(accepted - on_kafka)} accepted complaints are not on Kafka"
    print(f"\naccepted {len(accepted)}, refused with 503 {len(down)}, all accepted found on Kafka")
