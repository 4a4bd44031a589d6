"""FerretDB on PostgreSQL (PASOKH_LOCAL_MONGO=ferretdb-postgresql): the operations Pasokh's stores use,
the companion GIN indexes that make them fast, and a stop that leaves no process behind.

Never skipped: without PostgreSQL 15+ the server fails to start with an InfraError saying what to
install (`make test` installs the Debian package postgresql through scripts/ensure-tools.sh)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from pasokh.infra.mongo import MongoServer


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(parent: int) -> list[int]:
    """Live pids whose parent is ``parent`` (postgres's helpers and backends, each of which puts
    itself in a session of its own, so the postmaster's process group does not hold them)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                children.append(int(entry.name))
    return children


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MongoServer]:
    mongo = MongoServer(tmp_path / "mongo", backend="ferretdb-postgresql")
    mongo.start()
    yield mongo
    mongo.stop()


def test_ferretdb_on_postgresql_serves_the_stores_and_stops_cleanly(server: MongoServer) -> None:
    assert server.kind == "ferretdb-postgresql"
    assert server.postgres is not None and server.process is not None
    # FerretDB reaches PostgreSQL over the Unix-domain socket in the cluster directory.
    cluster = server.postgres.cluster_dir
    assert cluster is not None and (cluster / f".s.PGSQL.{server.postgres.port}").is_socket()
    assert f"host={cluster}&" in server.postgres.ferretdb_url

    async def exercise() -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri)
        try:
            assert (await client.admin.command("ping"))["ok"] == 1.0
            complaints = client["pasokh_pg"]["complaints"]
            await complaints.create_index("tracking_code", unique=True)
            await complaints.insert_one({"_id": "c1", "tracking_code": "T-1", "applied_events": []})
            with pytest.raises(DuplicateKeyError):
                await complaints.insert_one({"_id": "c2", "tracking_code": "T-1"})

            # The guarded update every projection uses: applies an event once, a redelivery matches 0.
            matched = []
            for _ in range(2):
                result = await complaints.update_one(
                    {"_id": "c1", "applied_events": {"$ne": "e1"}},
                    {
                        "$set": {"status": "routed"},
                        "$push": {"applied_events": "e1"},
                        "$addToSet": {"tags": "t"},
                    },
                )
                matched.append(result.matched_count)
            assert matched == [1, 0]
            assert await complaints.find_one({"_id": "c1"}) == {
                "_id": "c1",
                "tracking_code": "T-1",
                "applied_events": ["e1"],
                "status": "routed",
                "tags": ["t"],
            }
        finally:
            await client.close()

    asyncio.run(exercise())

    # FerretDB created btree indexes on (_jsonb -> '_id') and (_jsonb -> 'tracking_code'); the event
    # trigger added a GIN index on the same expression next to each.
    rows = server.postgres.psql(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'pasokh_pg' AND tablename LIKE 'complaints%'"
    ).splitlines()
    found = sorted((row.split(" USING ")[1].split(" ")[0], row.split("'")[1]) for row in rows)
    assert found == [
        ("btree", "_id"),
        ("btree", "tracking_code"),
        ("gin", "_id"),
        ("gin", "tracking_code"),
    ], rows
    assert all("jsonb_path_ops" in row and "fastupdate=off" in row for row in rows if " USING gin " in row)

    _assert_index_layout(server)

    assert server.postgres.process is not None
    postgres_pid, ferretdb_pid = server.postgres.process.pid, server.process.pid
    assert postgres_pid is not None and ferretdb_pid is not None
    processes = [postgres_pid, ferretdb_pid, *_children(postgres_pid), *_children(ferretdb_pid)]
    assert len(processes) > 4, "postgres runs with its helpers (checkpointer, walwriter, …)"
    cluster = server.postgres.cluster_dir

    server.stop()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in processes):
        time.sleep(0.1)
    assert not [pid for pid in processes if _alive(pid)], "stop() leaves no postgres or ferretdb process"
    if os.geteuid() == 0:  # pytest's 0700 tmp_path is out of the postgres user's reach
        assert cluster is not None and cluster.parent.name.startswith("pasokh-postgres-")
        assert not cluster.parent.exists(), "a temporary cluster directory is removed on stop"


