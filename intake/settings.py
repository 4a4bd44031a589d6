"""intake's settings: the shared groups plus where it listens and what it accepts."""

from __future__ import annotations

from pydantic import Field

from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings


class IntakeHttpSettings(HttpSettings):
    """The HTTP listener and request limits."""

    port: int = Field(default=DEFAULT_PORTS["intake"], ge=0, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)


class IntakeSettings(PasokhSettings):
    """Everything intake reads from ``PASOKH_*``."""

    intake: IntakeHttpSettings = IntakeHttpSettings()
