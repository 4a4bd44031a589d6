"""``pasokh bench notifier``: SMS handed to the provider per second by one notifier process.

The events topic is pre-filled with ``complaint.routed`` events (each for its own complaint and phone,
recorded in MongoDB as intake and the router would), then one notifier process (``python -m
notifier``) is started with the ``http`` provider pointed at a local gateway in this process, which
counts what it receives per second. Quiet hours and the coalescing window are switched off, so every
event calls for one SMS at once. Kafka and the MongoDB-wire server are started here unless
PASOKH_KAFKA__BOOTSTRAP_SERVERS / PASOKH_MONGO__URI name them; on a broker shared with other work the
notifier's consumer group first works through whatever backlog the topics hold, so measure on a broker
of its own. The notifier's MongoDB commands (round trips) and the time they took are read from its
/metrics before and after the run (``pasokh_mongo_commands_total``, ``…_command_seconds_total``)
and reported per SMS, with the CPU time per SMS of the notifier, the servers and this process (the
gateway). Afterwards the cost of the notifier's per-SMS round trips is measured one by one (MongoDB
reads and writes of the outbox, the acknowledged Kafka produce), to say where the time goes.

``--with-submitted`` also puts each complaint's ``complaint.submitted`` on the submitted topic ahead of
its decision, as intake does, with only the decision's SMS called for (in a city the decision follows
within the coalescing window and supersedes the "received" SMS): the notifier then knows the phone
from the submission (notifier/facts.py) and reads no complaint record.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from notifier.sms import Sms
from notifier.sms.http import HttpSms
from pasokh.bench import scrape
from pasokh.bench.cpu import CpuMeter, infra_pids
from pasokh.bench.intake import machine, rss_mib
from pasokh.infra.local import LocalInfra
from pasokh.infra.process import ManagedProcess, free_port
from pasokh.launcher import Service, stop_services, wait_ready
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.contracts.envelope import new_event
from services.contracts.notifications import NotificationSent
from services.privacy import Sealer
from services.settings import KafkaSettings, MongoSettings, PasokhSettings
from services.store import Store

AT_ONCE = {
    # Every routed event calls for one SMS now: no quiet hours (start = end), no coalescing window.
    "PASOKH_POLICY__QUIET_START": "00:00",
    "PASOKH_POLICY__QUIET_END": "00:00",
    "PASOKH_POLICY__COALESCE_SECONDS": "0",
    "PASOKH_LOG_LEVEL": "WARNING",
}


class Gateway:
    """The ``http`` SMS provider's API on loopback (HTTP/1.1 keep-alive); notes when each SMS came."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.requests = 0
        lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; without TCP_NODELAY the second waits for the
            # client's delayed ACK (~40 ms on Linux loopback) and the gateway, not the notifier,
            # would set the pace.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.monotonic()
                try:
                    sms_id = str(json.loads(body)["id"])
                except (ValueError, KeyError, TypeError):
                    # Cut short (the sender was killed mid-request, in crash tests): not an SMS.
                    self.send_error(400)
                    return
                with lock:
                    gateway.requests += 1
                    gateway.arrivals.setdefault(sms_id, now)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionError:
                    pass  # the sender went away mid-request

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the notifier posts (PASOKH_SMS__URL)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/sms"

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _complaint(i: int, sealer: Sealer) -> tuple[ComplaintSubmitted, ComplaintRouted]:
    phone = f"+98912{i:07d}"
    sub = ComplaintSubmitted(
        complaint_id=str(uuid.uuid4()),
        tracking_code=f"{1405000000 + i}",
        text="چراغ کوچه خاموش است",
        channel="web",
        language="fa",
        submitted_at=datetime.now(UTC),
        phone_sealed=sealer.seal(phone),
        phone_hash=sealer.lookup_hash(phone),
    )
    decision = ComplaintRouted(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        category="lighting",
        department="lighting",
        priority="normal",
        confidence=0.9,
        classifier="bench",
        language="fa",
        due_at=datetime.now(UTC) + timedelta(hours=48),
    )
    return sub, decision


