"""Run intake: ``python -m intake`` or ``pasokh intake`` (reads PASOKH_* settings)."""

from __future__ import annotations

import uvicorn

from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.settings import IntakeSettings
from services.logs import setup_logging


def main() -> None:
    """Serve the API until SIGINT/SIGTERM."""
    settings = IntakeSettings()
    setup_logging("intake", settings.log_level)
    app = create_app(bootstrap(settings))
    uvicorn.run(
        app,
        host=settings.intake.host,
        port=settings.intake.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
