"""``pasokh up``: the infrastructure (unless configured), the topics, then the three services."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from pasokh.infra.errors import InfraError
from pasokh.infra.local import LocalInfra
from pasokh.launcher import check_alive, start_services, stop_services, wait_ready
from services.settings import DEFAULT_PORTS, PasokhSettings

CURL_EXAMPLE = """\
Try it:
  curl -s -X POST {intake}/v1/complaints -H 'Content-Type: application/json' \\
    -d '{{"text": "چراغ‌های کوچه ما سه شب است خاموش است", "phone": "09121234567", "district": "3"}}'
  curl -s {intake}/v1/complaints/<tracking_code>
The SMS appears in the notifier's log below (PASOKH_SMS__PROVIDER=log)."""


def _ports(environ: dict[str, str]) -> dict[str, int]:
    return {
        name: int(environ.get(f"PASOKH_{name.upper()}__PORT", port)) for name, port in DEFAULT_PORTS.items()
    }


def run(environ: dict[str, str], *, log_dir: Path | None = None) -> int:
    """Run everything until SIGINT/SIGTERM; return the exit status."""
    settings = PasokhSettings()
    stop = threading.Event()
    received: list[int] = []
    starting = True

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()
        if starting:  # abort a download, a build or a wait at once; `finally` cleans up
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    infra = LocalInfra(settings, settings.data_dir.resolve() / "infra")
    services = []
    status = 0
    try:
        infra.start()
        services = start_services(_ports(environ), infra.env(), log_dir=log_dir)
        wait_ready(services)
        starting = False
        intake_url = services[0].url
        print("\nPasokh is up:", flush=True)
        for service in services:
            print(f"  {service.name:<9} {service.url}  (/healthz /readyz /metrics)", flush=True)
        print(f"  API docs  {intake_url}/docs", flush=True)
        print(f"  citizens  {intake_url}/  (submit; /track to follow a complaint)", flush=True)
        print(f"  staff     {intake_url}/console  (accounts: pasokh users create)", flush=True)
        print(f"  public    {intake_url}/transparency  (open data: /open-data/stats.json, .csv)", flush=True)
        print(flush=True)
        print(CURL_EXAMPLE.format(intake=intake_url), flush=True)
        print("Press Ctrl-C to stop.\nready", flush=True)
        while not stop.wait(1.0):
            check_alive(services)
    except KeyboardInterrupt:
        status = 130
    except InfraError as exc:
        print(f"\npasokh up: {exc}", flush=True)
        status = 1
    finally:
        starting = False
        print("stopping…", flush=True)
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        stop_services(services)
        infra.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped.", flush=True)
    return status
