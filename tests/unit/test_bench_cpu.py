"""The benchmarks' CPU accounting (pasokh/bench/cpu.py) on this very process."""

from __future__ import annotations

import os
import time

from pasokh.bench.cpu import CpuMeter, cpu_seconds


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_meter_charges_the_cpu_a_process_spent_per_unit_of_work() -> None:
    meter = CpuMeter({"me": os.getpid(), "not started": None})
    meter.start()
    _burn(0.3)
    spent = meter.stop(per=3)
    assert set(spent) == {"me", "machine", "other"}
    assert 90 <= spent["me"] <= 200  # 300 ms of CPU over 3 units, with some slack for the rest
    # The machine's busy time and the process's CPU time are read from different counters, each
    # ticking every 1/CLK_TCK s (10 ms): over 3 units they may disagree by a few ticks (seen: 20 ms).
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    assert spent["machine"] >= spent["me"] - 4 * tick_ms / 3


def test_a_process_that_is_gone_has_spent_nothing() -> None:
    assert cpu_seconds(2**22 + 12345) == 0.0
