"""services.logs: phone numbers masked in any form, log context fields on every line inside a block."""

from __future__ import annotations

import io
import json
import logging

import pytest

from services.logs import bind_log_context, json_handler, log_context, mask_phones


@pytest.mark.parametrize(
    "text",
    [
        "to +989121234567 now",
        "to 00989121234567 now",
        "to 989121234567 now",
        "to 09121234567 now",
        "to 9121234567 now",
        "به ۰۹۱۲۱۲۳۴۵۶۷ پیامک شد",
        '{"to": "+989121234567"}',
    ],
)
def test_every_form_of_a_mobile_number_is_masked(text: str) -> None:
    masked = mask_phones(text)

    assert "+98912***4567" in masked
    assert "1234567" not in masked and "۱۲۳۴۵۶۷" not in masked


@pytest.mark.parametrize(
    "text",
    ["offset 12345", "tracking code 1234567897", "id 0f1e2d3c-9121-2345-6789-abcdefabcdef", "year 1405"],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_phones(text) == text


def _logged(fn: object) -> list[dict[str, object]]:
    buffer = io.StringIO()
    logger = logging.getLogger("pasokh.test.logs")
    logger.handlers[:] = [json_handler("test", buffer)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        fn(logger)  # type: ignore[operator]
    finally:
        logger.handlers[:] = []
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_context_fields_are_on_every_line_inside_the_block_only() -> None:
    def write(log: logging.Logger) -> None:
        with log_context(complaint_id="c-1"):
            log.info("first")
            bind_log_context(event_id="e-1")
            log.info("second", extra={"event_id": "explicit"})
            log.info("third")
        log.info("after")

    lines = _logged(write)

    assert [(line.get("complaint_id"), line.get("event_id")) for line in lines] == [
        ("c-1", None),
        ("c-1", "explicit"),
        ("c-1", "e-1"),
        (None, None),
    ]
    assert all(line["service"] == "test" for line in lines)


def test_a_traceback_is_masked_too() -> None:
    def write(log: logging.Logger) -> None:
        try:
            raise ValueError("provider refused 09121234567")
        except ValueError:
            log.exception("send failed")

    (line,) = _logged(write)

    assert "+98912***4567" in str(line["exc_info"])
    assert "09121234567" not in json.dumps(line, ensure_ascii=False)
