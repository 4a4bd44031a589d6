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
def sms() -> None:
    """The citizen's SMS: templates, segment budgets (see docs/notifier.md)."""


@sms.command("preview")
@click.option(
    "--language",
    "languages",
    type=click.Choice(["fa", "en"]),
    multiple=True,
    default=("fa", "en"),
    show_default=True,
    help="Only these languages; repeat for several.",
)
@click.option(
    "--mail/--no-mail", default=True, show_default=True, help="Also print the department e-mail notices."
)
def sms_preview(languages: tuple[str, ...], mail: bool) -> None:
    """Print every SMS template rendered with sample data, its segment count and budget; exit 1 if
    any exceeds its budget (budgets and time zone from PASOKH_POLICY__*). Then the department e-mail
    notices (subject and body) of every event that sends one."""
    from notifier.mail import MAIL_EVENTS, PREFIX, sample_notice
    from notifier.messages import CATALOG, sample
    from notifier.policy import budget
    from notifier.segments import segments
    from notifier.settings import NotifierSettings

    policy = NotifierSettings().policy
    over = 0
    for template in CATALOG:
        for language in languages:
            text = sample(template, language, timezone=policy.timezone)
            cost, allowed = segments(text), budget(policy, template)
            verdict = "ok" if cost <= allowed else "OVER BUDGET"
            over += cost > allowed
            click.echo(f"== {template} [{language}] {cost}/{allowed} segments, {len(text)} chars: {verdict}")
            click.echo(text)
            click.echo()
    for event in MAIL_EVENTS if mail else ():
        for language in languages:
            subject, body = sample_notice(event.removeprefix(PREFIX), language, timezone=policy.timezone)
            click.echo(f"== e-mail {event.removeprefix(PREFIX)} [{language}]\nSubject: {subject}\n\n{body}")
    if over:
        click.echo(f"{over} templates exceed their segment budget", err=True)
        sys.exit(1)


@main.group(invoke_without_command=True)
@click.option(
    "--rate",
    "rates",
    type=click.FloatRange(min=1),
    multiple=True,
    default=(200.0, 500.0),
    show_default=True,
    help="Open-loop target rate (complaints/s); repeat for several runs.",
)
@click.option("--duration", type=float, default=60.0, show_default=True, help="Seconds of load per run.")
@click.option("--warmup", type=float, default=5.0, show_default=True, help="Seconds of load first.")
@click.option(
    "--drain", type=float, default=120.0, show_default=True, help="Longest wait for the SMS after each run."
)
@click.option("--ceiling/--no-ceiling", "raw", default=True, help="Also measure the raw ceiling.")
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line.")
@click.pass_context
def bench(
    ctx: click.Context,
    rates: tuple[float, ...],
    duration: float,
    warmup: float,
    drain: float,
    raw: bool,
    as_json: bool,
) -> None:
    """Benchmarks on real Kafka and the MongoDB-wire server (started unless PASOKH_* names them).

    Without a subcommand: the whole pipeline (intake → router → notifier → a local SMS gateway) under
    open-loop load at each --rate, end-to-end latencies, memory per service, and the raw ceiling.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pasokh.bench.pipeline import main as run

    run(rates=list(rates), duration=duration, warmup=warmup, drain=drain, raw=raw, as_json=as_json)


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


@bench.command("notifier")
@click.option(
    "--count", type=int, default=5000, show_default=True, help="Routed events pre-filled (one SMS each)."
)
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Give up after this many seconds."
)
@click.option(
    "--samples", type=int, default=200, show_default=True, help="Round trips timed per kind afterwards."
)
@click.option(
    "--with-submitted",
    "submitted",
    is_flag=True,
    help="Also pre-fill each complaint's submitted event (the routed SMS only, as after coalescing).",
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line.")
def bench_notifier(count: int, timeout: float, samples: int, submitted: bool, as_json: bool) -> None:
    """SMS handed to a local gateway per second by one notifier process (events topic pre-filled).

    Use a broker of its own (leave PASOKH_KAFKA__BOOTSTRAP_SERVERS unset): on a shared one the
    notifier's consumer group first works through the backlog of the topics."""
    from pasokh.bench.notifier import main as run

    run(count=count, timeout=timeout, samples=samples, as_json=as_json, submitted=submitted)


