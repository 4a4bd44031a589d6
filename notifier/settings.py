"""notifier's settings: the shared groups plus its web port and the SMS provider."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, model_validator

from notifier.sms.kavenegar import DEFAULT_URL as KAVENEGAR_URL
from notifier.sms.smsir import DEFAULT_URL as SMSIR_URL
from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings
from services.taxonomy import EmailAddress


class NotifierOptions(HttpSettings):
    """Where /healthz, /readyz and /metrics are served, and how hard to try an SMS."""

    port: int = Field(default=DEFAULT_PORTS["notifier"], ge=0, le=65535)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    # Events are handled in batches (notifier/batch.py): a few MongoDB round trips per batch and the
    # SMS of a batch sent concurrently. 1 handles one event at a time, up to 64 keys in flight.
    batch_size: int = Field(default=200, ge=1, le=5000, description="Events handled together at most.")
    batch_seconds: float = Field(default=0.05, gt=0, description="Wait at most this long to fill a batch.")
    send_concurrency: int = Field(default=16, ge=1, le=100, description="SMS of a batch sent at once.")
    complaint_facts: int = Field(
        default=50_000,
        ge=0,
        description="Submitted complaints whose phone is kept in memory for their decision's SMS (0: off).",
    )
    remember_opt_outs: bool = Field(
        default=True,
        description="While this worker is the only one on the complaint events, opted-out phones are "
        "kept in memory instead of read for each SMS.",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="uvloop's event loop (less CPU per socket operation) or asyncio's own."
    )


Provider = Literal["log", "http", "kavenegar", "smsir"]


class KavenegarSettings(BaseModel):
    """Kavenegar's account: ``PASOKH_SMS__KAVENEGAR__API_KEY`` and the sender line."""

    api_key: SecretStr | None = None
    sender: str | None = Field(default=None, description="The sender line, e.g. 10004346.")
    url: AnyHttpUrl = Field(default=AnyHttpUrl(KAVENEGAR_URL), description="API base; tests point it home.")


class SmsIrSettings(BaseModel):
    """SMS.ir's account: ``PASOKH_SMS__SMSIR__API_KEY`` and the line number."""

    api_key: SecretStr | None = None
    line_number: int | None = Field(default=None, ge=1)
    url: AnyHttpUrl = Field(default=AnyHttpUrl(SMSIR_URL), description="API base; tests point it home.")


class SmsSettings(BaseModel):
    """Which SMS provider sends (and which takes over when it cannot), and its credentials."""

    provider: Provider = "log"
    secondary: Provider | None = Field(
        default=None, description="Takes over while the primary fails with retriable errors."
    )
    url: AnyHttpUrl | None = Field(
        default=None, description="With provider=http: receives POST {to, text, id}."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    failover_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="How long the secondary stays first after the primary failed."
    )
    kavenegar: KavenegarSettings = KavenegarSettings()
    smsir: SmsIrSettings = SmsIrSettings()

    @model_validator(mode="after")
    def _complete(self) -> SmsSettings:
        if self.secondary is not None and self.secondary == self.provider:
            raise ValueError("PASOKH_SMS__SECONDARY must name another provider than PASOKH_SMS__PROVIDER")
        for provider in (self.provider, self.secondary):
            if provider == "http" and self.url is None:
                raise ValueError("PASOKH_SMS__URL is required when the http provider is used")
            if provider == "kavenegar" and not (self.kavenegar.api_key and self.kavenegar.sender):
                raise ValueError(
                    "PASOKH_SMS__KAVENEGAR__API_KEY and PASOKH_SMS__KAVENEGAR__SENDER are required "
                    "when kavenegar is used"
                )
            if provider == "smsir" and not (self.smsir.api_key and self.smsir.line_number):
                raise ValueError(
                    "PASOKH_SMS__SMSIR__API_KEY and PASOKH_SMS__SMSIR__LINE_NUMBER are required "
                    "when smsir is used"
                )
        return self


