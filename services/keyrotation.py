"""Re-seal and re-hash stored personal data under the active secret key (``pasokh keys rotate-secret``).

After ``PASOKH_SECRET_KEY`` is replaced (the old one moved to ``PASOKH_SECRET_KEYS_PREVIOUS``) the
services open and find data of either key (services/privacy.py); this pass rewrites every stored
document that carries a sealed phone so that it carries only the active key: the sealed value
(whose key id says which key sealed it) and the keyed lookup hashes next to it.

Where personal data is kept, and what is rewritten:

- ``complaints``: ``phone_sealed`` and ``phone_hash`` (intake's received record, the router's state);
- ``notifications``: ``phone_sealed`` and ``recipient_hash`` (the SMS outbox; the record's ``_id`` was
  derived from the old hash and stays: it only has to be unique);
- ``sms_preferences``: keyed by the phone's hash, so a record is moved to the new hash (the newer
  choice wins if the citizen chose again meanwhile); records written before preferences kept the
  phone sealed get it from the citizen's complaints or SMS records, found by the old hash.

Inbound SMS and delivery reports are kept only as events on Kafka (immutable history, which
``PASOKH_SECRET_KEYS_PREVIOUS`` keeps readable); SMS claims, idempotency records, partner-event
claims, API keys and staff accounts hold no sealed data.

Every write is conditional on the value read (a document changed meanwhile is left for the next run)
and the pass works in batches in ``_id`` order, so it can be interrupted and run again at any time:
a second run rewrites nothing that the first one finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.privacy import Sealer
from services.store import Doc, Store

log = logging.getLogger(__name__)

# notifier/preferences.py keeps the citizens' SMS choices here (a test checks the names agree).
PREFERENCES = "sms_preferences"
# collection → (the sealed phone's field, the fields holding its lookup hash)
SEALED: dict[str, tuple[str, tuple[str, ...]]] = {
    "complaints": ("phone_sealed", ("phone_hash",)),
    "notifications": ("phone_sealed", ("recipient_hash", "phone_hash")),
}
COLLECTIONS = (PREFERENCES, *SEALED)


@dataclass
class Counts:
    """What a pass did to one collection."""

    scanned: int = 0  # documents carrying a sealed phone (or, for preferences, every record)
    rewritten: int = 0  # re-sealed and/or re-hashed (or moved) under the active key
    current: int = 0  # already under the active key only
    unreadable: int = 0  # sealed with a key this process does not know: left as they are
    changed_meanwhile: int = 0  # written by a service between read and write: the next run does them
    orphaned: int = 0  # preferences whose phone is nowhere to be found sealed: cannot be re-keyed

    @property
    def left(self) -> int:
        """Documents that may still need a previous key."""
        return self.unreadable + self.changed_meanwhile + self.orphaned


Progress = Callable[[str, Counts], None]


async def rotate(
    store: Store, sealer: Sealer, *, batch: int = 500, dry_run: bool = False, progress: Progress | None = None
) -> dict[str, Counts]:
    """Bring every document with personal data under ``sealer``'s active key; counts per collection.

    With ``dry_run`` nothing is written and ``rewritten`` counts what would be.
    """
    counts = {name: Counts() for name in COLLECTIONS}
    # Preferences first: a record without its own sealed phone is matched through the old hashes
    # that complaints and SMS records still carry.
    await _preferences(store, sealer, counts[PREFERENCES], batch, dry_run, progress)
    for name, (sealed_field, hash_fields) in SEALED.items():
        await _sealed(store, sealer, name, sealed_field, hash_fields, counts[name], batch, dry_run, progress)
    return counts


async def _batches(store: Store, name: str, query: Doc, projection: Doc, batch: int) -> Any:
    last: Any = None
    while True:
        page = query if last is None else {"$and": [query, {"_id": {"$gt": last}}]}
        docs = await store.db[name].find(page, projection).sort("_id", ASCENDING).limit(batch).to_list(None)
        if not docs:
            return
        yield docs
        last = docs[-1]["_id"]


def _open(sealer: Sealer, sealed: str) -> str | None:
    try:
        return sealer.open(sealed)
    except ValueError:
        return None


async def _sealed(
    store: Store,
    sealer: Sealer,
    name: str,
    sealed_field: str,
    hash_fields: tuple[str, ...],
    counts: Counts,
    batch: int,
    dry_run: bool,
    progress: Progress | None,
) -> None:
    query: Doc = {sealed_field: {"$exists": True, "$ne": None}}
    projection = dict.fromkeys((sealed_field, *hash_fields), 1)
    async for docs in _batches(store, name, query, projection, batch):
        ops: list[UpdateOne] = []
        for doc in docs:
            counts.scanned += 1
            sealed = doc[sealed_field]
            phone = _open(sealer, sealed)
            if phone is None:
                counts.unreadable += 1
                log.warning(
                    "sealed with an unknown key", extra={"collection": name, "doc_id": str(doc["_id"])}
                )
                continue
            digest = sealer.lookup_hash(phone)
            update = {f: digest for f in hash_fields if doc.get(f) is not None and doc[f] != digest}
            if not sealer.is_current(sealed):
                update[sealed_field] = sealer.seal(phone)
            if not update:
                counts.current += 1
                continue
            ops.append(UpdateOne({"_id": doc["_id"], sealed_field: sealed}, {"$set": update}))
        if ops and not dry_run:
            result = await store.db[name].bulk_write(ops, ordered=False)
            counts.rewritten += result.modified_count
            counts.changed_meanwhile += len(ops) - result.matched_count
        elif ops:
            counts.rewritten += len(ops)
        if progress:
            progress(name, counts)


async def _sealed_phone_for(store: Store, old_hash: str) -> str | None:
    """A sealed copy of the phone hashed ``old_hash``, from the citizen's complaints or SMS records."""
    for name, (sealed_field, hash_fields) in SEALED.items():
        for field in hash_fields:
            doc = await store.db[name].find_one(
                {field: old_hash, sealed_field: {"$exists": True, "$ne": None}}, {sealed_field: 1}
            )
            if doc is not None:
                return str(doc[sealed_field])
    return None


