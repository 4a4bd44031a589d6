"""intake's settings: the shared groups plus where it listens and what it accepts."""

from __future__ import annotations

from pydantic import Field, SecretStr

from intake.ratelimit import RateLimitSettings
from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings


class IntakeHttpSettings(HttpSettings):
    """The HTTP listener and request limits."""

    port: int = Field(default=DEFAULT_PORTS["intake"], ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    rate_limits: RateLimitSettings = RateLimitSettings()
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed to call the API from a browser, e.g. ["https://137.karaj.ir"].',
    )
    sms_webhook_secret: SecretStr | None = Field(
        default=None, description="Signs SMS provider webhooks; unset refuses them (503)."
    )
    record_wait_ms: float = Field(
        default=10.0,
        ge=0,
        description="How long a submission, once durable in Kafka, waits for its received record before "
        "answering; the write goes on after the answer (intake/received.py).",
    )


class IntakeSettings(PasokhSettings):
    """Everything intake reads from ``PASOKH_*``."""

    intake: IntakeHttpSettings = IntakeHttpSettings()
