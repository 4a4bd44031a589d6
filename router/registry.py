"""Model versions in MongoDB: save a trained model, list versions, activate one, load the active one.

FerretDB has no GridFS, so a model's joblib bytes are stored in plain documents of at most
:data:`CHUNK_BYTES` each (``classifier_model_chunks``), described by one document per version
(``classifier_models``). The active version is one pointer document (``classifier_active``), so
activating is a single atomic write. A loaded model's bytes are checked against the SHA-256
recorded when it was saved. Models are pickles: only the router and `pasokh train` write them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import joblib

from router.model import TrainedModel
from router.serving import ServingClassifier
from services.store import Doc, Store

log = logging.getLogger(__name__)

#: Below MongoDB's 16 MB document limit with room for the envelope (the brief says chunk above 8 MB).
CHUNK_BYTES = 8 * 1024 * 1024
MODELS = "classifier_models"
CHUNKS = "classifier_model_chunks"
ACTIVE = "classifier_active"
_POINTER = "active"


class UnknownVersion(LookupError):
    """No model version by that name in the store."""


@dataclass(frozen=True)
class ModelVersion:
    """One stored model version."""

    version: str
    name: str
    created_at: datetime
    size: int
    chunks: int
    sha256: str
    meta: dict[str, Any]
    active: bool = False


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique version name: UTC time and a random suffix."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _to_bytes(model: TrainedModel) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model.pipeline, buffer, compress=("xz", 3))
    return buffer.getvalue()


def _from_bytes(data: bytes, meta: dict[str, Any]) -> TrainedModel:
    return TrainedModel(joblib.load(io.BytesIO(data)), meta)


async def save(store: Store, model: TrainedModel, *, version: str | None = None) -> ModelVersion:
    """Store ``model`` as a new version (not active until :func:`activate`)."""
    version = version or new_version()
    data = await asyncio.to_thread(_to_bytes, model)
    digest = hashlib.sha256(data).hexdigest()
    parts = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    # Chunks first, the version document last: a version that is listed is complete.
    for index, part in enumerate(parts):
        await store.db[CHUNKS].replace_one(
            {"_id": f"{version}:{index}"}, {"version": version, "index": index, "data": part}, upsert=True
        )
    created = datetime.now(UTC)
    doc: Doc = {
        "_id": version,
        "name": model.name,
        "created_at": created,
        "size": len(data),
        "chunks": len(parts),
        "sha256": digest,
        "meta": model.meta,
    }
    await store.db[MODELS].replace_one({"_id": version}, doc, upsert=True)
    return _version(doc, active=False)


def _version(doc: Doc, *, active: bool) -> ModelVersion:
    return ModelVersion(
        version=doc["_id"],
        name=doc["name"],
        created_at=doc["created_at"],
        size=doc["size"],
        chunks=doc["chunks"],
        sha256=doc["sha256"],
        meta=doc["meta"],
        active=active,
    )


async def active_version(store: Store) -> str | None:
    """The version marked active, or None (the router then uses the model shipped in the package)."""
    pointer = await store.db[ACTIVE].find_one({"_id": _POINTER})
    return None if pointer is None else str(pointer["version"])


async def versions(store: Store) -> list[ModelVersion]:
    """Every stored version, oldest first, the active one flagged."""
    active = await active_version(store)
    docs = await store.db[MODELS].find({}).sort("_id", 1).to_list(None)
    return [_version(doc, active=doc["_id"] == active) for doc in docs]


async def activate(store: Store, version: str) -> ModelVersion:
    """Make ``version`` the one routers use (they switch within their reload interval)."""
    doc = await store.db[MODELS].find_one({"_id": version})
    if doc is None:
        raise UnknownVersion(version)
    await store.db[ACTIVE].replace_one(
        {"_id": _POINTER}, {"version": version, "activated_at": datetime.now(UTC)}, upsert=True
    )
    return _version(doc, active=True)


async def load(store: Store, version: str) -> TrainedModel:
    """The stored model ``version``, its bytes checked against their recorded SHA-256."""
    doc = await store.db[MODELS].find_one({"_id": version})
    if doc is None:
        raise UnknownVersion(version)
    chunks = await store.db[CHUNKS].find({"version": version}).sort("index", 1).to_list(None)
    data = b"".join(bytes(chunk["data"]) for chunk in chunks)
    if len(chunks) != doc["chunks"] or hashlib.sha256(data).hexdigest() != doc["sha256"]:
        raise ValueError(f"model {version} is incomplete or corrupt in the store")
    return await asyncio.to_thread(_from_bytes, data, doc["meta"])


async def refresh(classifier: ServingClassifier, store: Store) -> bool:
    """Switch ``classifier`` to the active version if it runs another one; True when it switched."""
    version = await active_version(store)
    if version is None or version == classifier.version:
        return False
    model = await load(store, version)
    classifier.swap(model, version)
    log.info("classifier switched", extra={"model": classifier.name})
    return True
