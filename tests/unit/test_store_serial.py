"""Store.serial: one task at a time per key, different keys side by side, nothing kept once free."""

from __future__ import annotations

import asyncio

from pymongo import AsyncMongoClient

from services.store import Store


async def test_writers_of_one_key_take_turns_and_the_lock_is_forgotten_once_free() -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient("mongodb://127.0.0.1:9", connect=False)
    store = Store(client, "unused")  # no server is contacted: serial() is in-process only
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    both = asyncio.Event()

    async def write(key: str) -> None:
        async with store.serial(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            if inside["a"] and inside["b"]:
                both.set()
            await asyncio.sleep(0.01)
            inside[key] -= 1

    await asyncio.gather(*(write(key) for key in ["a", "b"] * 5))
    assert most == {"a": 1, "b": 1}  # never two writers of one key at once
    assert both.is_set()  # but the two keys side by side
    assert store._serial == {}  # nothing left behind for keys no one holds
    await client.close()
