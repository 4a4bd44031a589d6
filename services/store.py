"""MongoDB adapter: the async client, the collections and their indexes.

Only features that MongoDB-compatible servers such as FerretDB v1 share with MongoDB are used
(no transactions, change streams, TTL/text/partial indexes); see INFRA.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.errors import DependencyUnavailable
from services.settings import MongoSettings

Doc = dict[str, Any]


class Store:
    """One connection pool to the Pasokh database and its collections."""

    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.client = client
        self.db: AsyncDatabase[Doc] = client[database]
        self._serial: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def serial(self, key: str) -> AsyncIterator[None]:
        """Hold this process's lock for ``key`` (one record, or the shared rollups): writes of one
        document from different tasks go one after the other. FerretDB v1 applies an update as a read,
        then a write of the whole document, so two at once can lose one (measured: 2,000 concurrent
        ``$inc`` of one document added 797; docs/infrastructure.md); MongoDB applies each atomically.
        The lock is forgotten once nobody holds or awaits it, so keys may be as many as documents. It
        cannot order other processes' writes."""
        entry = self._serial.get(key)
        if entry is None:
            entry = self._serial[key] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._serial[key]

    @classmethod
    def connect(
        cls,
        settings: MongoSettings,
        *,
        app_name: str = "pasokh",
        listeners: Sequence[monitoring.CommandListener] = (),
    ) -> Store:
        """Create the client (connections are opened lazily); ``listeners`` see every command it sends."""
        client: AsyncMongoClient[Doc] = AsyncMongoClient(
            settings.require_uri(),
            appname=app_name,
            serverSelectionTimeoutMS=settings.timeout_ms,
            connectTimeoutMS=settings.timeout_ms,
            tz_aware=True,
            maxPoolSize=settings.max_pool_size,
            event_listeners=list(listeners),
        )
        return cls(client, settings.database)

    @property
    def complaints(self) -> AsyncCollection[Doc]:
        """Current state of every complaint, keyed by complaint id."""
        return self.db["complaints"]

    @property
    def tracking_codes(self) -> AsyncCollection[Doc]:
        """Tracking codes handed out, unique, keyed by the code."""
        return self.db["tracking_codes"]

    @property
    def notifications(self) -> AsyncCollection[Doc]:
        """One record per (event, recipient, template), written before the SMS is sent."""
        return self.db["notifications"]

    async def ensure_indexes(self) -> None:
        """Create the indexes every service relies on (idempotent)."""
        await self.complaints.create_index([("tracking_code", ASCENDING)], unique=True, name="tracking_code")
        await self.complaints.create_index(
            [("department", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)], name="inbox"
        )
        await self.notifications.create_index(
            [("complaint_id", ASCENDING), ("created_at", ASCENDING)], name="by_complaint"
        )
        # intake finds a citizen's resolved complaint by phone when a survey answer comes in by SMS.
        await self.complaints.create_index(
            [("phone_hash", ASCENDING), ("status", ASCENDING)], name="by_phone"
        )
        # Open311 reads requests by submission time and updates by the time of each timeline entry.
        await self.complaints.create_index([("created_at", ASCENDING)], name="by_created_at")
        await self.complaints.create_index([("timeline.at", ASCENDING)], name="by_update_time")
        # The router looks for duplicates by grid cell (category and place) and for SLA warnings and
        # escalations by the hour of their deadline (router/duplicates.py, router/sla.py).
        await self.complaints.create_index([("dup_cell", ASCENDING)], name="dup_cell")
        await self.complaints.create_index([("sla_slot", ASCENDING)], name="sla_slot")

    async def ping(self) -> None:
        """Raise :class:`DependencyUnavailable` unless the server answers."""
        try:
            await self.client.admin.command("ping")
        except PyMongoError as exc:
            raise DependencyUnavailable(f"MongoDB did not answer: {exc}") from exc

    async def close(self) -> None:
        """Close every connection."""
        await self.client.close()
