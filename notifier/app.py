"""The notifier's faust app: one agent on ``pasokh.complaints.events``, thin by design."""

from __future__ import annotations

import faust

from notifier.bootstrap import Notifier
from notifier.handlers import handle_event
from services.bus import FaustPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope
from services.worker import MessagePolicy, Readiness, add_operations_pages, consume, create_app


def create_notifier_app(notifier: Notifier) -> faust.App:
    """A faust app whose agent hands each complaint event to :func:`handle_event`."""
    settings = notifier.settings
    app = create_app("notifier", settings, settings.notifier)
    add_operations_pages(app, Readiness(notifier.store))
    # The producer object exists now and is started by faust before any message is consumed.
    publisher = notifier.publisher or FaustPublisher(app.producer)
    policy = MessagePolicy("notifier", publisher)

    async def prepare() -> None:
        await notifier.store.ensure_indexes()

    app.task(prepare)

    async def handle(envelope: Envelope) -> None:
        await handle_event(
            envelope,
            store=notifier.store,
            publisher=publisher,
            sms=notifier.sms,
            sealer=notifier.sealer,
            taxonomy=notifier.taxonomy,
            retry=notifier.retry,
        )

    consume(app, topics.EVENTS, policy, handle)
    return app
