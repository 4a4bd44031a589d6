"""Department e-mail notices over SMTP (aiosmtplib): when a complaint is routed or reassigned to a
department, nearly due, escalated, or reopened by the citizen, its mailboxes get a Persian (or English)
e-mail rendered from ``notifier/templates/<lang>/mail/subject.j2`` and ``body.j2``.

Exactly once per (event, department, channel): :func:`queue` writes the notification record (``_id``
derived from the event id, the department and ``email``) in state ``queued`` with the rendered message,
before anything is sent; a redelivered event finds it. :func:`flush` (the notifier's ``notifier.mail``
timer, separate from the SMS sender) takes due records (``queued`` → ``sending``), sends them and marks
them ``sent`` or ``failed``. A retriable failure (no connection, time-out, a 4xx answer, an account the
server refuses) puts the record back to ``queued`` with a backed-off ``send_at`` instead of sleeping, so
a slow or dead mail server never holds up the citizen's SMS. ``Message-ID`` is derived from the record:
a resend after a crash between send and record carries the same id, which mail systems drop as a repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any

import aiosmtplib
from pymongo import ASCENDING

from notifier import outbox
from notifier.messages import render
from notifier.metrics import MAIL
from notifier.retry import Retry
from notifier.settings import SmtpSettings
from services import records, rules
from services.contracts.actions import ComplaintReassigned, ComplaintReopened
from services.contracts.complaints import ComplaintRouted
from services.contracts.envelope import Envelope, derived_id
from services.contracts.routing import ComplaintEscalated, ComplaintSlaWarning
from services.errors import PasokhError
from services.store import Doc, Store
from services.taxonomy import Department, Taxonomy

log = logging.getLogger(__name__)
CHANNEL = "email"
TEMPLATE = "department_mail"
NOTICE_ID_HEADER = "X-Pasokh-Notice-Id"
PREFIX = "org.pasokh."

# Events a department's mailboxes hear about, and whether the notice is meant for its supervisor.
MAIL_EVENTS: dict[str, bool] = {
    ComplaintRouted.TYPE: False,
    ComplaintReassigned.TYPE: False,  # to the department it was reassigned to
    ComplaintSlaWarning.TYPE: True,
    ComplaintEscalated.TYPE: True,
    ComplaintReopened.TYPE: True,  # only when the citizen reopened it
}
PRIORITY_LABELS = {"low": "کم", "normal": "عادی", "high": "بالا", "urgent": "فوری"}
# SMTP answers that mean "our account or sender is refused": an operator can fix it, so retry.
_ACCOUNT_CODES = frozenset({530, 534, 535, 538})


class MailRejected(PasokhError):
    """The mail server refused this message for good (5xx for every recipient, or for the content)."""

    retriable = False


class MailUnavailable(PasokhError):
    """The mail server could not take the message now (no connection, time-out, 4xx, account refused)."""

    retriable = True


def _classify(exc: aiosmtplib.SMTPException) -> PasokhError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        if codes and all(code >= 500 for code in codes):
            return MailRejected(f"every recipient refused: {sorted(set(codes))}")
        return MailUnavailable(f"recipients refused for now: {sorted(set(codes))}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        if code >= 500 and code not in _ACCOUNT_CODES and not isinstance(exc, aiosmtplib.SMTPSenderRefused):
            return MailRejected(f"mail server refused the message: {code}")
        return MailUnavailable(f"mail server answered {code}")
    return MailUnavailable(f"mail server unreachable: {type(exc).__name__}")


def render_notice(language: str, context: dict[str, Any], *, timezone: str) -> tuple[str, str]:
    """(subject, body) of a notice from ``templates/<language>/mail/subject.j2`` and ``mail/body.j2``."""
    subject = render("mail/subject", language, timezone=timezone, **context)
    body = render("mail/body", language, timezone=timezone, **context)
    return " ".join(subject.split()), body + "\n"


def sample_notice(event: str, language: str, *, timezone: str = "Asia/Tehran") -> tuple[str, str]:
    """The notice of ``event`` (e.g. ``complaint.routed``) rendered with sample data."""
    at = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    en = language == "en"
    context = {
        "notice_id": "5f0c3a52-7d1e-5b8e-9a43-2f6d0c1e8b77",
        "event": event,
        "for_supervisor": MAIL_EVENTS[PREFIX + event],
        "department": "Urban Services Deputy (Lighting)" if en else "معاونت خدمات شهری (روشنایی)",
        "tracking_code": "1405123457",
        "category": "Street and park lights" if en else "روشنایی معابر و پارک‌ها",
        "priority": "normal" if en else PRIORITY_LABELS["normal"],
        "due_at": at + timedelta(hours=48),
        "text": "چراغ‌های کوچه بهار از سه شب پیش خاموش است.",
        "address": "کرج، گوهردشت، خیابان بهار",
        "reason": "بازگشایی" if event == "complaint.reopened" else None,
        "at": at,
    }
    return render_notice(language, context, timezone=timezone)


@dataclass(frozen=True)
class Mail:
    """One rendered notice, as recorded before it is sent."""

    notice_id: str
    to: tuple[str, ...]
    subject: str
    body: str


class DepartmentMail:
    """Renders department notices, knows each department's mailboxes and sends through SMTP."""

    def __init__(self, settings: SmtpSettings, taxonomy: Taxonomy, *, timezone: str = "Asia/Tehran") -> None:
        if settings.host is None or settings.from_address is None:
            raise ValueError("PASOKH_SMTP__HOST and PASOKH_SMTP__FROM_ADDRESS are required for e-mail")
        self.settings = settings
        self.taxonomy = taxonomy
        self.timezone = timezone
        self._password = settings.secret()
        self._directory: tuple[int, dict[str, Department]] | None = None

    async def department(self, store: Store, code: str) -> Department | None:
        """The department ``code`` with its mailboxes: the taxonomy's, with the stored ones added."""
        version = await rules.version(store)  # every change to the stored departments bumps it
        if self._directory is None or self._directory[0] != version:
            self._directory = (version, await rules.departments(store, self.taxonomy))
        return self._directory[1].get(code)

    def render(self, context: dict[str, Any]) -> tuple[str, str]:
        """(subject, body) of a notice in the configured language."""
        return render_notice(self.settings.language, context, timezone=self.timezone)

    def message(self, mail: Mail) -> MIMEText:
        """The MIME message (UTF-8 text) of ``mail``; its Message-ID derives from the notice id."""
        sender = str(self.settings.from_address)
        # compat32's MIMEText and Header: the modern policy's header folding drops the space between
        # two Persian words where it splits the subject into encoded words (a CPython bug).
        message = MIMEText(mail.body, "plain", "utf-8")
        message["From"] = sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = Header(mail.subject, "utf-8")  # type: ignore[assignment]  # compat32 takes it
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{mail.notice_id}@{sender.rsplit('@', 1)[1]}>"
        message[NOTICE_ID_HEADER] = mail.notice_id
        message["Content-Language"] = self.settings.language
        return message

    async def send(self, mail: Mail) -> list[str]:
        """Hand ``mail`` to the SMTP server; return the recipients it refused (some were accepted).

        Raise MailRejected (never retry) or MailUnavailable (retry later)."""
        settings = self.settings
        try:
            refused, _ = await aiosmtplib.send(
                self.message(mail),
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=self._password if settings.username else None,
                use_tls=settings.security == "ssl",
                start_tls=True if settings.security == "starttls" else False,
                timeout=settings.timeout_seconds,
            )
        except aiosmtplib.SMTPException as exc:
            raise _classify(exc) from exc
        except OSError as exc:
            raise MailUnavailable(f"mail server unreachable: {type(exc).__name__}") from exc
        return sorted(refused)


