"""Configuration shared by every Pasokh process (pydantic-settings, prefix ``PASOKH_``, nesting ``__``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The development key is public on purpose: it only protects a developer's own test data.
# Outside ``env=dev``/``test`` the validator below refuses it.
DEV_SECRET_KEY = "pasokh-dev-only-secret-key-change-me"

DEFAULT_PORTS = {"intake": 8000, "router": 8001, "notifier": 8002}


class KafkaSettings(BaseModel):
    """Where the Kafka cluster is and how topics are laid out."""

    bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]; unset means a local broker is started by `pasokh up`.",
    )
    topic_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=15_000, ge=1_000)
    linger_ms: int = Field(
        default=2,
        ge=0,
        le=1_000,
        description="How long intake's producer waits to fill a batch: more means fewer, larger produce "
        "requests (less broker CPU per complaint) and that much more latency.",
    )
    session_timeout_seconds: float = Field(
        default=15.0,
        ge=6.0,
        description="How long a worker that died (kill -9, lost host) keeps its partitions before the "
        "group hands them to the others (faust's default is 60 s).",
    )

    def servers(self) -> str:
        """Return the bootstrap servers or fail with a message that says how to set them."""
        if not self.bootstrap_servers:
            raise RuntimeError(
                "PASOKH_KAFKA__BOOTSTRAP_SERVERS is not set (run the service through `pasokh up`)"
            )
        return self.bootstrap_servers


class MongoSettings(BaseModel):
    """Where the MongoDB-compatible server is."""

    uri: str | None = Field(
        default=None, description="mongodb:// URI; unset means a local server is started."
    )
    database: str = "pasokh"
    timeout_ms: int = Field(default=5_000, ge=100)
    max_pool_size: int = Field(
        default=40,
        ge=1,
        description="Connections one process opens to the server at most (PyMongo's maxPoolSize; more "
        "concurrent operations wait for one). FerretDB v1 holds up to two PostgreSQL connections per "
        "operation and hangs for good when its own pool runs out, so the processes' pools together must "
        "stay well under it (pasokh/infra/postgres.py).",
    )

    def require_uri(self) -> str:
        """Return the URI or fail with a message that says how to set it."""
        if not self.uri:
            raise RuntimeError("PASOKH_MONGO__URI is not set (run the service through `pasokh up`)")
        return self.uri


class Bounds(BaseModel):
    """A latitude/longitude box (WGS84)."""

    south: float = Field(ge=-90, le=90)
    west: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point lies inside the box."""
        return self.south <= lat <= self.north and self.west <= lon <= self.east


class CitySettings(BaseModel):
    """The city this deployment serves. The default box covers Tehran and Karaj."""

    name: str = "Tehran–Karaj"
    bounds: Bounds = Bounds(south=35.45, west=50.70, north=36.05, east=51.75)


class HttpSettings(BaseModel):
    """Where a service listens for HTTP (API or /healthz, /readyz, /metrics)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class RetentionSettings(BaseModel):
    """How long closed complaints keep their personal data (services.retention)."""

    closed_days: int = Field(default=365, ge=1, description="Days after closing before anonymising.")
    interval_seconds: float = Field(default=3600.0, gt=0, description="How often the sweeper runs.")
    batch: int = Field(default=500, ge=1, le=10_000)
    # The de-duplication ledgers (services/ledgers.py): a repeat older than this is treated as new.
    idempotency_hours: int = Field(default=24, ge=1, description="Hours an Idempotency-Key is remembered.")
    inbound_sms_days: int = Field(default=30, ge=1, description="Days an SMS message id is remembered.")
    partner_events_days: int = Field(default=30, ge=1, description="Days a partner event id is remembered.")


class PasokhSettings(BaseSettings):
    """Settings every process reads; each service subclasses it with its own group."""

    model_config = SettingsConfigDict(
        env_prefix="PASOKH_",
        env_nested_delimiter="__",
        secrets_dir=None,
        extra="ignore",
    )

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    gc_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Allocations between two young-generation garbage collections once a service has "
        "started (objects alive at start are frozen out of collections); 0 keeps Python's defaults.",
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    secret_keys_previous: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        description="Secret keys used before PASOKH_SECRET_KEY, newest first (comma-separated or a JSON "
        "list): data they sealed still opens and is found until `pasokh keys rotate-secret` re-seals it.",
    )
    taxonomy_file: Path | None = Field(
        default=None, description="TOML file with the city's categories and departments; default: built-in."
    )
    city: CitySettings = CitySettings()
    kafka: KafkaSettings = KafkaSettings()
    mongo: MongoSettings = MongoSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("secret_keys_previous", mode="before")
    @classmethod
    def _split_previous_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _refuse_dev_secret_in_prod(self) -> PasokhSettings:
        if self.env == "prod" and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError("PASOKH_SECRET_KEY must be set to a real secret when PASOKH_ENV=prod")
        if len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("PASOKH_SECRET_KEY must be at least 16 characters")
        if any(len(key.get_secret_value()) < 16 for key in self.secret_keys_previous):
            raise ValueError("every key in PASOKH_SECRET_KEYS_PREVIOUS must be at least 16 characters")
        return self