@bench.command("web")
@click.option("--complaints", default=100_000, show_default=True, help="Complaints to store first.")
@click.option("--requests", default=200, show_default=True, help="Requests per page.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON line with every figure.")
def bench_web(complaints: int, requests: int, as_json: bool) -> None:
    """Server time (p50/p95) of the staff inbox, the complaint page and the transparency page over
    --complaints stored complaints (docs/web.md)."""
    from pasokh.bench.web import main as run

    run(complaints=complaints, requests=requests, as_json=as_json)


@bench.command("classify")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Complaints to classify, JSON lines with a 'text' (default: router/data/eval.jsonl).",
)
@click.option("--rounds", type=int, default=5, show_default=True, help="Passes over the file.")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Model directory (default: PASOKH_CLASSIFIER__MODEL_DIR, else the shipped model).",
)
@click.option(
    "--batch",
    type=int,
    default=0,
    show_default=True,
    help="Also measure the CPU time per complaint when classified this many at a time (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line.")
def bench_classify(data: Path | None, rounds: int, model_dir: Path | None, batch: int, as_json: bool) -> None:
    """Classification latency per complaint (p50/p90/p99), one complaint at a time, no I/O."""
    from pasokh.bench.classify import main as run
    from router.model import default_eval_file

    run(data or default_eval_file(), rounds=rounds, model_dir=model_dir, as_json=as_json, batch=batch)


@bench.command("router")
@click.option("--n", "n", type=int, default=20000, show_default=True, help="Complaints put on the topic.")
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Give up after this many seconds."
)
@click.option(
    "--received/--no-received",
    default=True,
    show_default=True,
    help="Store the received records first, as intake does (the router then updates them).",
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line.")
def bench_router(n: int, timeout: float, received: bool, as_json: bool) -> None:
    """Complaints decided per second by one router worker draining a filled topic, with its MongoDB
    round trips and written documents per complaint, the CPU each process spent per complaint (and
    the rate the machine's cores allow at that cost) and the time in each step of its batches."""
    from pasokh.bench.router import main as run

    run(n=n, timeout=timeout, received=received, as_json=as_json)


@main.group()
def keys() -> None:
    """Manage API keys of partner systems and staff (stored hashed in MongoDB at PASOKH_MONGO__URI),
    and re-seal personal data after PASOKH_SECRET_KEY is rotated (rotate-secret)."""


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


@keys.command("rotate-secret")
@click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="Documents per read."
)
@click.option("--dry-run", is_flag=True, help="Count what would be rewritten; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Also print the counts as one JSON line.")
def keys_rotate_secret(batch: int, dry_run: bool, as_json: bool) -> None:
    """Re-seal and re-hash stored phone numbers under PASOKH_SECRET_KEY.

    Run after PASOKH_SECRET_KEY was replaced and the old key moved to PASOKH_SECRET_KEYS_PREVIOUS
    (docs/operations.md, "Rotating keys"). Works in batches, may be interrupted and run again;
    exits 1 while documents are left that still need a previous key.
    """
    import json

    from services import keyrotation
    from services.privacy import Sealer
    from services.settings import PasokhSettings

    sealer = Sealer.from_settings(PasokhSettings())
    previous = ", ".join(sealer.previous_key_ids) or "none"
    click.echo(f"active key id: {sealer.key_id}; previous key ids: {previous}", err=True)

    def progress(name: str, counts: keyrotation.Counts) -> None:
        click.echo(f"  {name}: {counts.scanned} scanned, {counts.rewritten} rewritten", err=True)

    counts = _with_store(
        lambda store: keyrotation.rotate(store, sealer, batch=batch, dry_run=dry_run, progress=progress)
    )
    verb = "would rewrite" if dry_run else "rewritten"
    for name, c in counts.items():
        click.echo(
            f"{name}: {c.scanned} scanned, {c.rewritten} {verb}, {c.current} already current, "
            f"{c.unreadable} unreadable, {c.changed_meanwhile} changed meanwhile, {c.orphaned} orphaned"
        )
    if as_json:
        click.echo(json.dumps({"key_id": sealer.key_id, "dry_run": dry_run, **keyrotation.summary(counts)}))
    unknown = sum(c.unreadable + c.orphaned for c in counts.values())
    busy = sum(c.changed_meanwhile for c in counts.values())
    if unknown:
        click.echo(
            f"{unknown} documents could not be re-sealed: no key given opens them (add the key that sealed "
            "them to PASOKH_SECRET_KEYS_PREVIOUS) or their phone is found nowhere sealed",
            err=True,
        )
    if busy:
        click.echo(f"{busy} documents changed while being re-sealed: run again", err=True)
    if unknown or busy:
        sys.exit(1)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once."""
    from intake import auth

    if not _with_store(lambda store: auth.revoke(store, key_id)):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")


@main.group()
def users() -> None:
    """Manage staff accounts of the web console (/console; argon2 password hashes in MongoDB)."""


@users.command("create")
@click.argument("username")
@click.option("--name", required=True, help="Display name, shown in the console and on actions.")
@click.option("--role", required=True, type=click.Choice(["operator", "department", "supervisor", "admin"]))
@click.option("--department", "departments", multiple=True, help="Department code the user acts on (repeat).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given (at least 10 characters); read from stdin when it is not a terminal.",
)
def users_create(username: str, name: str, role: str, departments: tuple[str, ...], password: str) -> None:
    """Create a console account."""
    from intake.web import accounts

    try:
        doc = _with_store(
            lambda store: accounts.create_user(
                store, username=username, name=name, password=password, role=role, departments=departments
            )
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"created {doc['_id']} ({doc['role']})")


@users.command("list")
def users_list() -> None:
    """List accounts (username, name, role, departments, disabled)."""
    from intake.web import accounts

    for doc in _with_store(accounts.list_users):
        disabled = f" DISABLED {doc['disabled_at']:%Y-%m-%d}" if doc.get("disabled_at") else ""
        departments = ",".join(doc.get("departments") or []) or "-"
        click.echo(f"{doc['_id']}  {doc['name']}  role={doc['role']} departments={departments}{disabled}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account at once (its sessions end)."""
    from intake.web import accounts

    if not _with_store(lambda store: accounts.disable_user(store, username)):
        raise click.ClickException(f"no active user {username}")
    click.echo(f"disabled {username}")