async def _preferences(
    store: Store, sealer: Sealer, counts: Counts, batch: int, dry_run: bool, progress: Progress | None
) -> None:
    prefs = store.db[PREFERENCES]
    async for docs in _batches(store, PREFERENCES, {}, {}, batch):
        for doc in docs:
            counts.scanned += 1
            sealed = doc.get("phone_sealed") or await _sealed_phone_for(store, doc["_id"])
            if sealed is None:
                counts.orphaned += 1
                log.warning("SMS preference without a sealed phone anywhere; not re-keyed")
                continue
            phone = _open(sealer, sealed)
            if phone is None:
                counts.unreadable += 1
                continue
            digest = sealer.lookup_hash(phone)
            resealed = sealed if sealer.is_current(sealed) else sealer.seal(phone)
            if doc["_id"] == digest and doc.get("phone_sealed") == resealed:
                counts.current += 1
                continue
            if dry_run:
                counts.rewritten += 1
                continue
            if doc["_id"] == digest:
                result = await prefs.update_one(
                    {"_id": digest, "at": doc["at"]}, {"$set": {"phone_sealed": resealed}}
                )
                counts.rewritten += result.modified_count
                counts.changed_meanwhile += 1 - result.matched_count
                continue
            choice = {"opted_out": doc.get("opted_out", False), "at": doc["at"], "phone_sealed": resealed}
            # Moved under the new hash unless a newer choice is already there (the newer one wins).
            moved = await prefs.update_one({"_id": digest, "at": {"$lte": doc["at"]}}, {"$set": choice})
            if not moved.matched_count:
                try:
                    await prefs.insert_one({"_id": digest, **choice})
                except DuplicateKeyError:
                    pass  # a newer choice is recorded under the new hash
            removed = await prefs.delete_one({"_id": doc["_id"], "at": doc["at"]})
            counts.rewritten += removed.deleted_count
            counts.changed_meanwhile += 1 - removed.deleted_count
        if progress:
            progress(PREFERENCES, counts)


def summary(counts: dict[str, Counts]) -> dict[str, dict[str, int]]:
    """The counts as plain numbers (for printing as JSON)."""
    return {name: asdict(c) for name, c in counts.items()}
