"""Run the router: ``python -m router`` or ``pasokh router`` (reads PASOKH_* settings)."""

from __future__ import annotations

from router.app import create_router_app
from router.bootstrap import bootstrap
from router.settings import RouterSettings
from services import collector
from services.logs import setup_logging
from services.worker import run_worker


def main() -> None:
    """Consume submitted complaints until SIGINT/SIGTERM."""
    settings = RouterSettings()
    setup_logging("router", settings.log_level)
    app = create_router_app(bootstrap(settings))
    collector.tune(settings.gc_threshold)
    run_worker(app, log_level=settings.log_level)


if __name__ == "__main__":
    main()
