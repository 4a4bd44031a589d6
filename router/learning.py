"""Learning from staff: each applied reassignment becomes a labelled example in MongoDB.

The example is keyed by the reassignment's event id, so a redelivered event adds nothing.
`pasokh train --from-store` trains on the seed corpus plus these corrections (:func:`corrections`);
when a complaint was corrected more than once, its latest correction wins.
"""

from __future__ import annotations

import logging
from datetime import datetime

from router.model import Example
from services import records
from services.contracts.actions import ComplaintReassigned
from services.contracts.envelope import Envelope
from services.store import Store

log = logging.getLogger(__name__)

EXAMPLES = "training_examples"


async def record_reassignment(envelope: Envelope, *, store: Store) -> bool:
    """Store the complaint's text labelled with the category staff chose; False if already stored.

    Only a reassignment the router applied to the record counts (a refused one teaches nothing).
    """
    action = envelope.payload(ComplaintReassigned)
    doc = await records.find(store, action.complaint_id)
    if doc is None or envelope.id not in doc.get("applied_events", ()):
        return False
    result = await store.db[EXAMPLES].update_one(
        {"_id": envelope.id},
        {
            "$setOnInsert": {
                "complaint_id": action.complaint_id,
                "text": doc["text"],
                "label": action.to_category,
                "from_category": action.from_category,
                "at": action.at,
                "source": "reassignment",
            }
        },
        upsert=True,
    )
    if result.upserted_id is not None:
        log.info("reassignment kept as a training example", extra={"event_id": envelope.id})
        return True
    return False


async def corrections(store: Store) -> list[Example]:
    """The labelled examples staff made, one per complaint (its latest correction)."""
    latest: dict[str, tuple[datetime, Example]] = {}
    async for doc in store.db[EXAMPLES].find({}):
        at, example = doc["at"], Example(doc["text"], doc["label"])
        key = doc["complaint_id"]
        if key not in latest or at >= latest[key][0]:
            latest[key] = (at, example)
    return [example for _, example in latest.values()]
