"""Department e-mail notices without I/O: templates in both languages, the MIME message, how SMTP
answers are classified, and the SMTP settings."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import aiosmtplib
import pytest
from pydantic import ValidationError

from notifier.mail import (
    MAIL_EVENTS,
    PREFIX,
    DepartmentMail,
    Mail,
    MailRejected,
    MailUnavailable,
    _classify,
    sample_notice,
)
from notifier.settings import SmtpSettings
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits

EVENTS = [event.removeprefix(PREFIX) for event in MAIL_EVENTS]


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("language", ["fa", "en"])
def test_every_notice_renders_in_both_languages(event: str, language: str) -> None:
    subject, body = sample_notice(event, language)

    code = to_persian_digits("1405123457") if language == "fa" else "1405123457"
    assert code in subject and code in body and "\n" not in subject
    assert "{{" not in subject + body and "{%" not in body
    supervisor = MAIL_EVENTS[PREFIX + event]
    assert subject.startswith("[سرپرست]" if language == "fa" else "[supervisor]") is supervisor
    if language == "fa":
        assert not any(ch.isascii() and ch.isdigit() for ch in subject)


def test_the_message_keeps_persian_words_apart_and_derives_its_id_from_the_notice() -> None:
    settings = SmtpSettings(host="127.0.0.1", security="none", from_address="pasokh@city.example")
    mailer = DepartmentMail(settings, load_taxonomy())
    subject, body = sample_notice("complaint.routed", "fa")
    mail = Mail("n-1", ("a@city.example", "b@city.example"), subject, body)

    raw = mailer.message(mail).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)

    assert parsed["Subject"] == subject and "برای شما" in parsed["Subject"]
    assert parsed["Message-ID"] == "<n-1@city.example>" and parsed["X-Pasokh-Notice-Id"] == "n-1"
    assert parsed["To"] == "a@city.example, b@city.example"
    assert parsed.get_content() == body


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (aiosmtplib.SMTPConnectError("refused"), MailUnavailable),
        (aiosmtplib.SMTPServerDisconnected("gone"), MailUnavailable),
        (aiosmtplib.SMTPDataError(451, "try later"), MailUnavailable),
        (aiosmtplib.SMTPDataError(554, "refused"), MailRejected),
        (aiosmtplib.SMTPAuthenticationError(535, "bad login"), MailUnavailable),
        (aiosmtplib.SMTPSenderRefused(550, "not our sender", "pasokh@city.example"), MailUnavailable),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@x.example")]),
            MailRejected,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "a@x.example")]),
            MailUnavailable,
        ),
    ],
)
def test_smtp_answers_are_classified(error: aiosmtplib.SMTPException, kind: type[Exception]) -> None:
    assert type(_classify(error)) is kind


def test_smtp_settings_need_a_sender_and_take_the_password_by_reference(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")

    assert SmtpSettings().host is None  # no host: e-mail notices are off
    by_reference = SmtpSettings(host="mail", from_address="p@x.example", username="u", password_file=secret)
    assert by_reference.secret() == "s3cret"
    with pytest.raises(ValidationError, match="FROM_ADDRESS"):
        SmtpSettings(host="mail")
    with pytest.raises(ValidationError, match="USERNAME needs"):
        SmtpSettings(host="mail", from_address="p@city.example", username="u")
    with pytest.raises(ValidationError):
        SmtpSettings(host="mail", from_address="not an address")