@main.group()
def inbox() -> None:
    """The staff inbox's read model (services/inbox.py) in MongoDB at PASOKH_MONGO__URI."""


@inbox.command("backfill")
def inbox_backfill() -> None:
    """Build inbox entries and slot markers for every open complaint and drop entries of closed ones:
    run once after upgrading over stored complaints. Safe while the services run, safe to stop and
    run again (a second run writes only what is still missing)."""
    from services import inbox as read_model

    def say(message: str) -> None:
        click.echo(message, err=True)

    _with_store(lambda store: read_model.backfill(store, progress=say))


@main.group()
def routing() -> None:
    """The city's routing: rules (category × district × time → department), departments, districts.

    Stored in MongoDB at PASOKH_MONGO__URI; running routers pick changes up within seconds.
    """


@routing.command("show")
def routing_show() -> None:
    """Print the rules in the order they are tried, the added departments and the districts."""
    from services import rules
    from services.taxonomy import load_taxonomy

    async def read(store: Store) -> tuple[int, list[rules.Rule], list[rules.DepartmentIn], list[str]]:
        districts = await rules.load_stored_districts(store)
        names = [f"{d.code} ({d.fa} / {d.en})" for d in districts.districts.values()]
        return (
            await rules.version(store),
            await rules.list_rules(store),
            await rules.list_departments(store),
            names,
        )

    version, rule_list, departments, districts = _with_store(read)
    taxonomy = load_taxonomy()
    click.echo(f"version {version}\nrules (first match wins; else the category's default department):")
    for r in rule_list:
        when = " ".join(
            part
            for part in (
                f"category={r.category}" if r.category else "",
                f"district={r.district}" if r.district else "",
                f"days={','.join(r.days)}" if r.days else "",
                f"from={r.start:%H:%M}" if r.start else "",
                f"to={r.end:%H:%M}" if r.end else "",
            )
            if part
        )
        click.echo(f"  {r.order:>6}  {r.id}: {when or 'always'} → {r.department}")
    click.echo("defaults: " + ", ".join(f"{c}→{cat.department}" for c, cat in taxonomy.categories.items()))
    added = [f"{d.code} ({d.en}{''.join(' ' + e for e in d.emails)})" for d in departments]
    click.echo("added departments: " + (", ".join(added) or "-"))
    click.echo("districts: " + ", ".join(districts))


