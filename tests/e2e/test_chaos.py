"""The short crash and fault run (pasokh.chaos): every fault once under load, then nothing lost or doubled.

`pasokh chaos` runs the long version (several rounds, minutes of load); docs/reliability.md has its figures.
"""

from __future__ import annotations

from pasokh.chaos import FAULTS, run, schedule_for


def test_kills_and_restarts_under_load_lose_nothing_and_double_nothing() -> None:
    report = run(duration=60, rate=8, schedule=schedule_for(60, rounds=1), settle=240)

    assert [f["target"] for f in report["faults"]] == list(FAULTS)
    assert report["accepted"] >= 200, report
    assert report["done"], report
    assert report["missing"] == report["undecided"] == report["without_routing_sms"] == 0, report
    assert report["stored_twice"] == 0 and report["sms_twice_for_one_template"] == 0, report
    assert report["records"] <= report["sent"], report
