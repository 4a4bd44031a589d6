"""Department e-mail notices: a routed complaint's event read back from the real Kafka broker, the
notifier's handler and its mail sender on the real MongoDB server, a real local SMTP server (aiosmtpd)
with a login, and the citizen's SMS to a real local HTTP gateway."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from notifier import mail
from notifier.handlers import Context, Retry, handle
from notifier.mail import DepartmentMail
from notifier.settings import PolicySettings, SmtpSettings
from notifier.sms.http import HttpSms
from pasokh.infra.local import LocalInfra
from services import records, rules
from services.bus import KafkaPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope, new_event
from services.contracts.routing import ComplaintEscalated
from services.store import Store
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits
from tests.factories import SEALER, routed, submitted, wired
from tests.integration.test_sms_webhooks import events
from tests.support.clock import Clock, no_wait
from tests.support.sms_server import SmsCapture
from tests.support.smtp_server import MailCapture

TAXONOMY = load_taxonomy()
PHONE = "+989121234567"
MAILBOXES = ("lighting-desk@city.example", "lighting-head@city.example")


@pytest.fixture
def smtp() -> Iterator[MailCapture]:
    server = MailCapture(username="pasokh", password=uuid.uuid4().hex).start()
    yield server
    server.stop()


def mailer(smtp: MailCapture, tmp_path: Path, **settings: Any) -> DepartmentMail:
    """The notifier's mailer for ``smtp``, its password given by reference (a secret file)."""
    secret = tmp_path / "smtp-password"
    secret.write_text((smtp.password or "") + "\n")
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "username": smtp.username,
        "password_file": secret,
        "from_address": "pasokh@city.example",
        "timeout_seconds": 5,
    }
    return DepartmentMail(SmtpSettings(**(fields | settings)), TAXONOMY)


def context(store: Store, publisher: KafkaPublisher, gateway: HttpSms, post: DepartmentMail) -> Context:
    return Context(
        store=store,
        publisher=publisher,
        sms=gateway,
        sealer=SEALER,
        taxonomy=TAXONOMY,
        retry=Retry(max_attempts=3, base_seconds=0.01, sleep=no_wait),
        policy=PolicySettings(quiet_start=time(0), quiet_end=time(0), coalesce_seconds=0),
        mail=post,
    )


async def routed_complaint(
    store: Store, infra: LocalInfra, publisher: KafkaPublisher
) -> tuple[str, str, Envelope]:
    """A complaint on record and its ``complaint.routed`` event as the notifier reads it from Kafka."""
    sub = submitted(phone=PHONE, text="چراغ کوچه ما سه شب است خاموش است")
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    decision = routed(sub)
    await publisher.publish(
        topics.EVENTS, new_event(decision, subject=sub.complaint_id, source="/pasokh/router")
    )
    [event] = events(infra, topics.EVENTS, sub.complaint_id)
    return sub.complaint_id, sub.tracking_code, event


async def configure_mailboxes(store: Store) -> None:
    """The lighting department's mailboxes, set as `pasokh routing set-department --email` does."""
    lighting = TAXONOMY.departments["lighting"]
    await rules.put_department(
        store, rules.DepartmentIn(code="lighting", fa=lighting.fa, en=lighting.en, emails=MAILBOXES)
    )


async def test_a_routed_complaint_mails_its_department_once_even_when_redelivered(
    store: Store,
    infra: LocalInfra,
    publisher: KafkaPublisher,
    gateway: HttpSms,
    capture: SmsCapture,
    smtp: MailCapture,
    tmp_path: Path,
) -> None:
    await configure_mailboxes(store)
    complaint_id, code, event = await routed_complaint(store, infra, publisher)
    post = mailer(smtp, tmp_path)
    ctx = context(store, publisher, gateway, post)

    # The citizen's SMS goes at once; the e-mail is only recorded, for the mail sender.
    assert await handle(event, ctx) == "sent"
    assert len(capture.received) == 1 and smtp.received == []
    assert await mail.flush(store, post, ctx.retry) == 1

    [received] = smtp.received
    message = received.message
    assert received.login == "pasokh"
    assert received.sender == "pasokh@city.example" and sorted(received.recipients) == sorted(MAILBOXES)
    assert message["From"] == "pasokh@city.example"
    assert message["To"] == ", ".join(MAILBOXES)
    assert message["Subject"] == f"پاسخ: درخواست تازه برای شما — کد {to_persian_digits(code)}"
    notice_id = message["X-Pasokh-Notice-Id"]
    assert message["Message-ID"] == f"<{notice_id}@city.example>"
    assert message["Content-Language"] == "fa"
    body = message.get_content()
    assert body.startswith("معاونت خدمات شهری (روشنایی)،")
    assert "درخواست زیر به این واحد ارجاع شد." in body
    assert f"کد پیگیری: {to_persian_digits(code)}" in body
    assert "موضوع: روشنایی معابر و پارک‌ها" in body and "اولویت: عادی" in body
    assert "چراغ کوچه ما سه شب است خاموش است" in body
    assert PHONE not in message.as_string() and PHONE[3:] not in body

    # Kafka redelivers the event (a rebalance, a restart): no second mail, no second SMS.
    assert await handle(event, ctx) == "sent"
    assert await mail.flush(store, post, ctx.retry) == 0
    assert len(smtp.received) == 1 and len(capture.received) == 1
    record = await store.notifications.find_one({"_id": notice_id})
    assert record is not None
    assert (record["state"], record["channel"], record["department"], record["attempts"]) == (
        "sent",
        "email",
        "lighting",
        1,
    )
    assert record["complaint_id"] == complaint_id and record["cause_event_id"] == event.id


