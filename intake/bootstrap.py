"""Builds intake's object graph from settings; tests pass their own collaborators."""

from __future__ import annotations

from dataclasses import dataclass, field

from intake.codes import TrackingCodePool
from intake.ratelimit import Limits
from intake.received import ReceivedWriter
from intake.settings import IntakeSettings
from services.bus import KafkaPublisher, Publisher
from services.mongo_metrics import CommandCounter
from services.privacy import Sealer
from services.store import Store
from services.taxonomy import Taxonomy, load_taxonomy


@dataclass
class Intake:
    """Everything a request handler may need."""

    settings: IntakeSettings
    store: Store
    publisher: Publisher
    sealer: Sealer
    taxonomy: Taxonomy
    limits: Limits
    # Per process: tracking codes reserved ahead, and the group commit of the received records.
    codes: TrackingCodePool = field(init=False)
    received: ReceivedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.codes = TrackingCodePool(self.store)
        self.received = ReceivedWriter(self.store, wait_at_most=self.settings.intake.record_wait_ms / 1000)

    async def start(self) -> None:
        """Connect what needs connecting."""
        if isinstance(self.publisher, KafkaPublisher):
            await self.publisher.start()
        await self.store.ensure_indexes()

    async def stop(self) -> None:
        """Release connections."""
        await self.codes.close()
        await self.received.close()
        if isinstance(self.publisher, KafkaPublisher):
            await self.publisher.stop()
        await self.store.close()


def bootstrap(
    settings: IntakeSettings, *, store: Store | None = None, publisher: Publisher | None = None
) -> Intake:
    """intake wired to the real Kafka and MongoDB unless collaborators are given."""
    return Intake(
        settings=settings,
        store=store or Store.connect(settings.mongo, app_name="pasokh-intake", listeners=[CommandCounter()]),
        publisher=publisher or KafkaPublisher(settings.kafka, client_id="pasokh-intake"),
        sealer=Sealer.from_settings(settings),
        taxonomy=load_taxonomy(settings.taxonomy_file),
        limits=Limits.from_settings(settings.intake.rate_limits),
    )
