"""``pasokh chaos``: complaints under steady load while the services and servers are killed and restarted.

The system runs as in production, one process per service (intake, router, notifier) on a Kafka broker
and a MongoDB-wire server of its own, the notifier's ``http`` SMS provider pointed at a local gateway
that keeps every request. A load thread submits complaints at a fixed rate, each with its own phone.
Meanwhile, by schedule: ``kill -9`` of router, notifier and intake (each restarted at once), a restart
of the Kafka broker and one of the MongoDB-wire server, and a graceful stop (SIGTERM) and restart of
the router and of the notifier. After the load, the run waits until every
accepted complaint is decided and its citizen has the SMS about it, then checks:

- every complaint that got a 202 is stored and decided (routed, triage or duplicate);
- no complaint is stored twice (one record per tracking code, no more records than submissions);
- no (event, recipient, template) SMS was handed over twice under different ids, and every complaint
  got exactly one SMS per template (a resend of the same id after a crash is counted: the provider
  drops it by its id);
- how long after the last recovery everything was processed.
tests/e2e/test_chaos.py runs a short schedule in CI; the command runs a longer one.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pasokh.bench.corpus import COMPLAINTS
from pasokh.bench.notifier import Gateway
from pasokh.bench.pipeline import ROUTING_SMS, start_system
from pasokh.infra.local import LocalInfra
from pasokh.infra.process import free_port
from pasokh.launcher import Service, stop_services, wait_ready
from services.settings import MongoSettings, PasokhSettings
from services.store import Store

# A service name alone is ``kill -9``; ``…-stop`` is a graceful stop (SIGTERM, as in a rolling
# update), where a worker must not acknowledge what it had not finished.
FAULTS = ("router", "notifier", "intake", "kafka", "mongo", "router-stop", "notifier-stop")
DECIDED = ("routed", "triage", "duplicate")


@dataclass
class Load:
    """Submits complaints at ``rate``/s in a thread; remembers which were accepted."""

    url: str
    rate: float
    accepted: dict[str, str] = field(default_factory=dict)  # tracking code → complaint id
    refused: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Until :meth:`stop`: one submission every 1/rate seconds (a slow answer delays the next)."""
        with httpx.Client(timeout=10.0) as client:
            started = time.monotonic()
            while not self._stop.is_set():
                i = self.sent
                self.sent += 1
                rng = random.Random(i)
                body = {
                    "text": COMPLAINTS[i % len(COMPLAINTS)],
                    "phone": f"0913{rng.randrange(10**7):07d}",
                    "district": str(1 + i % 12),
                    "channel": "web",
                }
                try:
                    response = client.post(self.url, json=body)
                    if response.status_code == 202:
                        answer = response.json()
                        self.accepted[answer["tracking_code"]] = answer["id"]
                    else:
                        self.refused[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    self.refused[type(exc).__name__] += 1
                delay = started + self.sent / self.rate - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)

    def stop(self) -> None:
        """Stop after the submission in flight."""
        self._stop.set()


def _restart_service(service: Service, *, graceful: bool = False) -> None:
    if graceful:
        service.process.stop(timeout=30)
    else:
        service.process.kill()
    service.process.start()
    wait_ready([service], timeout=120)


def _restart(infra: LocalInfra, services: dict[str, Service], target: str) -> None:
    if target in services:
        _restart_service(services[target])
    elif target.endswith("-stop") and target.removesuffix("-stop") in services:
        _restart_service(services[target.removesuffix("-stop")], graceful=True)
    elif target == "kafka":
        assert infra.kafka is not None
        infra.kafka.stop()
        infra.kafka.start()
    elif target == "mongo":
        # The wire server restarts on the same port; PostgreSQL below it (if any) keeps running.
        assert infra.mongo is not None and infra.mongo.process is not None
        infra.mongo.process.stop(timeout=15)
        infra.mongo.process.start()
        infra.mongo.process.wait_until(
            infra.mongo._answers, timeout=60, what="restarting the MongoDB-wire server"
        )
    else:
        raise ValueError(f"unknown fault target {target!r}; expected one of {FAULTS}")


