"""CPU time of the processes a benchmark runs, so its figures say where the cores went.

On a 2-core machine shared by intake, Kafka, the MongoDB-wire server and the load generator, the
throughput of one part is set by what the others leave it; CPU milliseconds per request, per
process, are the figures that stay comparable across runs and machines.
"""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its living descendants (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


class CpuMeter:
    """CPU seconds spent by named process trees between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self._pids = {name: pid for name, pid in pids.items() if pid}
        self._started: dict[str, float] = {}
        self._machine_started = 0.0

    @staticmethod
    def _machine() -> float:
        times = psutil.cpu_times()
        return float(times.user + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0))

    def start(self) -> None:
        """Take the starting readings."""
        self._started = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._machine_started = self._machine()

    def stop(self, per: float) -> dict[str, float]:
        """Milliseconds of CPU per unit of work (``per`` units done since :meth:`start`), by process.

        ``machine`` is every core's busy time, ``other`` what no named process accounts for (the load
        generator, other work on the machine).
        """
        spent = {name: cpu_seconds(pid) - self._started[name] for name, pid in self._pids.items()}
        spent["machine"] = self._machine() - self._machine_started
        spent["other"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
        if per <= 0:
            return dict.fromkeys(spent, 0.0)
        return {name: round(seconds * 1000 / per, 3) for name, seconds in spent.items()}


def infra_pids(kafka: object | None, mongo: object | None) -> dict[str, int | None]:
    """The server processes a :class:`pasokh.infra.local.LocalInfra` started, by name."""
    pids: dict[str, int | None] = {}
    if kafka is not None and getattr(kafka, "process", None) is not None:
        pids["kafka"] = kafka.process.pid  # type: ignore[attr-defined]
    if mongo is not None and getattr(mongo, "process", None) is not None:
        pids[getattr(mongo, "kind", "mongo")] = mongo.process.pid  # type: ignore[attr-defined]
        postgres = getattr(mongo, "postgres", None)
        if postgres is not None and getattr(postgres, "process", None) is not None:
            pids["postgresql"] = postgres.process.pid
    return pids