def _indexes(server: MongoServer, collection: str) -> list[tuple[str, str, str]]:
    """(index method, first key's field, "empty" for a WHERE false placeholder else "") of each index
    PostgreSQL holds for ``collection`` of database pasokh_pg, sorted."""
    assert server.postgres is not None
    rows = server.postgres.psql(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'pasokh_pg' "
        f"AND tablename LIKE '{collection}%' ORDER BY indexdef"
    ).splitlines()
    return sorted(
        (
            row.split(" USING ")[1].split(" ")[0],
            row.split("'")[1],
            "empty" if row.endswith("WHERE false") else "",
        )
        for row in rows
    )


def _assert_index_layout(server: MongoServer) -> None:
    """Non-unique indexes hold no entry, each key field has one GIN (none for times), and dropIndexes
    takes along the GINs no remaining index asks for."""
    assert server.postgres is not None

    async def create(*indexes: tuple[list[tuple[str, int]], str]) -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri)
        try:
            outbox = client["pasokh_pg"]["outbox"]
            await outbox.insert_one({"_id": "n1", "state": "sent", "group": "g", "send_at": time.time()})
            for keys, name in indexes:
                await outbox.create_index(keys, name=name)
            # Filters by the indexed fields still find the document.
            assert await outbox.find_one({"state": "sent", "group": "g"}) is not None
        finally:
            await client.close()

    async def drop(name: str) -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri)
        try:
            await client["pasokh_pg"]["outbox"].drop_index(name)
        finally:
            await client.close()

    asyncio.run(create(([("state", 1), ("send_at", 1)], "due"), ([("group", 1), ("state", 1)], "by_group")))
    both = [
        ("btree", "_id", ""),
        ("btree", "group", "empty"),
        ("btree", "state", "empty"),
        ("gin", "_id", ""),
        ("gin", "group", ""),
        ("gin", "state", ""),  # one for both indexes; none for send_at
    ]
    assert _indexes(server, "outbox") == both
    asyncio.run(drop("by_group"))
    assert _indexes(server, "outbox") == [
        ("btree", "_id", ""),
        ("btree", "state", "empty"),
        ("gin", "_id", ""),
        ("gin", "state", ""),  # still a key of "due"
    ]

    # A cluster of an earlier layout (a full btree, one GIN per index key) is brought to this one when
    # the script runs again at the next start.
    server.postgres.psql(
        "DO $$ DECLARE t text; BEGIN "
        "SELECT tablename INTO t FROM pg_indexes "
        "WHERE schemaname = 'pasokh_pg' AND tablename LIKE 'outbox%' LIMIT 1; "
        "PERFORM set_config('pasokh.layout', 'on', true); "
        "EXECUTE format('CREATE INDEX legacy ON pasokh_pg.%I ((_jsonb -> ''group''))', t); "
        "EXECUTE format('CREATE INDEX legacy_gin1 ON pasokh_pg.%I "
        "USING gin ((_jsonb -> ''group'') jsonb_path_ops)', t); "
        "END $$"
    )
    assert ("btree", "group", "") in _indexes(server, "outbox")
    script = resources.files("pasokh.infra").joinpath("postgres_gin_trigger.sql").read_text()
    server.postgres.psql(script)
    assert _indexes(server, "outbox") == both


def test_lookups_by_an_indexed_field_stay_on_its_index_as_a_collection_grows(server: MongoServer) -> None:
    # FerretDB's prepared statements name the field by a parameter; a cached generic plan would read
    # the whole table on every later lookup (plan_cache_mode=force_custom_plan, docs/infrastructure.md).
    assert server.postgres is not None

    async def exercise() -> None:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.uri, maxPoolSize=1)
        try:
            outbox = client["pasokh_pg"]["grows"]
            await outbox.create_index("recipient")
            await outbox.insert_many([{"recipient": f"r{n}"} for n in range(3)])
            for n in range(20):  # while the table is small: what a generic plan would be chosen on
                await outbox.find_one({"recipient": f"r{n % 3}"})
            await outbox.insert_many([{"recipient": f"r{n}"} for n in range(3, 3000)])
            for n in range(50):
                assert await outbox.find_one({"recipient": f"r{n}"}) is not None
            # A backend publishes its statistics at the end of a transaction, at most once a second.
            await asyncio.sleep(1.2)
            await outbox.find_one({"recipient": "r1"})
            await asyncio.sleep(0.3)
        finally:
            await client.close()

    asyncio.run(exercise())
    rows = server.postgres.psql(
        "SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables "
        "WHERE schemaname = 'pasokh_pg' AND relname LIKE 'grows%'"
    )
    # The first lookups read the 3-row table whole (the cheapest plan for it); none of the 3,000 rows.
    assert int(rows) < 3000, f"{rows} rows read by sequential scans"
