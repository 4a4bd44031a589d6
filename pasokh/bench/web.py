"""``pasokh bench web``: server time of the staff inbox, the complaint page and the transparency page.

Run: ``pasokh bench web [--complaints 100000] [--requests 200] [--json]``.

Stores ``--complaints`` complaints (17 categories, 12 districts, a year of submissions, most of them
resolved, timelines of 2–4 entries) in a database of its own on the MongoDB-wire server (started unless
PASOKH_MONGO__URI names one), with the public rollups the router would have kept for them; then the
staff inbox's read model is built by ``services.inbox.backfill`` (what ``pasokh inbox backfill`` does
after an upgrade; timed too). Then intake runs in this process and each page is requested
``--requests`` times, one at a time, through the ASGI interface: the figures are server time
(routing, session, MongoDB queries, rendering), no network. The inbox is timed for department staff
and for a supervisor (all departments), unfiltered, on its second page and with each filter.
The measured pages only read, so no Kafka is started (an in-memory publisher stands in for it).
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import UpdateOne

from intake.app import create_app
from intake.bootstrap import bootstrap
from intake.ratelimit import RateLimitSettings
from intake.settings import IntakeHttpSettings, IntakeSettings
from intake.web import accounts
from pasokh.infra.mongo import MongoServer
from services import inbox, stats
from services.bus import InMemoryPublisher
from services.settings import MongoSettings, PasokhSettings
from services.store import Doc, Store
from services.taxonomy import Taxonomy

PASSWORD = "bench-password-1"
STATUSES = [
    ("resolved", 0.62),
    ("rejected", 0.05),
    ("acknowledged", 0.13),
    ("routed", 0.12),
    ("triage", 0.05),
]
STATUSES += [("reopened", 0.03)]
WORDS = "چراغ خیابان خاموش است آسفالت کوچه خراب شده زباله جمع نشده درخت افتاده آب گرفتگی".split()


def complaints(n: int, taxonomy: Taxonomy, seed: int = 1) -> Iterator[Doc]:
    """``n`` complaint records shaped as the services store them."""
    rng = random.Random(seed)
    codes = list(taxonomy.categories)
    statuses, weights = zip(*STATUSES, strict=True)
    now = datetime.now(UTC)
    for i in range(n):
        category = taxonomy.categories[rng.choice(codes)]
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        due = created + timedelta(hours=category.sla_hours)
        status = rng.choices(statuses, weights)[0]
        timeline = [
            {"type": "received", "at": created, "event_id": f"e{i}a", "public": True},
            {"type": "routed", "at": created + timedelta(seconds=2), "event_id": f"e{i}b", "public": True},
        ]
        doc: Doc = {
            "_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "tracking_code": f"{7_000_000_000 + i}",
            "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30))),
            "channel": rng.choice(["web", "sms", "app", "phone"]),
            "created_at": created,
            "district": str(rng.randint(1, 12)),
            "address": f"خیابان {rng.randint(1, 300)}",
            "status": status,
            "category": category.code,
            "department": taxonomy.triage_department if status == "triage" else category.department,
            "priority": category.priority,
            "language": "fa",
            "due_at": due,
            "decided_at": created + timedelta(seconds=2),
            "classifier": {"name": "tfidf-lr-1", "confidence": round(rng.uniform(0.3, 0.99), 3)},
            "applied_events": [f"e{i}a", f"e{i}b"],
        }
        if status in ("resolved", "rejected", "acknowledged", "reopened"):
            at = created + timedelta(hours=rng.lognormvariate(3, 1.1))
            timeline.append({"type": "acknowledged", "at": at, "event_id": f"e{i}c", "public": True})
        if status in ("resolved", "reopened"):
            resolved = created + timedelta(hours=rng.lognormvariate(3.5, 1.2))
            doc["resolved_at"] = resolved
            timeline.append({"type": "resolved", "at": resolved, "event_id": f"e{i}d", "public": True})
            if rng.random() < 0.4:
                doc["rating"] = rng.randint(1, 5)
        if status == "reopened":  # a citizen's reopening flags the complaint for a supervisor
            reopened = doc["resolved_at"] + timedelta(days=rng.randint(1, 5))
            doc["needs_supervisor"] = True
            doc["supervisor_flag"] = {"reason": "هنوز درست نشده", "at": reopened, "by": "citizen"}
        doc["timeline"] = timeline
        yield doc


def rollups(docs: list[Doc]) -> list[UpdateOne]:
    """The rollup documents the router would have built for ``docs`` (services/stats.py)."""
    totals: dict[str, tuple[Doc, dict[str, int]]] = {}

    def add(keys: list[Doc], inc: dict[str, int]) -> None:
        for key in keys:
            _, counters = totals.setdefault(key["_id"], (key, {}))
            for field, value in inc.items():
                counters[field] = counters.get(field, 0) + value

    for doc in docs:
        dims = (doc["category"], doc["department"], doc["district"])
        add(stats.rollup_keys(stats.local_day(doc["created_at"]), *dims), stats.increments(submitted=1))
        if "resolved_at" in doc:
            hours = (doc["resolved_at"] - doc["created_at"]).total_seconds() / 3600
            inc = stats.increments(resolved_hours=hours, in_sla=doc["resolved_at"] <= doc["due_at"])
            if "rating" in doc:
                inc.update(stats.increments(rating=doc["rating"]))
            add(stats.rollup_keys(stats.local_day(doc["resolved_at"]), *dims), inc)
    return [
        UpdateOne(
            {"_id": _id},
            {"$inc": counters, "$setOnInsert": {k: v for k, v in key.items() if k != "_id"}},
            upsert=True,
        )
        for _id, (key, counters) in totals.items()
    ]


async def seed(store: Store, n: int, taxonomy: Taxonomy) -> list[Doc]:
    """Store ``n`` complaints and their rollups; return them."""
    await store.ensure_indexes()
    await stats.ensure_indexes(store)
    docs = list(complaints(n, taxonomy))
    for start in range(0, n, 2000):
        await store.complaints.insert_many(docs[start : start + 2000], ordered=False)
    ops = rollups(docs)
    for start in range(0, len(ops), 1000):
        await store.db[stats.COLLECTION].bulk_write(ops[start : start + 1000], ordered=False)
    return docs


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = await client.post(
        "/console/login", data={"csrf": token.group(1), "username": username, "password": PASSWORD}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


async def next_page(client: httpx.AsyncClient) -> str:
    """The URL of the inbox's second page (the link the first page shows)."""
    first = await client.get("/console/inbox")
    link = re.search(r'<nav class="pages"[^>]*>.*?<a href="\?([^"]+)">', first.text, re.S)
    if link is None:
        raise RuntimeError("the inbox has no second page")
    return "/console/inbox?" + html.unescape(link.group(1))


