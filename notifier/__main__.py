"""Run the notifier: ``python -m notifier`` or ``pasokh notifier`` (reads PASOKH_* settings)."""

from __future__ import annotations

import asyncio

import uvloop

from notifier.app import create_notifier_app
from notifier.bootstrap import bootstrap
from notifier.settings import NotifierSettings
from services import collector
from services.logs import setup_logging
from services.worker import run_worker


def main() -> None:
    """Consume complaint events and send SMS until SIGINT/SIGTERM."""
    settings = NotifierSettings()
    setup_logging("notifier", settings.log_level)
    if settings.notifier.event_loop == "uvloop":
        # Before the app exists: faust takes its loop from the policy. Each MongoDB command, SMS and
        # Kafka produce is a socket write; uvloop makes them cheaper (docs/performance.md, notifier).
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = create_notifier_app(bootstrap(settings))
    collector.tune(settings.gc_threshold)
    run_worker(app, log_level=settings.log_level)


if __name__ == "__main__":
    main()
