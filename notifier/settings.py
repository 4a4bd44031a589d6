"""notifier's settings: the shared groups plus its web port and the SMS provider."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field, model_validator

from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings


class NotifierOptions(HttpSettings):
    """Where /healthz, /readyz and /metrics are served, and how hard to try an SMS."""

    port: int = Field(default=DEFAULT_PORTS["notifier"], ge=0, le=65535)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=0.5, gt=0)


class SmsSettings(BaseModel):
    """Which SMS provider sends, and where."""

    provider: Literal["log", "http"] = "log"
    url: AnyHttpUrl | None = Field(
        default=None, description="With provider=http: receives POST {to, text, id}."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _url_for_http(self) -> SmsSettings:
        if self.provider == "http" and self.url is None:
            raise ValueError("PASOKH_SMS__URL is required when PASOKH_SMS__PROVIDER=http")
        return self


class NotifierSettings(PasokhSettings):
    """Everything the notifier reads from ``PASOKH_*``."""

    notifier: NotifierOptions = NotifierOptions()
    sms: SmsSettings = SmsSettings()
