"""Open311 pieces without I/O: w3 dates, languages, update statuses, attribute definitions, XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from intake.open311 import forms, render
from intake.open311.errors import Open311Error
from intake.open311.handlers import choose_language, parse_w3, window
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
)
from services.taxonomy import Category


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2010-01-01T00:00:00Z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("1994-11-05T08:15:30-05:00", datetime(1994, 11, 5, 13, 15, 30, tzinfo=UTC)),
        ("2024-03-21T14:05:00+03:30", datetime(2024, 3, 21, 10, 35, tzinfo=UTC)),
        ("2024-03-21T14:05:00 03:30", datetime(2024, 3, 21, 10, 35, tzinfo=UTC)),  # '+' lost in a URL
        ("2024-03-21T14:05Z", datetime(2024, 3, 21, 14, 5, tzinfo=UTC)),
        ("2024-03-21T14:05:00.25Z", datetime(2024, 3, 21, 14, 5, 0, 250000, tzinfo=UTC)),
        ("۲۰۲۴-۰۳-۲۱", datetime(2024, 3, 21, tzinfo=UTC)),
        ("2024-03", datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_w3_dates_are_read_in_utc(raw: str, expected: datetime) -> None:
    assert parse_w3(raw, "start_date") == expected


@pytest.mark.parametrize(
    "raw", ["2024-03-21T14:05:00", "2024-02-30T00:00:00Z", "21/03/2024", "2024-03-21T25:00:00Z", "now"]
)
def test_w3_dates_without_zone_or_impossible_are_400(raw: str) -> None:
    with pytest.raises(Open311Error) as info:
        parse_w3(raw, "start_date")
    assert info.value.status == 400 and "start_date" in info.value.description


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_w3_dates_beyond_year_1_or_9999_in_utc_are_400(raw: str) -> None:
    # Found by the API fuzz run: the zone offset overflowed datetime, a 500.
    with pytest.raises(Open311Error) as info:
        parse_w3(raw, "updated_datetime")
    assert info.value.status == 400 and "updated_datetime" in info.value.description


def test_a_window_at_the_ends_of_time_is_clamped_not_a_crash() -> None:
    # Found by the API fuzz run: end_date=0001-01-01 (or start_date in 9999) overflowed, a 500.
    now = datetime.now(UTC)
    first, last = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)

    assert window(None, first, now) == (first, first)
    assert window(first, None, now) == (first, first + timedelta(days=90))
    assert window(last - timedelta(days=1), None, now) == (last - timedelta(days=1), last)


@pytest.mark.parametrize(
    ("locale", "header", "expected"),
    [
        (None, None, "fa"),
        ("EN", None, "en"),
        ("de", "en", "en"),
        (None, "fr, en;q=0.1", "en"),
        (None, "en;q=0", "fa"),
        (None, "fa-IR, en;q=0.9", "fa"),
        (None, "en;q=zz, fa;q=0.3", "fa"),
    ],
)
def test_language_choice(locale: str | None, header: str | None, expected: str) -> None:
    assert choose_language(locale, header) == expected


@pytest.mark.parametrize(
    ("status", "current", "model"),
    [
        ("CLOSED", "routed", ComplaintResolved),
        ("fixed", "acknowledged", ComplaintResolved),
        ("NOT_COUNCILS_RESPONSIBILITY", "routed", ComplaintRejected),
        ("NO_FURTHER_ACTION", "triage", ComplaintRejected),
        ("OPEN", "resolved", ComplaintReopened),
        ("REOPEN", "rejected", ComplaintReopened),
        ("IN_PROGRESS", "routed", ComplaintAcknowledged),
        ("INVESTIGATING", "reopened", ComplaintAcknowledged),
        ("ACTION_SCHEDULED", "acknowledged", ComplaintCommented),
        ("OPEN", "routed", ComplaintCommented),
        ("OPEN", "received", ComplaintCommented),
    ],
)
def test_update_statuses_map_to_staff_actions(status: str, current: str, model: type[Any]) -> None:
    chosen, fields = forms.update_action(status, current, "note")
    assert chosen is model
    chosen(complaint_id="c", actor_id="k", actor_name="n", at=datetime.now(UTC), **fields)


@pytest.mark.parametrize(("status", "current"), [("IN_PROGRESS", "resolved"), ("LATER", "routed")])
def test_impossible_update_statuses_are_400(status: str, current: str) -> None:
    with pytest.raises(Open311Error) as info:
        forms.update_action(status, current, "note")
    assert info.value.status == 400


def category(*attributes: dict[str, Any]) -> Category:
    return Category.model_validate(
        {"code": "c", "fa": "ف", "en": "e", "department": "d", "sla_hours": 1, "attributes": list(attributes)}
    )


def attribute(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": "size",
        "datatype": "singlevaluelist",
        "order": 1,
        "description": {"fa": "اندازه", "en": "Size"},
        "values": [{"key": "s", "fa": "کوچک", "en": "Small"}],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "attributes",
    [
        [attribute(values=[])],
        [attribute(datatype="string")],
        [attribute(values=[{"key": "s", "fa": "ک", "en": "S"}] * 2)],
        [attribute(code="a.b")],
        [attribute(code="open311:address_id")],
        [attribute(datatype="colour")],
        [attribute(), attribute(order=2)],
        [attribute(), attribute(code="other")],
    ],
    ids=[
        "list-without-values",
        "values-on-a-string",
        "repeated-key",
        "dot",
        "colon",
        "datatype",
        "code",
        "order",
    ],
)
def test_malformed_attribute_definitions_are_refused(attributes: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        category(*attributes)


def test_attributes_of_a_form_are_checked_and_kept_in_their_types() -> None:
    form = forms.parse_form(
        b"attribute[size]=s&attribute[when]=2024-01-31T20:00:00%2B03:30&attribute[note]=a%0Ab",
        "application/x-www-form-urlencoded; charset=utf-8",
    )
    city = category(
        attribute(),
        attribute(code="when", datatype="datetime", order=2, values=[]),
        attribute(code="note", datatype="text", order=3, values=[]),
    )

    assert forms.attributes(form, city) == {"size": "s", "when": "2024-01-31T16:30:00Z", "note": "a b"}


def test_xml_is_well_formed_even_for_control_characters_and_names_list_items() -> None:
    document = render.to_xml("service_requests", [{"description": "a\x01b <&>", "lat": None, "ok": True}])

    root = ET.fromstring(document)
    assert [child.tag for child in root] == ["request"]
    assert root.findtext("request/description") == "a\ufffdb <&>"
    assert root.findtext("request/lat") == "" and root.findtext("request/ok") == "true"