# Event (the part of its type after ``org.pasokh.``) → the citizen's SMS templates it calls for.
DEFAULT_CITIZEN_TEMPLATES: dict[str, list[str]] = {
    "complaint.submitted": ["received"],
    "complaint.routed": ["routed"],
    "complaint.triage-needed": ["triage"],
    "complaint.duplicate-linked": ["duplicate"],
    "complaint.acknowledged": ["acknowledged"],
    "complaint.resolved": ["resolved"],
    "complaint.rejected": ["rejected"],
    "complaint.reopened": ["reopened"],
}


class PolicySettings(BaseModel):
    """What the citizen is sent when, and when not (``PASOKH_POLICY__*``; see docs/notifier.md)."""

    citizen_templates: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_CITIZEN_TEMPLATES.items()},
        description="Event type without 'org.pasokh.' → SMS templates; [] sends none.",
    )
    segment_budget: dict[str, int] = Field(
        default_factory=dict, description="Template → most segments; overrides notifier.messages.CATALOG."
    )
    timezone: str = "Asia/Tehran"
    # Quiet hours in the city's time zone; equal start and end switch them off.
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    # Sent at once even in quiet hours: answers to the citizen's own SMS, and urgent complaints.
    urgent_templates: list[str] = Field(
        default_factory=lambda: ["status", "status_unknown", "opted_out", "opted_in", "reopen_offer"]
    )
    urgent_priorities: list[str] = Field(default_factory=lambda: ["urgent"])
    # A status SMS waits this long; a later state of the same complaint in that time replaces it.
    coalesce_seconds: float = Field(default=20.0, ge=0)
    max_per_hour: int = Field(default=6, ge=1, description="Non-urgent SMS per phone and hour.")
    survey: bool = True
    survey_delay_minutes: float = Field(default=120.0, ge=0)
    low_rating: int = Field(default=2, ge=1, le=5, description="Ratings up to this offer to reopen.")
    tick_seconds: float = Field(default=1.0, gt=0, description="How often deferred SMS are looked for.")
    # A record left ``sending`` this long by a process that died is sent again, with the same id.
    stale_sending_seconds: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _known_templates(self) -> PolicySettings:
        from notifier.messages import CATALOG

        named = {t for names in self.citizen_templates.values() for t in names} | set(self.segment_budget)
        unknown = sorted(named - set(CATALOG))
        if unknown:
            raise ValueError(f"unknown SMS templates {unknown}; known: {sorted(CATALOG)}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self


class DepartmentHook(BaseModel):
    """A department's signed webhook."""

    url: AnyHttpUrl
    secret: SecretStr


class DepartmentSettings(BaseModel):
    """Where department notices go."""

    hooks: dict[str, DepartmentHook] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0)


class SmtpSettings(BaseModel):
    """The SMTP server that sends department e-mail notices (``PASOKH_SMTP__*``; no host, no e-mail)."""

    host: str | None = Field(default=None, description="SMTP server; unset switches e-mail notices off.")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none."
    )
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(
        default=None, description="Read the password from this file (a mounted secret) instead."
    )
    from_address: EmailAddress | None = Field(default=None, description="The notices' From address.")
    language: Literal["fa", "en"] = Field(default="fa", description="Language of subject and body.")
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> SmtpSettings:
        if self.host is None:
            return self
        if self.from_address is None:
            raise ValueError("PASOKH_SMTP__FROM_ADDRESS is required when PASOKH_SMTP__HOST is set")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set PASOKH_SMTP__PASSWORD or PASOKH_SMTP__PASSWORD_FILE, not both")
        if self.username and self.password is None and self.password_file is None:
            raise ValueError("PASOKH_SMTP__USERNAME needs PASOKH_SMTP__PASSWORD or __PASSWORD_FILE")
        return self

    def secret(self) -> str | None:
        """The password, read from ``password_file`` when it is given by reference."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password is not None else None


class NotifierSettings(PasokhSettings):
    """Everything the notifier reads from ``PASOKH_*``."""

    notifier: NotifierOptions = NotifierOptions()
    sms: SmsSettings = SmsSettings()
    policy: PolicySettings = PolicySettings()
    departments: DepartmentSettings = DepartmentSettings()
    smtp: SmtpSettings = SmtpSettings()