async def prefill(
    settings: PasokhSettings, store: Store, publisher: KafkaPublisher, count: int, *, submitted: bool = False
) -> None:
    """Record ``count`` complaints and put one routed event for each on the events topic (with
    ``submitted``, their submitted events on the submitted topic first)."""
    sealer = Sealer(settings.secret_key.get_secret_value())
    pairs = [_complaint(i, sealer) for i in range(count)]
    for start in range(0, count, 500):
        chunk = pairs[start : start + 500]
        await records.record_received_many(
            store, [records.received_record(sub, event_id=str(uuid.uuid4())) for sub, _ in chunk]
        )
        if submitted:
            await asyncio.gather(
                *(
                    publisher.publish(
                        topics.SUBMITTED, new_event(sub, subject=sub.complaint_id, source="/pasokh/intake")
                    )
                    for sub, _ in chunk
                )
            )
        await asyncio.gather(
            *(
                publisher.publish(
                    topics.EVENTS, new_event(decision, subject=decision.complaint_id, source="/pasokh/router")
                )
                for _, decision in chunk
            )
        )


async def round_trips(
    store: Store, publisher: KafkaPublisher, gateway_url: str, samples: int
) -> dict[str, float]:
    """Median milliseconds of each kind of round trip the notifier makes per SMS, one at a time."""
    probe = store.db[f"bench_probe_{uuid.uuid4().hex[:8]}"]
    timings: dict[str, list[float]] = {}

    async def timed(name: str, call: Awaitable[object]) -> None:
        began = time.perf_counter()
        await call
        timings.setdefault(name, []).append((time.perf_counter() - began) * 1000)

    for i in range(samples):
        doc_id = f"p{i}"
        await timed("insert", probe.insert_one({"_id": doc_id, "state": "sending", "attempts": 0}))
        await timed("find_one", probe.find_one({"_id": doc_id}))
        await timed(
            "find_one_and_update", probe.find_one_and_update({"_id": doc_id}, {"$inc": {"attempts": 1}})
        )
        await timed("update", probe.update_one({"_id": doc_id}, {"$set": {"state": "sent"}}))
    await probe.drop()
    # A query on fields other than _id over the notifications the run left (the coalescing-group,
    # per-phone-limit and supersede queries of each SMS are of this kind).
    for _ in range(min(samples, 50)):
        query = {"group": f"status:{uuid.uuid4()}", "state": {"$in": ["deferred", "sending", "sent"]}}
        await timed("find_one_by_group", store.notifications.find_one(query))
    # What the notifier publishes after each SMS, acknowledged by every replica (acks=all).
    sent = NotificationSent(
        complaint_id="bench-probe",
        notification_id="bench-probe",
        cause_event_id="bench-probe",
        template="routed",
        provider="http",
        segments=1,
        sent_at=datetime.now(UTC),
    )
    sms = HttpSms(gateway_url, timeout=10)
    try:
        for i in range(samples):
            await timed("sms_http_send", sms.send(Sms(id=f"probe-{i}", to="+989120000000", text="probe")))
    finally:
        await sms.close()
    for _ in range(samples):
        event = new_event(sent, subject="bench-probe", source="/pasokh/bench")
        await timed("kafka_produce", publisher.publish(topics.EVENTS, event))
    return {name: round(statistics.median(values), 2) for name, values in timings.items()}


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _cpu_seconds(pid: int | None) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mongo_commands(port: int, family_name: str = "pasokh_mongo_commands") -> dict[str, float]:
    """A counter of the notifier's MongoDB commands so far by name, from its /metrics (empty if it
    has none): how many (``pasokh_mongo_commands``) or how long they took (``…_seconds``)."""
    try:
        return scrape.by_command(scrape.families(f"http://127.0.0.1:{port}"), family_name)
    except OSError:
        return {}


def per_sms(commands: dict[str, float], before: dict[str, float], sms: int) -> dict[str, float]:
    """MongoDB commands per SMS while sending, by name and in all (``total``)."""
    spent = {name: count - before.get(name, 0) for name, count in commands.items()}
    spent = {name: n for name, n in spent.items() if n > 0}
    if not spent or not sms:
        return {}
    return {
        **{name: round(n / sms, 3) for name, n in sorted(spent.items())},
        "total": round(sum(spent.values()) / sms, 3),
    }


SECONDS = "pasokh_mongo_command_seconds"


def _rate(arrivals: list[float]) -> float | None:
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0
    return round((len(arrivals) - 1) / span, 1) if span else None


