"""The ``pasokh`` command: run the system, a single service, or the local infrastructure."""

from __future__ import annotations

import os
import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Pasokh: citizens' complaints routed to the right department, with SMS updates.

    Configuration comes from PASOKH_* environment variables (see README.md).
    """


@main.command()
def up() -> None:
    """Start Kafka and a MongoDB-wire server (unless PASOKH_KAFKA__BOOTSTRAP_SERVERS /
    PASOKH_MONGO__URI are set), create the topics, then run intake, router and notifier
    until Ctrl-C or SIGTERM."""
    from pasokh.up import run

    sys.exit(run(dict(os.environ)))


@main.command()
def intake() -> None:
    """Run only intake, the HTTP API (PASOKH_INTAKE__PORT, default 8000)."""
    from intake.__main__ import main as run

    run()


@main.command()
def router() -> None:
    """Run only the router worker (health on PASOKH_ROUTER__PORT, default 8001)."""
    from router.__main__ import main as run

    run()


@main.command()
def notifier() -> None:
    """Run only the notifier worker (health on PASOKH_NOTIFIER__PORT, default 8002)."""
    from notifier.__main__ import main as run

    run()


@main.command()
def topics() -> None:
    """Create the Kafka topics of the contract on PASOKH_KAFKA__BOOTSTRAP_SERVERS if missing."""
    from services.bus import ensure_topics
    from services.settings import PasokhSettings

    created = ensure_topics(PasokhSettings().kafka)
    click.echo(f"created: {', '.join(created)}" if created else "all topics present")


@main.command()
def infra() -> None:
    """Start only Kafka and the MongoDB-wire server and print the PASOKH_* variables that point at
    them (for running services or tests against long-lived infrastructure); Ctrl-C stops them."""
    import signal
    import threading

    from pasokh.infra.errors import InfraError
    from pasokh.infra.local import LocalInfra
    from services.settings import PasokhSettings

    settings = PasokhSettings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    local = LocalInfra(settings, settings.data_dir.resolve() / "infra")
    try:
        local.start()
        for key, value in local.env().items():
            click.echo(f"export {key}={value}")
        stop.wait()
    except InfraError as exc:
        click.echo(f"pasokh infra: {exc}", err=True)
        sys.exit(1)
    finally:
        local.stop()


if __name__ == "__main__":
    main()
