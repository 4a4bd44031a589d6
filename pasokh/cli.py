"""The ``pasokh`` command: run the system, a single service, or the local infrastructure."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

import click

if TYPE_CHECKING:
    from services.store import Store

T = TypeVar("T")


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


@main.group()
def bench() -> None:
    """Benchmarks on real Kafka and the MongoDB-wire server (started unless PASOKH_* names them)."""


@bench.command("intake")
@click.option(
    "--rate",
    "rates",
    type=float,
    multiple=True,
    default=(500.0, 1000.0),
    show_default=True,
    help="Open-loop target rate (requests/s); repeat for several runs.",
)
@click.option(
    "--concurrency", type=int, default=64, show_default=True, help="Clients of the closed-loop run."
)
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds per run.")
@click.option(
    "--warmup", type=float, default=5.0, show_default=True, help="Seconds of load before measuring."
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line.")
def bench_intake(
    rates: tuple[float, ...], concurrency: int, duration: float, warmup: float, as_json: bool
) -> None:
    """Submissions per second of one intake process (closed loop), then latency at each --rate."""
    from pasokh.bench.intake import main as run

    run(rates=list(rates), concurrency=concurrency, duration=duration, warmup=warmup, as_json=as_json)


@main.group()
def keys() -> None:
    """Manage API keys of partner systems and staff (stored hashed in MongoDB at PASOKH_MONGO__URI)."""


def _with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    from services.settings import PasokhSettings
    from services.store import Store

    async def run() -> T:
        store = Store.connect(PasokhSettings().mongo, app_name="pasokh-cli")
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@keys.command("create")
@click.option("--name", required=True, help="Who the key is for, e.g. '137 call centre'.")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated: complaints:write, complaints:read, events:write, staff, admin.",
)
@click.option(
    "--role", type=click.Choice(["operator", "department", "supervisor", "admin"]), help="Staff keys only."
)
@click.option(
    "--department", "departments", multiple=True, help="Department code a staff key may act on (repeat)."
)
def keys_create(name: str, scopes: str, role: str | None, departments: tuple[str, ...]) -> None:
    """Create a key and print it once; only a digest is stored."""
    from intake import auth

    try:
        key, doc = _with_store(
            lambda store: auth.create_key(
                store,
                name=name,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                role=cast("auth.Role | None", role),
                departments=departments,
            )
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"key id: {doc['_id']}\nscopes: {', '.join(doc['scopes'])}")
    click.echo(f"\n{key}\n\nKeep it now: it is not shown again.")


@keys.command("list")
def keys_list() -> None:
    """List keys (id, name, scopes, role, departments, created, revoked)."""
    from intake import auth

    for doc in _with_store(auth.list_keys):
        revoked = f" REVOKED {doc['revoked_at']:%Y-%m-%d}" if doc.get("revoked_at") else ""
        staff = (
            f" role={doc['role']} departments={','.join(doc['departments']) or '-'}"
            if doc.get("role")
            else ""
        )
        click.echo(f"{doc['_id']}  {doc['name']}  [{', '.join(doc['scopes'])}]{staff}{revoked}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once."""
    from intake import auth

    if not _with_store(lambda store: auth.revoke(store, key_id)):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")


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


@main.command()
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON lines {"text", "label"}; any label set.',
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model directory."
)
def train(data: Path, out: Path) -> None:
    """Train a complaint classifier on labelled examples and save it to --out."""
    from router import model as m

    examples = m.read_jsonl(data)
    try:
        trained = m.train(examples)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    trained.save(out)
    meta = trained.meta
    click.echo(
        f"trained {trained.name} on {meta['n_examples']} examples, {len(meta['labels'])} labels "
        f"in {meta['train_seconds']} s; triage threshold {meta['threshold']:.4f}"
    )
    cv = meta["cross_validation"]
    if cv:
        click.echo(
            f"cross-validation ({cv['folds']} folds): accuracy {cv['accuracy']:.4f}, "
            f"macro-F1 {cv['macro_f1']:.4f}, triage {cv['triage_rate']:.4f}, "
            f"auto-precision {cv['auto_precision']:.4f}"
        )
    click.echo(f"saved to {out}")


@main.command("eval")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON lines {"text", "label"}.',
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Model directory (default: the model shipped in router/models/default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object (last line).")
def eval_(data: Path, model_dir: Path | None, as_json: bool) -> None:
    """Measure a classifier on labelled examples: accuracy, macro-F1, per class, triage split."""
    import json

    from router import model as m

    trained = m.TrainedModel.load(model_dir or m.default_model_dir())
    figures = m.evaluate(trained, m.read_jsonl(data), trained.threshold)
    figures["model"] = trained.name
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    auto = figures["auto_precision"]
    click.echo(
        f"{trained.name} on {figures['n']} examples: accuracy {figures['accuracy']:.4f}, "
        f"macro-F1 {figures['macro_f1']:.4f}\ntriage rate {figures['triage_rate']:.4f} "
        f"(threshold {figures['threshold']:.4f}), auto-precision " + ("-" if auto is None else f"{auto:.4f}")
    )
    for label, row in figures["per_class"].items():
        click.echo(
            f"  {label:<14} P {row['precision']:.3f}  R {row['recall']:.3f}  "
            f"F1 {row['f1']:.3f}  n {row['support']}"
        )


@main.group()
def contracts() -> None:
    """The published event contract: JSON Schemas and the AsyncAPI document."""


@contracts.command("export")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the files differ from the code.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where services/contracts is (default: the installed package's directory).",
)
def contracts_export(check: bool, directory: Path | None) -> None:
    """Write services/contracts/schemas/<type>.v<version>.json and asyncapi.json from the payload models."""
    from services.contracts import schemas

    root = directory or schemas.package_dir()
    if check:
        stale = schemas.stale(root)
        for relative in stale:
            click.echo(f"stale: {relative}", err=True)
        if stale:
            click.echo("run `pasokh contracts export` and commit the result", err=True)
            sys.exit(1)
        click.echo(f"{len(schemas.render())} contract files up to date in {root}")
        return
    changed = schemas.export(root)
    for relative in changed:
        click.echo(f"wrote: {relative}" if (root / relative).exists() else f"removed: {relative}")
    click.echo(f"{len(changed)} files changed in {root}")


@main.group()
def retention() -> None:
    """Remove personal data of complaints closed long ago (PASOKH_RETENTION__CLOSED_DAYS)."""


@retention.command("sweep")
@click.option(
    "--closed-days",
    type=click.IntRange(min=1),
    default=None,
    help="Anonymise complaints closed at least this many days ago (default: PASOKH_RETENTION__CLOSED_DAYS).",
)
def retention_sweep(closed_days: int | None) -> None:
    """Anonymise closed complaints past the retention period once, then print how many."""
    from datetime import UTC, datetime

    from services import retention as sweeper
    from services.settings import PasokhSettings

    settings = PasokhSettings().retention
    days = closed_days or settings.closed_days
    done = _with_store(
        lambda store: sweeper.sweep(store, now=datetime.now(UTC), closed_days=days, batch=settings.batch)
    )
    click.echo(f"anonymised {done} complaints closed more than {days} days ago")


if __name__ == "__main__":
    main()
