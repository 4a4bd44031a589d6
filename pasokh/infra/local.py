"""Kafka and the MongoDB-wire server for one local run, unless the environment names real ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pasokh.infra.kafka import KafkaBroker
from pasokh.infra.mongo import MongoServer
from services.bus import ensure_topics
from services.settings import KafkaSettings, PasokhSettings


@dataclass
class LocalInfra:
    """Starts what ``settings`` does not configure; ``bootstrap_servers`` and ``mongo_uri`` say where."""

    settings: PasokhSettings
    data_dir: Path
    log: bool = True
    kafka: KafkaBroker | None = field(default=None, init=False)
    mongo: MongoServer | None = field(default=None, init=False)
    bootstrap_servers: str = field(default="", init=False)
    mongo_uri: str = field(default="", init=False)

    def _say(self, text: str) -> None:
        if self.log:
            print(text, flush=True)

    def start(self) -> LocalInfra:
        """Start the missing servers, wait for them, create the topics."""
        try:
            if self.settings.kafka.bootstrap_servers:
                self.bootstrap_servers = self.settings.kafka.bootstrap_servers
                self._say(f"kafka: using {self.bootstrap_servers} (PASOKH_KAFKA__BOOTSTRAP_SERVERS)")
            else:
                self._say("kafka: starting a local broker (first run downloads it from Maven Central)…")
                self.kafka = KafkaBroker(self.data_dir / "kafka")
                self.kafka.start()
                self.bootstrap_servers = self.kafka.bootstrap_servers
                self._say(f"kafka: {self.bootstrap_servers}")
            if self.settings.mongo.uri:
                self.mongo_uri = self.settings.mongo.uri
                self._say("mongo: using PASOKH_MONGO__URI")
            else:
                self.mongo = MongoServer(self.data_dir / "mongo")
                self._say(f"mongo: starting {self.mongo.kind} (first run builds FerretDB with Go)…")
                self.mongo.start()
                self.mongo_uri = self.mongo.uri
                self._say(f"mongo: {self.mongo_uri} ({self.mongo.kind})")
            kafka = KafkaSettings(
                **{**self.settings.kafka.model_dump(), "bootstrap_servers": self.bootstrap_servers}
            )
            created = ensure_topics(kafka)
            self._say(f"topics: created {', '.join(created)}" if created else "topics: all present")
        except BaseException:
            self.stop()
            raise
        return self

    def env(self) -> dict[str, str]:
        """The ``PASOKH_*`` variables that point a service at these servers."""
        return {
            "PASOKH_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "PASOKH_MONGO__URI": self.mongo_uri,
        }

    def stop(self) -> None:
        """Stop what this run started (Kafka first: it holds no MongoDB connection)."""
        if self.kafka is not None:
            self.kafka.stop()
        if self.mongo is not None:
            self.mongo.stop()

    def __enter__(self) -> LocalInfra:
        return self.start()

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()
