"""Runs intake, router and notifier as separate processes and waits until each is ready."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from pasokh.infra.errors import InfraError
from pasokh.infra.process import ManagedProcess

SERVICES = ("intake", "router", "notifier")


@dataclass
class Service:
    """One running service and where it answers HTTP."""

    name: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        """Base URL of its HTTP server."""
        return f"http://127.0.0.1:{self.port}"


def start_services(
    ports: Mapping[str, int], env: Mapping[str, str], *, log_dir: Path | None
) -> list[Service]:
    """Start each service with ``python -m <name>``; logs go to ``log_dir`` or this terminal."""
    services = []
    for name in SERVICES:
        child_env = {**os.environ, **env, f"PASOKH_{name.upper()}__PORT": str(ports[name])}
        process = ManagedProcess(
            name,
            [sys.executable, "-m", name],
            env=child_env,
            log_path=(log_dir / f"{name}.log") if log_dir else None,
        )
        process.start()
        services.append(Service(name, ports[name], process))
    return services


def wait_ready(services: list[Service], *, timeout: float = 120.0) -> None:
    """Wait until every service answers ``/readyz`` with 200; fail naming the one that does not."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        for service in services:

            def ready(service: Service = service) -> bool:
                return client.get(f"{service.url}/readyz").status_code == 200

            service.process.wait_until(
                ready,
                timeout=max(1.0, deadline - time.monotonic()),
                what=f"waiting for {service.name} /readyz",
            )


def stop_services(services: list[Service]) -> None:
    """Stop intake first (no new work), then the router and the notifier (they finish theirs)."""
    for service in services:
        service.process.stop(timeout=20)


def check_alive(services: list[Service]) -> None:
    """Raise InfraError naming the first service that has exited."""
    for service in services:
        if not service.process.alive():
            raise InfraError(f"{service.name} exited unexpectedly", service.process.log_tail())