def figures(arrivals: list[float], count: int) -> dict[str, Any]:
    """Rates from the gateway's arrival times (monotonic seconds)."""
    if len(arrivals) < 2:
        return {"received": len(arrivals), "expected": count}
    arrivals = sorted(arrivals)
    span = arrivals[-1] - arrivals[0]
    lo, hi = arrivals[len(arrivals) // 10], arrivals[(len(arrivals) * 9) // 10]
    middle = (len(arrivals) * 9) // 10 - len(arrivals) // 10
    per_second: dict[int, int] = {}
    for at in arrivals:
        second = int(at - arrivals[0])
        per_second[second] = per_second.get(second, 0) + 1
    full = [per_second.get(s, 0) for s in range(int(span))]  # whole seconds only
    return {
        "received": len(arrivals),
        "expected": count,
        "seconds": round(span, 2),
        "sms_per_s": round((len(arrivals) - 1) / span, 1) if span else None,
        "sms_per_s_middle_80pct": round(middle / (hi - lo), 1) if hi > lo else None,
        "sms_per_s_first_10pct": _rate(arrivals[: len(arrivals) // 10]),
        "sms_per_s_last_10pct": _rate(arrivals[-(len(arrivals) // 10) :]),
        "per_second_min": min(full) if full else None,
        "per_second_max": max(full) if full else None,
        # SMS in each whole second from the first one: shows pauses the averages hide.
        "per_second": full,
    }


# With the submitted events: only the decision's SMS, as in a city where the decision follows within
# the coalescing window and supersedes the "received" SMS (docs/notifier.md).
ROUTED_ONLY = {"PASOKH_POLICY__CITIZEN_TEMPLATES": json.dumps({"complaint.routed": ["routed"]})}


def run(*, count: int, timeout: float, samples: int, submitted: bool = False) -> dict[str, Any]:
    """Pre-fill, run one notifier until the gateway has every SMS, measure; return the figures."""
    settings = PasokhSettings()
    with tempfile.TemporaryDirectory(prefix="pasokh-bench-notifier-") as tmp:
        infra = LocalInfra(settings, Path(tmp) / "infra", log=False).start()
        gateway = Gateway()
        database = f"pasokh_bench_notifier_{uuid.uuid4().hex[:8]}"
        store = Store.connect(MongoSettings(uri=infra.mongo_uri, database=database), app_name="pasokh-bench")
        kafka = KafkaSettings(**{**settings.kafka.model_dump(), "bootstrap_servers": infra.bootstrap_servers})
        publisher = KafkaPublisher(kafka, client_id="pasokh-bench")
        loop = asyncio.new_event_loop()
        service: Service | None = None
        try:
            loop.run_until_complete(store.ensure_indexes())
            loop.run_until_complete(publisher.start())
            began = time.monotonic()
            loop.run_until_complete(prefill(settings, store, publisher, count, submitted=submitted))
            prefill_s = round(time.monotonic() - began, 1)
            port = free_port()
            env = {
                **os.environ,
                **infra.env(),
                **AT_ONCE,
                **(ROUTED_ONLY if submitted else {}),
                "PASOKH_MONGO__DATABASE": database,
                "PASOKH_SMS__PROVIDER": "http",
                "PASOKH_SMS__URL": gateway.url,
                "PASOKH_NOTIFIER__PORT": str(port),
                "PASOKH_DATA_DIR": str(Path(tmp) / "var"),
            }
            process = ManagedProcess(
                "notifier", [sys.executable, "-m", "notifier"], env=env, log_path=Path(tmp) / "notifier.log"
            )
            started = time.monotonic()
            process.start()
            service = Service("notifier", port, process)
            wait_ready([service])
            ready_s = round(time.monotonic() - started, 1)
            cpu_before = _cpu_seconds(process.pid)
            # Where the cores went, per SMS: the notifier, the servers, this process (the gateway).
            meter = CpuMeter({"notifier": process.pid, **infra_pids(infra.kafka, infra.mongo)})
            meter.start()
            gateway_before = _own_cpu_seconds()
            commands_before = mongo_commands(port)
            seconds_before = mongo_commands(port, SECONDS)
            deadline, last, last_change = time.monotonic() + timeout, -1, time.monotonic()
            while time.monotonic() < deadline and len(gateway.arrivals) < count:
                time.sleep(0.5)
                if len(gateway.arrivals) != last:
                    last, last_change = len(gateway.arrivals), time.monotonic()
                elif time.monotonic() - last_change > 30:
                    break  # no progress for 30 s: report what arrived
            arrivals = list(gateway.arrivals.values())
            cpu_after = _cpu_seconds(process.pid)
            cpu_per_sms = meter.stop(len(arrivals))
            if arrivals:  # this process alone (not its children, the servers and the notifier)
                gateway_ms = (_own_cpu_seconds() - gateway_before) * 1000 / len(arrivals)
                cpu_per_sms = {**cpu_per_sms, "gateway": round(gateway_ms, 3)}
                cpu_per_sms["other"] = round(cpu_per_sms["other"] - gateway_ms, 3)
            commands = per_sms(mongo_commands(port), commands_before, len(arrivals))
            waited = per_sms(
                {k: v * 1000 for k, v in mongo_commands(port, SECONDS).items()},
                {k: v * 1000 for k, v in seconds_before.items()},
                len(arrivals),
            )
            results: dict[str, Any] = {
                "machine": machine(),
                "mongo": infra.mongo.kind if infra.mongo else "PASOKH_MONGO__URI",
                "kafka": "local broker" if infra.kafka else "PASOKH_KAFKA__BOOTSTRAP_SERVERS",
                "submitted_events": submitted,
                "prefill_s": prefill_s,
                "notifier_ready_s": ready_s,
                **figures(arrivals, count),
                "gateway_requests": gateway.requests,
                "notifier_rss_mib": rss_mib(process.pid or 0),
                "notifier_batch_size": int(env.get("PASOKH_NOTIFIER__BATCH_SIZE", "200")),
                "mongo_commands_per_sms": commands,
                "mongo_ms_per_sms": waited,
                "cpu_ms_per_sms": cpu_per_sms,
            }
            if cpu_before is not None and cpu_after is not None and len(arrivals) > 1:
                busy = max(arrivals) - min(arrivals)
                results["notifier_cpu_ms_per_sms"] = round((cpu_after - cpu_before) * 1000 / len(arrivals), 2)
                results["notifier_cpu_share"] = round((cpu_after - cpu_before) / busy, 2) if busy else None
            stop_services([service])
            service = None
            if len(arrivals) < count:
                results["notifier_log_tail"] = process.log_tail(60)
            results["notifications_in_collection"] = loop.run_until_complete(
                store.notifications.count_documents({})
            )
            results["round_trip_ms"] = loop.run_until_complete(
                round_trips(store, publisher, gateway.url, samples)
            )
            return results
        finally:
            if service is not None:
                stop_services([service])
            loop.run_until_complete(publisher.stop())
            loop.run_until_complete(store.client.drop_database(database))
            loop.run_until_complete(store.close())
            loop.close()
            gateway.stop()
            infra.stop()


def table(results: dict[str, Any]) -> str:
    """The figures as readable lines."""
    rt = results.get("round_trip_ms", {})
    return "\n".join(
        [
            f"machine: {results['machine']['cpu']} × {results['machine']['cores']} cores; "
            f"mongo: {results['mongo']}; kafka: {results['kafka']}",
            f"pre-filled {results['expected']} routed events"
            + (" and their submitted events" if results.get("submitted_events") else "")
            + f" in {results['prefill_s']} s; "
            f"notifier ready in {results['notifier_ready_s']} s",
            f"SMS received by the gateway: {results['received']} of {results['expected']} "
            f"in {results.get('seconds')} s",
            f"SMS/s: {results.get('sms_per_s')} overall, {results.get('sms_per_s_middle_80pct')} in the "
            f"middle 80 %; first 10 % {results.get('sms_per_s_first_10pct')}, last 10 % "
            f"{results.get('sms_per_s_last_10pct')}; per whole second "
            f"{results.get('per_second_min')}–{results.get('per_second_max')}",
            f"notifier: {results.get('notifier_cpu_ms_per_sms')} ms CPU per SMS, "
            f"{results.get('notifier_cpu_share')} of a core while sending; "
            f"RSS {results.get('notifier_rss_mib')} MiB",
            "CPU ms per SMS by process: "
            + ", ".join(f"{k} {v}" for k, v in results.get("cpu_ms_per_sms", {}).items()),
            "MongoDB commands (round trips) per SMS: "
            + (
                ", ".join(f"{k} {v}" for k, v in results.get("mongo_commands_per_sms", {}).items())
                or "not counted"
            ),
            "MongoDB command time per SMS, ms (concurrent commands add up): "
            + (
                ", ".join(f"{k} {v}" for k, v in results.get("mongo_ms_per_sms", {}).items())
                or "not measured"
            ),
            f"one round trip, median ms ({results.get('notifications_in_collection')} notification records): "
            + ", ".join(f"{k} {v}" for k, v in rt.items()),
        ]
    )


def main(*, count: int, timeout: float, samples: int, as_json: bool, submitted: bool = False) -> None:
    """Print the figures, then (with ``as_json``) one JSON line."""
    results = run(count=count, timeout=timeout, samples=samples, submitted=submitted)
    print(table(results))
    if "notifier_log_tail" in results:
        print("not every SMS arrived; the notifier's log ends with:\n" + results["notifier_log_tail"])
    if as_json:
        print(json.dumps(results))