def _target(envelope: Envelope, doc: Doc | None) -> tuple[str, str | None] | None:
    """(department, reason) a notice of ``envelope`` goes to, or None when it calls for none."""
    reason: str | None = None
    if envelope.type == ComplaintReopened.TYPE:
        reopened = envelope.payload(ComplaintReopened)
        if reopened.by != "citizen":
            return None
        reason = reopened.reason
    data = envelope.data
    named = data.get("to_department") or data.get("department") or (doc or {}).get("department")
    return (str(named), reason) if named else None


async def queue(
    envelope: Envelope, *, store: Store, mailer: DepartmentMail, clock: Callable[[], datetime]
) -> str | None:
    """Record the department's e-mail notice for ``envelope`` once; return the record's state."""
    if envelope.type not in MAIL_EVENTS:
        return None
    doc = await records.find(store, envelope.subject)
    target = _target(envelope, doc)
    if target is None:
        return None
    code, reason = target
    department = await mailer.department(store, code)
    if department is None or not department.emails:
        return None
    notice_id = derived_id(envelope.source, envelope.id, "department", code, CHANNEL)
    data, known = envelope.data, doc or {}
    language = mailer.settings.language
    category = mailer.taxonomy.categories.get(data.get("category") or known.get("category") or "")
    priority = data.get("priority") or known.get("priority")
    due_at = data.get("due_at") or known.get("due_at")
    context = {
        "notice_id": notice_id,
        "event": envelope.type.removeprefix(PREFIX),
        "for_supervisor": MAIL_EVENTS[envelope.type],
        "department": department.en if language == "en" else department.fa,
        "tracking_code": data.get("tracking_code") or known.get("tracking_code") or envelope.subject,
        "category": (category.en if language == "en" else category.fa) if category else None,
        "priority": priority if language == "en" else PRIORITY_LABELS.get(priority or "", priority),
        "due_at": datetime.fromisoformat(due_at) if isinstance(due_at, str) else due_at,
        "text": known.get("text"),
        "address": known.get("address"),
        "reason": reason,
        "at": envelope.time,
    }
    subject, body = mailer.render(context)
    now = clock()
    fields = {
        "kind": "department",
        "channel": CHANNEL,
        "complaint_id": envelope.subject,
        "cause_event_id": envelope.id,
        "template": TEMPLATE,
        "department": code,
        "language": language,
        "mail_to": list(department.emails),
        "mail_subject": subject,
        "mail_body": body,
        "send_at": now,
    }
    record, created = await outbox.claim(store, notice_id, fields, now, state="queued")
    if not created:
        log.info("department e-mail already recorded", extra={"notification_id": notice_id})
    return str(record["state"])


