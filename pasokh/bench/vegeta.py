"""HTTP load from Vegeta (github.com/tsenart/vegeta), built once from the Go module proxy.

A load generator written in Go costs a fraction of the CPU a Python one does, which matters on a
two-core machine where the generator shares the cores with the service it measures. Vegeta's open
loop sends at a constant rate whatever the answers take (workers are added as needed, so a slow
server cannot slow the arrivals down); ``rate=None`` is its closed loop at a fixed number of workers.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pasokh.infra.gotools import go_install

PACKAGE, VERSION = "github.com/tsenart/vegeta/v12", "v12.13.0"


def install() -> Path:
    """The vegeta binary (cached under ~/.cache/pasokh)."""
    return go_install(PACKAGE, VERSION, "vegeta")


def write_targets(path: Path, url: str, bodies: Iterable[dict[str, Any]]) -> Path:
    """Vegeta's JSON target format: one POST of a JSON body per line, sent round robin."""
    with path.open("w") as out:
        for body in bodies:
            target = {
                "method": "POST",
                "url": url,
                "header": {"Content-Type": ["application/json"]},
                "body": base64.b64encode(json.dumps(body, ensure_ascii=False).encode()).decode(),
            }
            out.write(json.dumps(target) + "\n")
    return path


def _ms(nanoseconds: int | float) -> float:
    return round(nanoseconds / 1e6, 2)


def summary(
    report: dict[str, Any], *, mode: str, rate: float | None, workers: int | None, ok: str = "202"
) -> dict[str, Any]:
    """Vegeta's JSON report as this project's run summary: accepted/s and latency percentiles in ms."""
    statuses = {k: v for k, v in sorted(report.get("status_codes", {}).items()) if k != "0"}
    elapsed = (report["duration"] + report["wait"]) / 1e9
    accepted = statuses.get(ok, 0)
    lat = report["latencies"]
    failed = report.get("status_codes", {}).get("0", 0)
    return {
        "mode": mode,
        "target_rate": rate,
        "concurrency": workers,
        "duration_s": round(elapsed, 2),
        "sent": report["requests"],
        "accepted": accepted,
        "accepted_per_s": round(accepted / elapsed, 1) if elapsed else 0.0,
        "statuses": statuses,
        "errors": {"no answer": failed, "kinds": (report.get("errors") or [])[:5]} if failed else {},
        "latency_ms": {
            "p50": _ms(lat["50th"]),
            "p90": _ms(lat["90th"]),
            "p95": _ms(lat["95th"]),
            "p99": _ms(lat["99th"]),
            "max": _ms(lat["max"]),
        },
    }


def attack(
    targets: Path,
    *,
    duration: float,
    rate: float | None = None,
    workers: int = 64,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """One run: open loop at ``rate`` requests/s, or closed loop with ``workers`` when ``rate`` is None."""
    vegeta = install()
    pace = ["-rate", f"{rate:g}/1s"] if rate else ["-rate", "0", "-max-workers", str(workers)]
    with tempfile.TemporaryDirectory(prefix="pasokh-vegeta-") as tmp:
        results = Path(tmp) / "results.bin"
        subprocess.run(
            [
                str(vegeta), "attack", "-format", "json", "-targets", str(targets),
                "-duration", f"{duration:g}s", "-timeout", f"{timeout:g}s", "-workers", str(workers),
                "-max-body", "0", "-output", str(results), *pace,
            ],
            check=True,
        )  # fmt: skip
        report = subprocess.run(
            [str(vegeta), "report", "-type", "json", str(results)],
            check=True,
            capture_output=True,
            text=True,
        )
    return summary(
        json.loads(report.stdout),
        mode="open" if rate else "closed",
        rate=rate,
        workers=None if rate else workers,
    )