async def timed(client: httpx.AsyncClient, urls: list[str]) -> dict[str, float]:
    """Request each URL in turn (after two warm-up requests); latency percentiles in ms."""
    for url in urls[:2]:
        await client.get(url)
    samples = []
    for url in urls:
        started = time.perf_counter()
        answer = await client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code}")
    samples.sort()
    figures = {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 1),
        "max_ms": round(samples[-1], 1),
    }
    print(f"{urls[0]:<40} {figures}", flush=True)
    return figures


async def measure(mongo_uri: str, n: int, requests: int) -> dict[str, Any]:
    """Seed, then time every page."""
    database = f"pasokh_bench_web_{uuid.uuid4().hex[:8]}"
    # Rate limits lifted: one client asks for every page hundreds of times.
    limits = RateLimitSettings(ip_per_minute=10**8, ip_burst=10**8)
    settings = IntakeSettings(
        mongo=MongoSettings(uri=mongo_uri, database=database),
        intake=IntakeHttpSettings(rate_limits=limits),
    )
    intake = bootstrap(settings, publisher=InMemoryPublisher())
    app = create_app(intake)
    await intake.start()
    try:
        started = time.perf_counter()
        docs = await seed(intake.store, n, intake.taxonomy)
        seeded = time.perf_counter() - started
        print(f"{n:,} complaints stored in {seeded:.1f} s", flush=True)
        # The inbox read model as an upgrade builds it for complaints stored before it existed.
        started = time.perf_counter()
        built = await inbox.backfill(intake.store)
        backfilled = time.perf_counter() - started
        print(f"inbox backfill: {built} in {backfilled:.1f} s", flush=True)
        await accounts.create_user(
            intake.store,
            username="lighting",
            name="bench",
            password=PASSWORD,
            role="department",
            departments=["lighting"],
        )
        await accounts.create_user(
            intake.store, username="supervisor", name="bench", password=PASSWORD, role="supervisor"
        )
        rng = random.Random(2)
        transport = httpx.ASGITransport(app=app)
        results: dict[str, Any] = {
            "complaints": n,
            "seed_seconds": round(seeded, 1),
            "backfill_seconds": round(backfilled, 1),
            "inbox_entries": built["written"],
        }
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as public:
            results["transparency"] = await timed(public, ["/transparency"] * requests)
            results["open_data_json"] = await timed(public, ["/open-data/stats.json"] * requests)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as staff:
            await sign_in(staff, "lighting")
            districts = [f"/console/inbox?district={rng.randint(1, 12)}" for _ in range(requests)]
            results["inbox_department"] = await timed(staff, ["/console/inbox"] * requests)
            results["inbox_department_page2"] = await timed(staff, [await next_page(staff)] * requests)
            results["inbox_department_district"] = await timed(staff, districts)
            results["inbox_department_overdue"] = await timed(staff, ["/console/inbox?overdue=1"] * requests)
            for status in ("routed", "acknowledged", "reopened"):
                results[f"inbox_department_status_{status}"] = await timed(
                    staff, [f"/console/inbox?status={status}"] * requests
                )
            results["inbox_department_category"] = await timed(
                staff, ["/console/inbox?category=lighting"] * requests
            )
            lighting = [d["_id"] for d in docs if d["department"] == "lighting"]
            results["detail"] = await timed(
                staff, [f"/console/complaints/{rng.choice(lighting)}" for _ in range(requests)]
            )
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as supervisor:
            await sign_in(supervisor, "supervisor")
            # Every department's open complaints at once, then each filter over every department.
            codes = list(intake.taxonomy.categories)
            variants = {
                "inbox_supervisor_all": ["/console/inbox"] * requests,
                "inbox_supervisor_page2": [await next_page(supervisor)] * requests,
                "inbox_supervisor_status": ["/console/inbox?status=acknowledged"] * requests,
                "inbox_supervisor_district": [
                    f"/console/inbox?district={rng.randint(1, 12)}" for _ in range(requests)
                ],
                "inbox_supervisor_category": [
                    f"/console/inbox?category={rng.choice(codes)}" for _ in range(requests)
                ],
                "inbox_supervisor_overdue": ["/console/inbox?overdue=1"] * requests,
                "inbox_supervisor_department": ["/console/inbox?department=waste"] * requests,
                "inbox_supervisor_flagged": ["/console/inbox?flagged=1"] * requests,
            }
            for name, urls in variants.items():
                results[name] = await timed(supervisor, urls)
        return results
    finally:
        await intake.store.client.drop_database(database)
        await intake.stop()


def main(*, complaints: int, requests: int, as_json: bool) -> None:
    """Run and print a table (and with ``as_json`` one JSON line)."""
    with tempfile.TemporaryDirectory(prefix="pasokh-bench-web-") as tmp:
        uri = PasokhSettings().mongo.uri
        server = None if uri else MongoServer(Path(tmp) / "mongo")
        if server is not None:
            server.start()
            uri = server.uri
        try:
            assert uri is not None
            results = asyncio.run(measure(uri, complaints, requests))
        finally:
            if server is not None:
                server.stop()
    print(f"{results['complaints']:,} complaints stored in {results['seed_seconds']} s")
    print(f"{'page':<28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, figures in results.items():
        if isinstance(figures, dict):
            row = [figures[k] for k in ("n", "p50_ms", "p95_ms", "max_ms")]
            print(f"{name:<28} {row[0]:>5} {row[1]:>8} {row[2]:>8} {row[3]:>8}")
    if as_json:
        print(json.dumps(results))
