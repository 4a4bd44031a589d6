"""Real log output of the workers' handlers: JSON lines, complaint and event ids, no clear phone number.

The router's handler decides a complaint whose text carries the citizen's phone number, and the
message policy dead-letters a poison message quoting a phone number, on real MongoDB and Kafka;
everything they log is captured as the services write it (services.logs).
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from router.classifier import KeywordClassifier
from router.handlers import handle_submitted
from services import records
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope, new_event, to_kafka
from services.logs import setup_logging
from services.store import Store
from services.taxonomy import load_taxonomy
from services.worker import MessagePolicy
from tests.factories import submitted

TAXONOMY = load_taxonomy()
PHONE = "+989121234567"
# Every way the number could show up in a line: E.164, national, bare, with Persian digits.
CLEAR_FORMS = ("9121234567", "۹۱۲۱۲۳۴۵۶۷")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The root logger as the services set it up (JSON lines), writing to a buffer, at DEBUG."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    setup_logging("test", "DEBUG", stream=buffer)
    yield buffer
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


async def test_router_run_logs_ids_on_every_line_and_no_clear_phone(
    store: Store, publisher: KafkaPublisher, captured_logs: io.StringIO
) -> None:
    sub = submitted(f"چراغ کوچه خاموش است، با {PHONE} تماس بگیرید", phone=PHONE)
    key, value = to_kafka(new_event(sub, subject=sub.complaint_id, source="/pasokh/intake"))
    seen: list[Envelope] = []

    async def handler(envelope: Envelope) -> None:
        seen.append(envelope)
        submitted_text = envelope.data["text"]
        logging.getLogger("router.handlers").info("classifying %r", submitted_text)  # a careless line
        await route(envelope, store, publisher)

    policy = MessagePolicy("router", publisher)
    await policy.run(handler, topic=topics.SUBMITTED, partition=0, offset=7, key=key, value=value)

    assert (await records.find(store, sub.complaint_id)) is not None  # the handler did its work
    text = captured_logs.getvalue()
    lines = _lines(captured_logs)
    ours = [line for line in lines if line["logger"].startswith(("router", "services"))]
    assert any(line["message"] == "complaint routed" for line in ours), lines
    for line in ours:
        assert line["complaint_id"] == sub.complaint_id, line
        assert line["event_id"], line
        assert line["service"] == "test"
    assert ours[0]["event_id"] == seen[0].id
    for clear in CLEAR_FORMS:
        assert clear not in text
    assert "+98912***4567" in text  # the careless line is there, masked


async def route(envelope: Envelope, store: Store, publisher: KafkaPublisher) -> None:
    await handle_submitted(
        envelope,
        store=store,
        publisher=publisher,
        classifier=KeywordClassifier(TAXONOMY),
        taxonomy=TAXONOMY,
        threshold=0.5,
    )


async def test_dead_lettered_message_with_a_phone_in_its_text_is_logged_with_ids_and_no_phone(
    store: Store, publisher: KafkaPublisher, captured_logs: io.StringIO
) -> None:
    complaint_id = str(uuid.uuid4())
    # A submitted event missing its required fields, its text carrying a number in two scripts.
    poison = {
        "specversion": "1.0",
        "type": "org.pasokh.complaint.submitted",
        "source": "/partner/x",
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(),
        "subject": complaint_id,
        "dataschema": "urn:pasokh:complaint.submitted:1",
        "datacontenttype": "application/json",
        "data": {"complaint_id": complaint_id, "text": "زنگ بزنید ۰۹۱۲۱۲۳۴۵۶۷ یا 09121234567"},
    }

    async def handler(envelope: Envelope) -> None:
        await route(envelope, store, publisher)

    policy = MessagePolicy("router", publisher, base_delay=0.001)
    await policy.run(
        handler,
        topic=topics.SUBMITTED,
        partition=1,
        offset=3,
        key=complaint_id.encode(),
        value=json.dumps(poison).encode(),
    )

    text = captured_logs.getvalue()
    lines = _lines(captured_logs)
    dead = [line for line in lines if line["message"] == "dead-lettered"]
    assert len(dead) == 1, lines
    assert dead[0]["complaint_id"] == complaint_id
    assert dead[0]["event_id"] == poison["id"]
    for clear in CLEAR_FORMS:
        assert clear not in text


def test_log_level_comes_from_configuration() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    try:
        setup_logging("router", "WARNING", stream=buffer)
        log = logging.getLogger("router.handlers")
        log.info("routine")
        log.warning("needs a look")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])

    assert [line["message"] for line in _lines(buffer)] == ["needs a look"]
