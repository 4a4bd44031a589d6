"""``pasokh bench``: the whole pipeline under open-loop load, beside the ceiling of its raw parts.

Kafka and the MongoDB-wire server are started here (unless PASOKH_KAFKA__BOOTSTRAP_SERVERS /
PASOKH_MONGO__URI name them), then intake, router and notifier as separate processes, the notifier's
``http`` SMS provider pointed at a local gateway in this process (pasokh.bench.notifier.Gateway).
Vegeta sends realistic Persian complaints at each target rate for ``duration`` seconds; afterwards the
run waits (up to ``drain`` seconds) until the SMS stop coming. The end-to-end rate is the complaints of
the window whose routing SMS reached the gateway, divided by the time from the window's start to the
last of those SMS (so a backlog still draining after the load stopped counts against it). Per
complaint accepted in the window:
submitted → routed from its record (created_at → decided_at), submitted → first SMS and submitted →
the SMS about its routing from the gateway's arrival times (the SMS id is the notification record's id,
which names the complaint and template). Quiet hours, coalescing, surveys and the per-phone limit are
off, so each complaint calls for its "received" and "routed" SMS at once. Then the services stop and
the raw ceiling is measured on the same servers (pasokh.bench.ceiling): the pipeline's rate is
reported as a fraction of the slowest raw stage a complaint passes through.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pasokh.bench import ceiling, vegeta
from pasokh.bench.corpus import complaint_body
from pasokh.bench.cpu import CpuMeter, infra_pids
from pasokh.bench.intake import UNLIMITED, machine, rss_mib
from pasokh.bench.notifier import AT_ONCE, Gateway
from pasokh.infra.local import LocalInfra
from pasokh.infra.process import free_port
from pasokh.launcher import SERVICES, Service, start_services, stop_services, wait_ready
from services.settings import MongoSettings, PasokhSettings
from services.store import Store

TARGETS = 20_000
QUIET = {
    **UNLIMITED,
    **AT_ONCE,
    "PASOKH_POLICY__SURVEY": "false",
    "PASOKH_POLICY__MAX_PER_HOUR": "1000000",
}
FIRST_SMS = ("received", "routed", "triage", "duplicate")
ROUTING_SMS = ("routed", "triage", "duplicate")


def start_system(
    infra: LocalInfra, gateway: Gateway, work: Path, database: str
) -> tuple[dict[str, int], list[Service]]:
    """intake, router and notifier on ``infra``, SMS to ``gateway``, measuring settings (:data:`QUIET`);
    returns their ports and the started (not yet ready) services."""
    env = {
        **infra.env(),
        **QUIET,
        "PASOKH_SMS__PROVIDER": "http",
        "PASOKH_SMS__URL": gateway.url,
        "PASOKH_MONGO__DATABASE": database,
        "PASOKH_DATA_DIR": str(work / "var"),
    }
    ports = {name: free_port() for name in SERVICES}
    return ports, start_services(ports, env, log_dir=work)


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def _dist(values_ms: list[float]) -> dict[str, Any]:
    return {
        "n": len(values_ms),
        **{f"p{p}": _pct(values_ms, p) for p in (50, 95, 99)},
        "max": _pct(values_ms, 100),
    }


async def _latencies(
    uri: str, database: str, since: datetime, until: datetime, arrivals: dict[str, float]
) -> dict[str, Any]:
    """Per-complaint latencies (ms) of the complaints created in [since, until]."""
    store = Store.connect(MongoSettings(uri=uri, database=database), app_name="pasokh-bench")
    try:
        created: dict[str, datetime] = {}
        routed_ms: list[float] = []
        async for doc in store.complaints.find(
            {"created_at": {"$gte": since, "$lte": until}}, {"created_at": 1, "decided_at": 1}
        ):
            created[doc["_id"]] = doc["created_at"]
            if doc.get("decided_at"):
                routed_ms.append((doc["decided_at"] - doc["created_at"]).total_seconds() * 1000)
        first: dict[str, float] = {}
        routing: dict[str, float] = {}
        last = since.timestamp()
        ids = list(created)
        for i in range(0, len(ids), 1000):
            async for note in store.notifications.find(
                {"complaint_id": {"$in": ids[i : i + 1000]}}, {"complaint_id": 1, "template": 1}
            ):
                arrived = arrivals.get(note["_id"])
                if arrived is None:
                    continue
                complaint_id, template = note["complaint_id"], note.get("template")
                ms = (arrived - created[complaint_id].timestamp()) * 1000
                if template in FIRST_SMS:
                    first[complaint_id] = min(ms, first.get(complaint_id, ms))
                if template in ROUTING_SMS:
                    routing[complaint_id] = ms
                    last = max(last, arrived)
        return {
            "complaints": len(created),
            "submitted_to_routed_ms": _dist(routed_ms),
            "submitted_to_first_sms_ms": _dist(list(first.values())),
            "submitted_to_routing_sms_ms": _dist(list(routing.values())),
            "without_routing_sms": len(created) - len(routing),
            # From the first submission of the run to the last SMS about a routing.
            "span_s": round(last - since.timestamp(), 2),
        }
    finally:
        await store.close()


def _drain(gateway: Gateway, limit: float) -> float:
    """Wait until the gateway has had no SMS for 5 s (or ``limit`` s passed); the seconds waited."""
    began = time.monotonic()
    last, quiet_since = gateway.requests, time.monotonic()
    while time.monotonic() - began < limit:
        time.sleep(1.0)
        if gateway.requests != last:
            last, quiet_since = gateway.requests, time.monotonic()
        elif time.monotonic() - quiet_since >= 5:
            break
    return round(time.monotonic() - began, 1)


def run(*, rates: list[float], duration: float, warmup: float, drain: float, raw: bool) -> dict[str, Any]:
    """Every figure of one benchmark run."""
    settings = PasokhSettings()
    results: dict[str, Any] = {"machine": machine(), "load_generator": f"vegeta {vegeta.VERSION}", "runs": []}
    with tempfile.TemporaryDirectory(prefix="pasokh-bench-") as tmp:
        infra = LocalInfra(settings, Path(tmp) / "infra", log=False).start()
        results["mongo"] = infra.mongo.kind if infra.mongo else "external"
        gateway = Gateway()
        # Gateway arrivals are on the monotonic clock; records carry wall-clock times.
        wall_offset = time.time() - time.monotonic()
        database = f"pasokh_bench_{uuid.uuid4().hex[:8]}"
        ports, services = start_system(infra, gateway, Path(tmp), database)
        try:
            wait_ready(services)
            targets = vegeta.write_targets(
                Path(tmp) / "targets.jsonl",
                f"http://127.0.0.1:{ports['intake']}/v1/complaints",
                (complaint_body(i) for i in range(TARGETS)),
            )
            if warmup:
                vegeta.attack(targets, duration=warmup, rate=min(rates))
                _drain(gateway, drain)
            meter = CpuMeter({s.name: s.process.pid for s in services} | infra_pids(infra.kafka, infra.mongo))
            for rate in rates:
                sms_before = gateway.requests
                since = datetime.now(UTC)
                meter.start()
                intake = vegeta.attack(targets, duration=duration, rate=rate)
                until = datetime.now(UTC)
                waited = _drain(gateway, drain)
                arrivals = {k: v + wall_offset for k, v in gateway.arrivals.items()}
                figures = asyncio.run(_latencies(infra.mongo_uri, database, since, until, arrivals))
                span = figures["span_s"]
                routed = figures["complaints"] - figures["without_routing_sms"]
                results["runs"].append(
                    {
                        "target_rate": rate,
                        "intake": intake,
                        **figures,
                        "drain_s": waited,
                        "sms_handed": gateway.requests - sms_before,
                        "end_to_end_per_s": round(routed / span, 1) if span else 0.0,
                        # Load and drain: what each process spent per complaint routed and told by SMS.
                        "cpu_ms_per_complaint": meter.stop(per=routed),
                    }
                )
            results["rss_mib"] = {s.name: rss_mib(s.process.pid or 0) for s in services}
        finally:
            stop_services(services)
            gateway.stop()
        if raw:
            raw_figures = asyncio.run(ceiling.measure(infra.bootstrap_servers, infra.mongo_uri))
            results["ceiling"] = raw_figures
            slowest = min(
                raw_figures["kafka_produce_per_s"],
                raw_figures["kafka_consume_per_s"],
                raw_figures["mongo_upserts_per_s"],
            )
            for run_ in results["runs"]:
                run_["fraction_of_ceiling"] = (
                    round(run_["end_to_end_per_s"] / slowest, 3) if slowest else None
                )
        infra.stop()
    return results


def table(results: dict[str, Any]) -> str:
    """The figures as a readable table."""
    lines = [
        f"machine: {results['machine']['cpu']} × {results['machine']['cores']} cores; "
        f"mongo: {results['mongo']}; RSS MiB after the runs: {results.get('rss_mib')}",
        f"{'rate/s':>7}{'202/s':>8}{'p99 ms':>8}{'e2e/s':>7}{'routed p95':>11}{'1st SMS p50':>12}"
        f"{'1st SMS p95':>12}{'route SMS p95':>14}{'no SMS':>7}{'drain s':>8}{'of ceiling':>11}",
    ]
    for r in results["runs"]:
        lines.append(
            f"{r['target_rate']:>7g}{r['intake']['accepted_per_s']:>8}{r['intake']['latency_ms']['p99']:>8}"
            f"{r['end_to_end_per_s']:>7}{r['submitted_to_routed_ms']['p95']!s:>11}"
            f"{r['submitted_to_first_sms_ms']['p50']!s:>12}{r['submitted_to_first_sms_ms']['p95']!s:>12}"
            f"{r['submitted_to_routing_sms_ms']['p95']!s:>14}{r['without_routing_sms']:>7}{r['drain_s']:>8}"
            f"{r.get('fraction_of_ceiling')!s:>11}"
        )
    lines.append(
        "CPU ms per complaint by process (machine = all cores; other = load generator, gateway, rest):"
    )
    for r in results["runs"]:
        cpu = r.get("cpu_ms_per_complaint", {})
        lines.append(f"{r['target_rate']:>7g}  " + "  ".join(f"{k} {v}" for k, v in cpu.items()))
    if "ceiling" in results:
        lines.append("raw ceiling on the same servers (per s): " + json.dumps(results["ceiling"]))
    return "\n".join(lines)


def main(
    *, rates: list[float], duration: float, warmup: float, drain: float, raw: bool, as_json: bool
) -> None:
    """Print the table, then (with ``as_json``) one JSON line."""
    os.environ.setdefault("PASOKH_LOG_LEVEL", "WARNING")
    results = run(rates=rates, duration=duration, warmup=warmup, drain=drain, raw=raw)
    print(table(results))
    if as_json:
        print(json.dumps(results, default=str))