async def _state(uri: str, database: str, accepted: dict[str, str]) -> dict[str, Any]:
    store = Store.connect(MongoSettings(uri=uri, database=database), app_name="pasokh-chaos")
    try:
        docs = [d async for d in store.complaints.find({}, {"tracking_code": 1, "status": 1})]
        notes = [
            n async for n in store.notifications.find({"state": "sent"}, {"complaint_id": 1, "template": 1})
        ]
    finally:
        await store.close()
    by_code = Counter(d["tracking_code"] for d in docs)
    status = {d["tracking_code"]: d["status"] for d in docs}
    sent_per = Counter((n["complaint_id"], n.get("template")) for n in notes)
    routing_sms = {cid for (cid, template) in sent_per if template in ROUTING_SMS}
    return {
        "records": len(docs),
        "missing": sorted(code for code in accepted if code not in status),
        "undecided": sorted(code for code in accepted if status.get(code) not in DECIDED),
        "stored_twice": sorted(code for code, n in by_code.items() if n > 1),
        "without_routing_sms": sorted(code for code, cid in accepted.items() if cid not in routing_sms),
        "sms_twice_for_one_template": sorted(f"{cid}/{t}" for (cid, t), n in sent_per.items() if n > 1),
    }


def run(
    *, duration: float, rate: float, schedule: list[tuple[float, str]], settle: float = 300.0
) -> dict[str, Any]:
    """Run the load for ``duration`` s with the faults of ``schedule`` ((seconds from start, target)…)."""
    settings = PasokhSettings()
    report: dict[str, Any] = {"rate": rate, "duration_s": duration, "faults": []}
    with tempfile.TemporaryDirectory(prefix="pasokh-chaos-") as tmp:
        infra = LocalInfra(settings, Path(tmp) / "infra", log=False).start()
        gateway = Gateway()
        database = f"pasokh_chaos_{free_port()}"
        ports, started = start_system(infra, gateway, Path(tmp), database)
        services = {s.name: s for s in started}
        try:
            wait_ready(started)
            load = Load(f"http://127.0.0.1:{ports['intake']}/v1/complaints", rate)
            thread = threading.Thread(target=load.run, daemon=True)
            began = time.monotonic()
            thread.start()
            last_recovery = began
            for at, target in sorted(schedule):
                time.sleep(max(0.0, began + at - time.monotonic()))
                t0 = time.monotonic()
                _restart(infra, services, target)
                last_recovery = time.monotonic()
                report["faults"].append(
                    {"at_s": round(t0 - began, 1), "target": target, "down_s": round(last_recovery - t0, 1)}
                )
            time.sleep(max(0.0, began + duration - time.monotonic()))
            load.stop()
            thread.join(30)
            deadline = time.monotonic() + settle
            while True:
                state = asyncio.run(_state(infra.mongo_uri, database, load.accepted))
                done = not (state["missing"] or state["undecided"] or state["without_routing_sms"])
                if done or time.monotonic() > deadline:
                    break
                time.sleep(2.0)
            requests = gateway.requests
            report.update(
                sent=load.sent,
                accepted=len(load.accepted),
                refused=dict(load.refused),
                done=done,
                processed_after_last_recovery_s=round(time.monotonic() - last_recovery, 1),
                sms_requests=requests,
                sms_ids=len(gateway.arrivals),
                sms_resent_same_id=requests - len(gateway.arrivals),
                **{k: (len(v) if isinstance(v, list) else v) for k, v in state.items()},
                examples={k: v[:5] for k, v in state.items() if isinstance(v, list) and v},
            )
        finally:
            stop_services(started)
            gateway.stop()
            infra.stop()
    return report


def schedule_for(duration: float, rounds: int) -> list[tuple[float, str]]:
    """``rounds`` passes over every fault, spread evenly over the middle of the run."""
    targets = [t for _ in range(rounds) for t in FAULTS]
    step = duration * 0.8 / len(targets)
    return [(duration * 0.1 + i * step, target) for i, target in enumerate(targets)]


def main(*, duration: float, rate: float, rounds: int, settle: float, as_json: bool) -> int:
    """Print the report; exit status 1 if a check failed."""
    report = run(duration=duration, rate=rate, schedule=schedule_for(duration, rounds), settle=settle)
    ok = report["done"] and not (report["stored_twice"] or report["sms_twice_for_one_template"])
    for key, value in report.items():
        print(f"{key}: {value}")
    print("chaos: all checks held" if ok else "chaos: a check failed")
    if as_json:
        print(json.dumps(report))
    return 0 if ok else 1
