"""Citizens' SMS preferences, keyed by the phone's keyed hash (never the phone): opted out or not.

A later message wins: an opt-out and an opt-in processed out of order leave the newer one in force.
The record keeps the phone sealed too, so that ``pasokh keys rotate-secret`` can re-key it under the
new secret's hash (services.keyrotation); while a rotation is under way a citizen's choice may sit
under the old hash and the new one, and the newer record wins.

:class:`Remembered` keeps the opted-out hashes in memory while this worker is the only one consuming
the complaint events (where every opt-out and opt-in arrives), so that an SMS needs no read to learn
it may go.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.store import Store

log = logging.getLogger(__name__)

COLLECTION = "sms_preferences"
# How long a loaded memory is trusted before it is read again. It is exact without that while this
# worker is the only one; the reload bounds what a worker that lost its partitions but went on writing
# (a stalled process coming back) could leave unseen.
REFRESH_SECONDS = 900.0


async def set_opted_out(
    store: Store, phone_hash: str, opted_out: bool, at: datetime, *, phone_sealed: str | None = None
) -> bool:
    """Record the citizen's choice made at ``at``; False if a newer choice is already recorded."""
    prefs = store.db[COLLECTION]
    choice = {"opted_out": opted_out, "at": at} | ({"phone_sealed": phone_sealed} if phone_sealed else {})
    result = await prefs.update_one({"_id": phone_hash, "at": {"$lte": at}}, {"$set": choice})
    if result.matched_count:
        return True
    try:
        await prefs.insert_one({"_id": phone_hash, **choice})
    except DuplicateKeyError:
        return False  # a newer choice exists
    return True


async def opted_out(store: Store, phone_hash: str | Sequence[str]) -> bool:
    """Whether the citizen asked for no SMS; several hashes (one per key while rotating): the newest wins."""
    if isinstance(phone_hash, str):
        doc = await store.db[COLLECTION].find_one({"_id": phone_hash})
    else:
        found = store.db[COLLECTION].find({"_id": {"$in": list(phone_hash)}})
        docs = [d async for d in found]
        doc = max(docs, key=lambda d: d["at"]) if docs else None
    return bool(doc and doc.get("opted_out"))


class Remembered:
    """The phones (hashes under the active key) that opted out, held in memory while it is exact.

    It is exact while this worker holds every partition of the complaint events: every opt-out and
    opt-in passes through it (:meth:`record` after the store took it), and what was chosen before is
    read when it becomes the only worker (:meth:`load`). Otherwise, and until loaded, :meth:`known`
    answers None and the store is asked. A choice recorded while a load is under way is applied on top
    of what the load read, whichever came first.
    """

    def __init__(self) -> None:
        self._out: set[str] | None = None
        self._during_load: dict[str, bool] | None = None
        self._generation = 0

    @property
    def exact(self) -> bool:
        """Whether :meth:`known` answers now."""
        return self._out is not None

    def known(self, phone_hash: str) -> bool | None:
        """Whether ``phone_hash`` opted out, or None when the store has to say."""
        if self._out is None:
            return None
        return phone_hash in self._out

    def record(self, phone_hash: str, opted_out: bool) -> None:
        """A choice this worker wrote to the store (and the newest there)."""
        if self._during_load is not None:
            self._during_load[phone_hash] = opted_out
        if self._out is not None:
            if opted_out:
                self._out.add(phone_hash)
            else:
                self._out.discard(phone_hash)

    def forget(self) -> None:
        """Stop answering (another worker may now receive opt-outs); a load under way is dropped."""
        self._generation += 1
        self._out = None
        self._during_load = None

    async def load(self, store: Store) -> None:
        """Read every opted-out phone; from then on :meth:`known` answers (unless :meth:`forget` came
        meanwhile)."""
        self._generation += 1
        generation = self._generation
        self._during_load = {}
        cursor = store.db[COLLECTION].find({"opted_out": True}, {"_id": 1})
        found = {str(doc["_id"]) async for doc in cursor}
        if generation != self._generation or self._during_load is None:
            return
        for phone_hash, out in self._during_load.items():
            if out:
                found.add(phone_hash)
            else:
                found.discard(phone_hash)
        self._during_load = None
        self._out = found
        log.info("opted-out phones loaded", extra={"count": len(found)})