async def due(store: Store, now: datetime, *, limit: int = 100) -> list[Doc]:
    """Queued e-mail notices whose time has come, oldest first."""
    cursor = store.notifications.find({"channel": CHANNEL, "state": "queued", "send_at": {"$lte": now}})
    return await cursor.sort([("send_at", ASCENDING)]).limit(limit).to_list()


async def stale(store: Store, now: datetime, after: timedelta, *, limit: int = 100) -> list[Doc]:
    """E-mail notices left ``sending`` longer than ``after`` by a process that died."""
    query = {"channel": CHANNEL, "state": "sending", "taken_at": {"$lte": now - after}}
    return await store.notifications.find(query).sort([("taken_at", ASCENDING)]).limit(limit).to_list()


async def flush(
    store: Store,
    mailer: DepartmentMail,
    retry: Retry,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stale_after: timedelta = timedelta(seconds=120),
) -> int:
    """Send every due e-mail notice and resume those a crashed process left half-sent; return how
    many were sent."""
    now = clock()
    sent = 0
    for record in await due(store, now):
        taken = await outbox.take(store, record["_id"], "queued", now)
        sent += taken is not None and await _send(taken, store, mailer, retry, clock) == "sent"
    for record in await stale(store, now, stale_after):
        log.warning("resuming a department e-mail left half-sent", extra={"notification_id": record["_id"]})
        taken = await outbox.take(store, record["_id"], "sending", now, taken_before=now - stale_after)
        sent += taken is not None and await _send(taken, store, mailer, retry, clock) == "sent"
    return sent


async def _send(
    record: Doc, store: Store, mailer: DepartmentMail, retry: Retry, clock: Callable[[], datetime]
) -> str:
    notice_id = record["_id"]
    mail = Mail(notice_id, tuple(record["mail_to"]), record["mail_subject"], record["mail_body"])
    attempt = await outbox.count_attempt(store, notice_id)
    try:
        refused = await mailer.send(mail)
    except MailRejected as exc:
        return await _fail(store, notice_id, str(exc), clock)
    except MailUnavailable as exc:
        if retry.exhausted(attempt):
            return await _fail(store, notice_id, f"given up after {attempt} tries: {exc}", clock)
        later = clock() + timedelta(seconds=retry.delay(attempt))
        await store.notifications.update_one(
            {"_id": notice_id}, {"$set": {"state": "queued", "send_at": later, "reason": str(exc)}}
        )
        MAIL.labels("retry").inc()
        log.info("department e-mail will be retried", extra={"notification_id": notice_id, "error": str(exc)})
        return "queued"
    fields = {"refused": refused} if refused else None
    await outbox.finish(store, notice_id, "sent", records.store_precision(clock()), fields=fields)
    MAIL.labels("sent").inc()
    log.info("department e-mail sent", extra={"notification_id": notice_id})
    return "sent"


async def _fail(store: Store, notice_id: str, reason: str, clock: Callable[[], datetime]) -> str:
    await outbox.finish(store, notice_id, "failed", clock(), reason)
    MAIL.labels("failed").inc()
    log.warning("department e-mail failed", extra={"notification_id": notice_id, "reason": reason})
    return "failed"


async def ensure_indexes(store: Store) -> None:
    """The e-mail sender's index (idempotent)."""
    await store.notifications.create_index(
        [("channel", ASCENDING), ("state", ASCENDING), ("send_at", ASCENDING)], name="mail_due"
    )
