"""router's settings: the shared groups, its web port, thresholds, routing, duplicates and SLA."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import BaseModel, Field

from services.settings import DEFAULT_PORTS, HttpSettings, PasokhSettings
from services.worktime import ThursdayMode


class RouterOptions(HttpSettings):
    """Where /healthz, /readyz and /metrics are served; how often the routing configuration is re-read."""

    port: int = Field(default=DEFAULT_PORTS["router"], ge=0, le=65535)
    refresh_seconds: float = Field(default=5.0, gt=0, description="Re-read rules/departments/districts.")
    # Submitted complaints are decided in batches: a few round trips per batch instead of per
    # complaint (docs/performance.md). 1 decides them one by one.
    batch_size: int = Field(default=200, ge=1, le=5000)
    batch_seconds: float = Field(default=0.05, gt=0, description="Wait at most this long to fill a batch.")


class ClassifierOptions(BaseModel):
    """The trained model, a city's rules and the emergency phrases (docs/classifier.md).

    Below ``triage_threshold`` a complaint goes to the triage desk instead of a department; unset,
    the threshold the model chose when trained (at most 15 % of its cross-validated complaints to
    triage) applies.
    """

    triage_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    model_dir: Path | None = Field(default=None, description="A model from `pasokh train --out`.")
    rules_file: Path | None = Field(default=None, description="Rules TOML; unset: router/data/rules.toml.")
    emergency_file: Path | None = Field(
        default=None, description="Emergency phrases TOML; unset: router/data/emergency.toml."
    )
    reload_seconds: float = Field(default=5.0, gt=0, description="How often the active model is checked.")


class SlaOptions(BaseModel):
    """Due times: the category's ``sla_hours`` in working time, scaled by priority.

    ``urgent`` complaints are counted around the clock and get at most ``urgent_max_hours``.
    """

    workday_start: time = time(8, 0)
    workday_end: time = time(16, 0)
    thursday: ThursdayMode = "half"
    factors: dict[str, float] = Field(default_factory=lambda: {"low": 2.0, "normal": 1.0, "high": 0.5})
    urgent_max_hours: float = Field(default=4.0, gt=0)
    warn_share: float = Field(default=0.8, gt=0, lt=1, description="Warn when this share of the time passed.")
    scan_seconds: float = Field(default=30.0, gt=0, description="How often open complaints are checked.")
    scan_batch: int = Field(default=500, ge=1)


class DuplicateOptions(BaseModel):
    """A new complaint is a duplicate of an open one of the same category within ``radius_m`` metres
    and ``window_hours`` hours whose text is at least ``min_similarity`` alike (token Jaccard)."""

    enabled: bool = True
    radius_m: dict[str, float] = Field(
        default_factory=lambda: {
            "roads": 50.0,
            "lighting": 60.0,
            "waste": 80.0,
            "drainage": 150.0,
            "snow": 200.0,
            "traffic": 60.0,
            "green": 60.0,
            "appearance": 40.0,
            "encroachment": 50.0,
            "animals": 100.0,
            "environment": 200.0,
            "construction": 40.0,
            "emergency": 100.0,
        }
    )
    default_radius_m: float = Field(default=0.0, ge=0, description="Categories not listed: 0 = never linked.")
    window_hours: float = Field(default=72.0, gt=0)
    min_similarity: float = Field(default=0.2, ge=0.0, le=1.0)
    max_candidates: int = Field(default=200, ge=1)
    # A worker answers a grid cell it read lately from memory (router/duplicates.py NearbyCache): with
    # several workers, what another one stored is seen at most this late. 0: every cell is read.
    cache_seconds: float = Field(default=5.0, ge=0)
    # The same while the worker holds every partition (nothing changes behind its back).
    sole_cache_seconds: float = Field(default=600.0, ge=0)


class RouterSettings(PasokhSettings):
    """Everything the router reads from ``PASOKH_*``."""

    router: RouterOptions = RouterOptions()
    classifier: ClassifierOptions = ClassifierOptions()
    sla: SlaOptions = SlaOptions()
    duplicates: DuplicateOptions = DuplicateOptions()
