"""The inbox read model's keys: entries, days and weeks, and the keyset token of the next page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services import inbox

DUE = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)


def test_an_entry_carries_the_day_and_week_of_its_due_time() -> None:
    record = {"_id": "c1", "status": "routed", "department": "lighting", "due_at": DUE, "text": "x" * 500}
    found = inbox.entry(record)
    assert found is not None
    assert found["day"] == DUE.date().toordinal() and found["week"] == found["day"] // 7
    assert len(found["text"]) == inbox.EXCERPT and found["needs_supervisor"] is False
    assert inbox.entry({**record, "status": "resolved"}) is None, "closed: not listed"
    undated = inbox.entry({**record, "due_at": None})
    assert undated is not None and undated["day"] == inbox.NO_DUE


def test_the_day_is_the_utc_date() -> None:
    naive = DUE.replace(tzinfo=None)  # a time without a zone is read as UTC
    assert inbox.day_of(naive) == inbox.day_of(DUE)
    assert inbox.day_of(DUE + timedelta(minutes=31)) == inbox.day_of(DUE) + 1


def test_the_next_page_token_gives_back_the_last_rows_key() -> None:
    row = {"_id": "a2dd6d68-4284", "due_at": DUE}
    token = inbox.after_token(row)
    assert inbox.parse_after(token) == (DUE, "a2dd6d68-4284")
    assert inbox.parse_after(inbox.after_token({"_id": "z", "due_at": None})) == (inbox.NEVER, "z")
    for bad in ("", "2026-11-26", "not-a-time~id", "2026-11-26T00:00:00~"):
        assert inbox.parse_after(bad) is None, bad


def test_rows_sort_by_due_time_then_id_with_undated_last() -> None:
    rows: list[dict[str, Any]] = [
        {"_id": "b", "due_at": DUE},
        {"_id": "c", "due_at": None},
        {"_id": "a", "due_at": DUE},
        {"_id": "d", "due_at": DUE - timedelta(days=1)},
    ]
    assert [r["_id"] for r in sorted(rows, key=inbox.sort_key)] == ["d", "a", "b", "c"]
    later = inbox.Query(departments=None, statuses=frozenset({"routed"}), after=(DUE, "a"))
    keep = later.keeps()
    assert [r["_id"] for r in rows if keep({**r, "status": "routed"})] == ["b", "c"]
