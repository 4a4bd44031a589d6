"""The notifier's faust app: agents on the submitted and events topics, thin by design, plus a timer
that sends deferred SMS (quiet hours, coalescing, surveys) once they are due."""

from __future__ import annotations

import logging

import faust
from pymongo.errors import PyMongoError

from notifier import delivery, outbox
from notifier.bootstrap import Notifier
from notifier.departments import DepartmentNotices
from notifier.handlers import Context, flush, handle
from services.bus import FaustPublisher
from services.contracts import topics
from services.contracts.envelope import Envelope
from services.errors import DependencyUnavailable
from services.worker import MessagePolicy, Readiness, add_operations_pages, consume, create_app

log = logging.getLogger(__name__)


def create_notifier_app(notifier: Notifier) -> faust.App:
    """A faust app whose agents hand each complaint event to :func:`notifier.handlers.handle`."""
    settings = notifier.settings
    app = create_app("notifier", settings, settings.notifier)
    add_operations_pages(app, Readiness(notifier.store))
    # The producer object exists now and is started by faust before any message is consumed.
    publisher = notifier.publisher or FaustPublisher(app.producer)
    policy = MessagePolicy("notifier", publisher)
    departments = DepartmentNotices(settings.departments) if settings.departments.hooks else None
    context = Context(
        store=notifier.store,
        publisher=publisher,
        sms=notifier.sms,
        sealer=notifier.sealer,
        taxonomy=notifier.taxonomy,
        retry=notifier.retry,
        policy=settings.policy,
        departments=departments,
    )

    async def prepare() -> None:
        await notifier.store.ensure_indexes()
        await outbox.ensure_indexes(notifier.store)

    app.task(prepare)

    async def handle_one(envelope: Envelope) -> None:
        await delivery.apply(envelope, store=notifier.store)  # delivery reports: notifier/delivery.py
        await handle(envelope, context)

    consume(app, topics.SUBMITTED, policy, handle_one)
    consume(app, topics.EVENTS, policy, handle_one)

    async def send_deferred() -> None:
        try:
            await flush(context)
        except (PyMongoError, DependencyUnavailable) as exc:
            # The next tick tries again; nothing is lost while MongoDB or Kafka is away.
            log.warning("deferred SMS not sent this tick", extra={"error": repr(exc)})
        except Exception:
            # The timer must outlive any surprise: the records wait in MongoDB for the next tick.
            log.exception("deferred SMS sender failed this tick")

    app.timer(settings.policy.tick_seconds, name="notifier.deferred")(send_deferred)

    return app
