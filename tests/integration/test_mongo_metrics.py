"""services/mongo_metrics.py counts a real client's round trips and written documents."""

from __future__ import annotations

from pasokh.infra.local import LocalInfra
from services import mongo_metrics
from services.settings import MongoSettings
from services.store import Store


def _value(counter: object, command: str) -> float:
    return float(counter.labels(command)._value.get())  # type: ignore[attr-defined]


async def test_commands_documents_and_time_are_counted_by_command(infra: LocalInfra, database: str) -> None:
    store = Store.connect(
        MongoSettings(uri=infra.mongo_uri, database=database), listeners=[mongo_metrics.CommandCounter()]
    )
    try:
        before = {
            (name, command): _value(counter, command)
            for name, counter in (
                ("commands", mongo_metrics.COMMANDS),
                ("documents", mongo_metrics.DOCUMENTS),
            )
            for command in ("insert", "find", "update")
        }
        seconds_before = _value(mongo_metrics.SECONDS, "insert")
        await store.db["metered"].insert_many([{"_id": i} for i in range(3)])
        await store.db["metered"].update_many({}, {"$set": {"seen": True}})
        assert len(await store.db["metered"].find({}).to_list()) == 3

        def added(name: str, command: str) -> float:
            counter = mongo_metrics.COMMANDS if name == "commands" else mongo_metrics.DOCUMENTS
            return _value(counter, command) - before[(name, command)]

        assert added("commands", "insert") == 1 and added("documents", "insert") == 3
        assert added("commands", "update") == 1 and added("documents", "update") == 1
        assert added("commands", "find") == 1 and added("documents", "find") == 0
        assert _value(mongo_metrics.SECONDS, "insert") > seconds_before
    finally:
        await store.close()