@routing.command("set-rule")
@click.argument("rule_id")
@click.option("--department", required=True, help="Where matching complaints go.")
@click.option("--category", default=None, help="Only this category (service code).")
@click.option("--district", default=None, help="Only this district code.")
@click.option("--days", default=None, help="Only these days, comma-separated: sat,sun,mon,tue,wed,thu,fri.")
@click.option("--start", default=None, help="From this Tehran time, HH:MM.")
@click.option("--end", default=None, help="Until this Tehran time, HH:MM (before --start: over midnight).")
@click.option("--order", type=int, default=100, show_default=True, help="Lower is tried first.")
@click.option("--note", default=None, help="Why the rule exists.")
def routing_set_rule(
    rule_id: str,
    department: str,
    category: str | None,
    district: str | None,
    days: str | None,
    start: str | None,
    end: str | None,
    order: int,
    note: str | None,
) -> None:
    """Create or replace the rule RULE_ID."""
    from pydantic import ValidationError

    from services import rules
    from services.taxonomy import load_taxonomy

    fields: dict[str, object] = {
        "department": department,
        "category": category,
        "district": district,
        "days": [d.strip() for d in days.split(",") if d.strip()] if days else None,
        "start": start,
        "end": end,
        "order": order,
        "note": note,
    }
    try:
        rule = rules.Rule.model_validate({"id": rule_id} | {k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc

    async def save(store: Store) -> tuple[str, str] | None:
        problem = await rules.check_rule(store, load_taxonomy(), rule)
        if problem is None:
            await rules.put_rule(store, rule)
        return problem

    problem = _with_store(save)
    if problem is not None:
        raise click.UsageError(f"--{problem[0]}: {problem[1]}")
    click.echo(f"rule {rule_id} saved")


@routing.command("delete-rule")
@click.argument("rule_id")
def routing_delete_rule(rule_id: str) -> None:
    """Delete the rule RULE_ID."""
    from services import rules

    if not _with_store(lambda store: rules.delete_rule(store, rule_id)):
        raise click.ClickException(f"no rule {rule_id}")
    click.echo(f"rule {rule_id} deleted")


@routing.command("set-department")
@click.argument("code")
@click.option("--fa", required=True, help="Persian name.")
@click.option("--en", required=True, help="English name.")
@click.option(
    "--email", "emails", multiple=True, help="Mailbox that gets the department's e-mail notices (repeat)."
)
def routing_set_department(code: str, fa: str, en: str, emails: tuple[str, ...]) -> None:
    """Add the department CODE (or rename it, or set its e-mail notice mailboxes: the last call's
    --email list replaces the earlier one)."""
    from pydantic import ValidationError

    from services import rules

    try:
        department = rules.DepartmentIn(code=code, fa=fa, en=en, emails=emails)
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc
    _with_store(lambda store: rules.put_department(store, department))
    click.echo(f"department {code} saved")


@routing.command("delete-department")
@click.argument("code")
def routing_delete_department(code: str) -> None:
    """Remove a department added with set-department (rules naming it are then skipped)."""
    from services import rules

    if not _with_store(lambda store: rules.delete_department(store, code)):
        raise click.ClickException(f"no added department {code}")
    click.echo(f"department {code} deleted")


@routing.command("import-districts")
@click.argument("geojson", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def routing_import_districts(geojson: Path) -> None:
    """Replace the districts with a GeoJSON FeatureCollection (properties: code, fa, en)."""
    from services import rules
    from services.geo import InvalidDistricts, load_districts

    try:
        districts = load_districts(geojson)
    except (InvalidDistricts, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    _with_store(lambda store: rules.put_districts(store, districts))
    click.echo(f"{len(districts.districts)} districts imported: {', '.join(districts.districts)}")


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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help='JSON lines {"text", "label"}; any label set; repeat to train on several files. With '
    "--from-store: default the shipped corpus, router/data/seed*.jsonl (router.model.SEED_FILES).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model directory (required without --from-store).",
)
@click.option(
    "--from-store",
    is_flag=True,
    help="Add the staff's corrections (reassignments) from MongoDB to --data and store the model there "
    "as a new version (PASOKH_MONGO__URI).",
)
@click.option("--activate", is_flag=True, help="With --from-store: make the new version active at once.")
def train(data: tuple[Path, ...], out: Path | None, from_store: bool, activate: bool) -> None:
    """Train a complaint classifier on labelled examples; save it to --out and/or the store."""
    from router import model as m

    if not from_store and (not data or out is None):
        raise click.UsageError("--data and --out are required unless --from-store")
    if activate and not from_store:
        raise click.UsageError("--activate needs --from-store")
    examples = [e for path in data for e in m.read_jsonl(path)] if data else m.read_seed()
    if from_store:
        from router import learning

        corrections = _with_store(learning.corrections)
        click.echo(
            f"{len(examples)} examples from {', '.join(map(str, data)) or 'the seed corpus'}, "
            f"{len(corrections)} corrections"
        )
        examples += corrections
    try:
        trained = m.train(examples)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
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
    if out is not None:
        trained.save(out)
        click.echo(f"saved to {out}")
    if from_store:
        from router import registry

        async def store_it(store: Store) -> str:
            saved = await registry.save(store, trained)
            if activate:
                await registry.activate(store, saved.version)
            return saved.version

        version = _with_store(store_it)
        click.echo(f"stored as version {version}" + (" (active)" if activate else ""))
        if not activate:
            click.echo(f"activate it with: pasokh models activate {version}")


@main.group()
def models() -> None:
    """Classifier versions stored in MongoDB (PASOKH_MONGO__URI): list them, activate one."""


@models.command("list")
def models_list() -> None:
    """Every stored version, oldest first; the active one is marked with '*'."""
    from router import registry

    found = _with_store(registry.versions)
    if not found:
        click.echo("no stored versions: routers use the model shipped in the package")
    for v in found:
        cv = (v.meta.get("cross_validation") or {}).get("macro_f1")
        figures = f"cv macro-F1 {cv:.4f}" if cv is not None else "no cross-validation"
        click.echo(
            f"{'*' if v.active else ' '} {v.version}  {v.name}  {v.meta.get('n_examples')} examples  "
            f"{figures}  {v.size / 1e6:.1f} MB  {v.created_at:%Y-%m-%d %H:%M}"
        )


@models.command("activate")
@click.argument("version")
def models_activate(version: str) -> None:
    """Make VERSION the model every router uses (they switch within PASOKH_CLASSIFIER__RELOAD_SECONDS)."""
    from router import registry

    try:
        chosen = _with_store(lambda store: registry.activate(store, version))
    except registry.UnknownVersion as exc:
        raise click.ClickException(f"no stored version {version} (see `pasokh models list`)") from exc
    click.echo(f"active: {chosen.version} ({chosen.name})")


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
        f"(threshold {figures['threshold']:.4f}), auto-precision "
        + ("-" if auto is None else f"{auto:.4f}")
        + f", calibration error {figures['calibration_error']}"
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


@main.command()
@click.option("--duration", type=float, default=300.0, show_default=True, help="Seconds of load.")
@click.option("--rate", type=float, default=20.0, show_default=True, help="Complaints submitted per second.")
@click.option(
    "--rounds", type=int, default=2, show_default=True, help="Times each of the seven faults is injected."
)
@click.option(
    "--settle", type=float, default=300.0, show_default=True, help="Longest wait for processing afterwards."
)
@click.option("--json", "as_json", is_flag=True, help="Also print the report as one JSON line.")
def chaos(duration: float, rate: float, rounds: int, settle: float, as_json: bool) -> None:
    """Kill -9 router, notifier and intake, restart Kafka and MongoDB, stop router and notifier
    gracefully, under load; then check nothing was lost or doubled (exit 1 if something was)."""
    from pasokh.chaos import main as run

    sys.exit(run(duration=duration, rate=rate, rounds=rounds, settle=settle, as_json=as_json))


@main.group()
def retention() -> None:
    """Remove personal data of complaints closed long ago (PASOKH_RETENTION__CLOSED_DAYS) and expire
    the de-duplication ledgers (idempotency keys, SMS message ids, partner event ids)."""


@retention.command("sweep")
@click.option(
    "--closed-days",
    type=click.IntRange(min=1),
    default=None,
    help="Anonymise complaints closed at least this many days ago (default: PASOKH_RETENTION__CLOSED_DAYS).",
)
def retention_sweep(closed_days: int | None) -> None:
    """Anonymise closed complaints past the retention period and expire old ledger entries once, then
    print how many of each."""
    from datetime import UTC, datetime

    from services import ledgers
    from services import retention as sweeper
    from services.settings import PasokhSettings

    settings = PasokhSettings().retention
    days = closed_days or settings.closed_days
    now = datetime.now(UTC)

    async def sweep(store: Store) -> tuple[int, dict[str, int]]:
        done = await sweeper.sweep(store, now=now, closed_days=days, batch=settings.batch)
        return done, await ledgers.expire(store, now=now, settings=settings)

    done, expired = _with_store(sweep)
    click.echo(f"anonymised {done} complaints closed more than {days} days ago")
    click.echo("expired ledger entries: " + ", ".join(f"{name} {n}" for name, n in expired.items()))


if __name__ == "__main__":
    main()