async def test_a_busy_mail_server_is_retried_later_and_a_refusal_fails_at_once(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, smtp: MailCapture, tmp_path: Path
) -> None:
    await configure_mailboxes(store)
    post = mailer(smtp, tmp_path)
    ctx = context(store, publisher, gateway, post)
    clock = ctx.clock = Clock(datetime.now(UTC))
    busy, refused = submitted(phone=PHONE), submitted(phone=PHONE)
    for sub in (busy, refused):
        await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    first, second = (
        wired(routed(busy), busy.complaint_id, source="/pasokh/router"),
        wired(routed(refused), refused.complaint_id, source="/pasokh/router"),
    )

    smtp.data_replies = ["451 4.3.0 try again later"]
    await handle(first, ctx)
    assert await mail.flush(store, post, ctx.retry, clock=clock) == 0
    waiting = await store.notifications.find_one({"complaint_id": busy.complaint_id, "channel": "email"})
    assert waiting is not None and waiting["state"] == "queued"
    assert "451" in waiting["reason"] and smtp.received == []
    clock.now += timedelta(seconds=5)
    assert await mail.flush(store, post, ctx.retry, clock=clock) == 1
    assert len(smtp.received) == 1

    smtp.data_replies = ["554 5.6.0 message refused"]
    await handle(second, ctx)
    assert await mail.flush(store, post, ctx.retry, clock=clock) == 0
    failed = await store.notifications.find_one({"complaint_id": refused.complaint_id, "channel": "email"})
    assert failed is not None and (failed["state"], failed["attempts"]) == ("failed", 1)
    assert "554" in failed["reason"] and len(smtp.received) == 1


async def test_a_dead_mail_server_never_holds_up_the_sms(
    store: Store,
    publisher: KafkaPublisher,
    gateway: HttpSms,
    capture: SmsCapture,
    smtp: MailCapture,
    tmp_path: Path,
) -> None:
    await configure_mailboxes(store)
    post = mailer(smtp, tmp_path)
    smtp.stop()  # nothing listens on the port any more
    ctx = context(store, publisher, gateway, post)
    sub = submitted(phone=PHONE)
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    event = wired(routed(sub), sub.complaint_id, source="/pasokh/router")

    assert await handle(event, ctx) == "sent"
    assert [m["to"] for m in capture.received] == [PHONE]
    clock = Clock(datetime.now(UTC))
    for _ in range(ctx.retry.max_attempts):
        await mail.flush(store, post, ctx.retry, clock=clock)
        clock.now += timedelta(minutes=2)
    record = await store.notifications.find_one({"complaint_id": sub.complaint_id, "channel": "email"})
    assert record is not None and (record["state"], record["attempts"]) == ("failed", 3)
    assert "given up after 3 tries" in record["reason"]


async def test_an_escalation_mails_the_supervisor_in_english(
    store: Store, publisher: KafkaPublisher, gateway: HttpSms, smtp: MailCapture, tmp_path: Path
) -> None:
    await configure_mailboxes(store)
    post = mailer(smtp, tmp_path, language="en")
    ctx = context(store, publisher, gateway, post)
    sub = submitted(phone=PHONE)
    await records.record_received(store, sub, event_id=str(uuid.uuid4()))
    await store.complaints.update_one({"_id": sub.complaint_id}, {"$set": {"department": "lighting"}})
    escalated = ComplaintEscalated(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        category="lighting",
        department="lighting",
        priority="high",
        due_at=datetime.now(UTC) - timedelta(hours=1),
        at=datetime.now(UTC),
    )
    event = wired(escalated, sub.complaint_id, source="/pasokh/router")

    await handle(event, ctx)
    assert await mail.flush(store, post, ctx.retry) == 1

    [received] = smtp.received
    subject = f"[supervisor] Pasokh: request escalated to the supervisor — {sub.tracking_code}"
    assert received.message["Subject"] == subject
    assert received.message["Content-Language"] == "en"
    body = received.message.get_content()
    assert body.startswith("Urban Services Deputy (Lighting),")
    assert "overdue and was escalated to the supervisor" in body


def test_mailboxes_are_set_with_the_routing_command(
    infra: LocalInfra, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from pymongo import MongoClient

    from pasokh.cli import main

    monkeypatch.setenv("PASOKH_MONGO__URI", infra.mongo_uri)
    monkeypatch.setenv("PASOKH_MONGO__DATABASE", database)
    runner = CliRunner()
    command = ["routing", "set-department", "lighting", "--fa", "روشنایی", "--en", "Lighting"]
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongo_uri)
    try:
        saved = runner.invoke(main, [*command, "--email", MAILBOXES[0], "--email", MAILBOXES[1]])
        bad = runner.invoke(main, [*command, "--email", "not-an-address"])
        shown = runner.invoke(main, ["routing", "show"])
        stored = client[database]["departments"].find_one({"_id": "lighting"})
    finally:
        client.drop_database(database)
        client.close()

    assert saved.exit_code == 0, saved.output
    assert bad.exit_code == 2 and "emails" in bad.output
    assert f"lighting (Lighting {MAILBOXES[0]} {MAILBOXES[1]})" in shown.output
    assert stored is not None and stored["emails"] == list(MAILBOXES)
