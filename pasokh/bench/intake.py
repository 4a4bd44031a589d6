"""``pasokh bench intake``: submissions per second and latency of one intake process.

intake runs as its own process against real Kafka (acks=all) and the MongoDB-wire server, started
here unless PASOKH_KAFKA__BOOTSTRAP_SERVERS / PASOKH_MONGO__URI name them. The load comes from
Vegeta (pasokh.bench.vegeta) over loopback. Everything shares the machine's cores: the figures are
for all of it on one box.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from pasokh.bench import scrape, vegeta
from pasokh.bench.corpus import complaint_body
from pasokh.bench.cpu import CpuMeter, infra_pids
from pasokh.infra.local import LocalInfra
from pasokh.infra.process import ManagedProcess, free_port
from pasokh.launcher import Service, stop_services, wait_ready
from services.settings import PasokhSettings

# Distinct complaints the load cycles through (different texts, phones and districts).
TARGETS = 5000
UNLIMITED = {
    "PASOKH_INTAKE__RATE_LIMITS__IP_PER_MINUTE": "100000000",
    "PASOKH_INTAKE__RATE_LIMITS__IP_BURST": "100000000",
    "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_PER_MINUTE": "100000000",
    "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_BURST": "100000000",
    "PASOKH_LOG_LEVEL": "WARNING",
}


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# A step this slow is what puts a submission in the tail (the goal is p99 ≤ 50 ms at 1,000/s).
SLOW_STEP_S = 0.025


def submit_steps(url: str) -> dict[str, dict[str, float]]:
    """intake's own account of its submissions so far, by step (its ``/metrics``): how many, their
    seconds in all and how many took longer than :data:`SLOW_STEP_S`."""
    steps: dict[str, dict[str, float]] = {}
    family = scrape.families(url).get("pasokh_intake_submit_step_seconds")
    if family is not None:
        for sample in family.samples:
            step = steps.setdefault(sample.labels["step"], {"count": 0.0, "seconds": 0.0, "within": 0.0})
            if sample.name.endswith("_count"):
                step["count"] = sample.value
            elif sample.name.endswith("_sum"):
                step["seconds"] = sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == SLOW_STEP_S:
                step["within"] = sample.value
    return steps


def step_figures(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per step over one run: mean milliseconds and how many submissions it kept over 25 ms."""
    figures: dict[str, Any] = {}
    for step, now in after.items():
        then = before.get(step, {"count": 0.0, "seconds": 0.0, "within": 0.0})
        count = now["count"] - then["count"]
        if count <= 0:
            continue
        slow = (now["count"] - now["within"]) - (then["count"] - then["within"])
        figures[step] = {
            "mean_ms": round((now["seconds"] - then["seconds"]) * 1000 / count, 3),
            "over_25ms": int(slow),
        }
    return figures


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def run(*, rates: list[float], concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    """Run the closed-loop ceiling and each open-loop rate; return every figure."""
    settings = PasokhSettings()
    with tempfile.TemporaryDirectory(prefix="pasokh-bench-") as tmp:
        infra = LocalInfra(settings, Path(tmp) / "infra", log=False).start()
        port = free_port()
        env = {
            **os.environ,
            **infra.env(),
            **UNLIMITED,
            "PASOKH_INTAKE__PORT": str(port),
            "PASOKH_MONGO__DATABASE": f"pasokh_bench_{port}",
            "PASOKH_DATA_DIR": str(Path(tmp) / "var"),
        }
        process = ManagedProcess(
            "intake", [sys.executable, "-m", "intake"], env=env, log_path=Path(tmp) / "intake.log"
        )
        process.start()
        service = Service("intake", port, process)
        try:
            wait_ready([service])
            targets = vegeta.write_targets(
                Path(tmp) / "targets.jsonl",
                f"{service.url}/v1/complaints",
                (complaint_body(i) for i in range(TARGETS)),
            )
            results: dict[str, Any] = {"machine": machine(), "load_generator": f"vegeta {vegeta.VERSION}"}
            vegeta.attack(targets, duration=warmup, workers=concurrency)
            meter = CpuMeter({"intake": process.pid, **infra_pids(infra.kafka, infra.mongo)})

            def measured(rate: float | None) -> dict[str, Any]:
                steps = submit_steps(service.url)
                meter.start()
                if rate is None:
                    figures = vegeta.attack(targets, duration=duration, workers=concurrency)
                else:
                    figures = vegeta.attack(targets, duration=duration, rate=rate)
                figures["cpu_ms_per_accepted"] = meter.stop(per=figures["accepted"])
                figures["steps"] = step_figures(steps, submit_steps(service.url))
                return figures

            runs = [measured(None)] + [measured(rate) for rate in rates]
            results["runs"] = runs
            results["intake_rss_mib"] = rss_mib(process.pid or 0)
            return results
        finally:
            stop_services([service])
            infra.stop()


def table(results: dict[str, Any]) -> str:
    """The figures as a readable table."""
    lines = [
        f"machine: {results['machine']['cpu']} × {results['machine']['cores']} cores; "
        f"intake RSS after the runs: {results.get('intake_rss_mib')} MiB",
        f"{'mode':<8}{'target/s':>10}{'conc':>6}{'sent':>8}{'202/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}  other answers",
    ]
    for r in results["runs"]:
        lat = r["latency_ms"]
        other = {k: v for k, v in r["statuses"].items() if k != "202"} | r["errors"]
        head = f"{r['mode']:<8}{r['target_rate'] or '-':>10}{r['concurrency'] or '-':>6}{r['sent']:>8}"
        figures = f"{r['accepted_per_s']:>9}{lat['p50']:>9}{lat['p95']:>9}{lat['p99']:>9}{lat['max']:>9}"
        lines.append(f"{head}{figures}  {other or ''}")
    lines.append(
        "CPU ms per accepted submission, by process "
        "(machine = all cores; other = the load generator and the rest):"
    )
    for r in results["runs"]:
        cpu = r.get("cpu_ms_per_accepted", {})
        label = f"{r['mode']} {r['target_rate'] or ''}".strip()
        lines.append(f"  {label:<12}" + "  ".join(f"{k} {v}" for k, v in cpu.items()))
    lines.append("Steps of a submission, as intake timed them: mean ms (submissions over 25 ms):")
    for r in results["runs"]:
        label = f"{r['mode']} {r['target_rate'] or ''}".strip()
        steps = r.get("steps", {})
        lines.append(
            f"  {label:<12}" + "  ".join(f"{k} {v['mean_ms']} ({v['over_25ms']})" for k, v in steps.items())
        )
    return "\n".join(lines)


def main(*, rates: list[float], concurrency: int, duration: float, warmup: float, as_json: bool) -> None:
    """Print the table, then (with ``as_json``) one JSON line."""
    results = run(rates=rates, concurrency=concurrency, duration=duration, warmup=warmup)
    print(table(results))
    if as_json:
        print(json.dumps(results))
