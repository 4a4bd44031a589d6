"""The router's faust app: agents on the submitted complaints and on the complaint events, thin by design."""

from __future__ import annotations

import faust

from router import actions
from router.bootstrap import Router
from router.handlers import handle_submitted
from services.bus import FaustPublisher
from services.contracts import topics
from services.contracts.complaints import ComplaintStatusUpdated
from services.contracts.envelope import Envelope
from services.worker import MessagePolicy, Readiness, add_operations_pages, consume, create_app


def create_router_app(router: Router) -> faust.App:
    """A faust app whose agent hands each submitted complaint to :func:`handle_submitted`."""
    settings = router.settings
    app = create_app("router", settings, settings.router)
    readiness = Readiness(router.store)
    add_operations_pages(app, readiness)
    # The producer object exists now and is started by faust before any message is consumed.
    publisher = router.publisher or FaustPublisher(app.producer)
    policy = MessagePolicy("router", publisher)

    async def prepare() -> None:
        await router.store.ensure_indexes()

    app.task(prepare)

    async def handle(envelope: Envelope) -> None:
        await handle_submitted(
            envelope,
            store=router.store,
            publisher=publisher,
            classifier=router.classifier,
            taxonomy=router.taxonomy,
            threshold=settings.classifier.triage_threshold,
        )

    async def apply(envelope: Envelope) -> None:
        if envelope.type in actions.MODELS:
            await actions.apply_action(envelope, store=router.store)
        elif envelope.type == ComplaintStatusUpdated.TYPE:
            await actions.apply_status_update(envelope, store=router.store)

    consume(app, topics.SUBMITTED, policy, handle)
    consume(app, topics.EVENTS, policy, apply)
    return app
