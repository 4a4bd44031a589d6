"""router's settings: the shared groups plus its web port and decision thresholds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings


class RouterOptions(HttpSettings):
    """Where /healthz, /readyz and /metrics are served."""

    port: int = Field(default=DEFAULT_PORTS["router"], ge=0, le=65535)


class ClassifierOptions(BaseModel):
    """Below ``triage_threshold`` a complaint goes to the triage desk instead of a department."""

    triage_threshold: float = Field(default=0.6, ge=0.0, le=1.0)


class RouterSettings(PasokhSettings):
    """Everything the router reads from ``PASOKH_*``."""

    router: RouterOptions = RouterOptions()
    classifier: ClassifierOptions = ClassifierOptions()
