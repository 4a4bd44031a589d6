"""Run the notifier's handler on one event in a process of its own, so that a test can kill it
(``kill -9``) half-way: ``python -m tests.support.notify_once EVENT.json``.

Reads the MongoDB URI and database, the Kafka servers and the SMS gateway's URL from PASOKH_* like
the notifier; sends every SMS at once (no quiet hours, no coalescing) so the send follows the record.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import time
from pathlib import Path

from notifier.handlers import Context, Retry, handle
from notifier.settings import NotifierSettings, PolicySettings
from notifier.sms.http import HttpSms
from services.bus import KafkaPublisher
from services.contracts.envelope import from_kafka
from services.privacy import Sealer
from services.store import Store
from services.taxonomy import load_taxonomy


async def main(path: Path) -> None:
    settings = NotifierSettings()
    saved = json.loads(path.read_text())
    envelope = from_kafka(saved["value"].encode(), saved["key"].encode())
    store = Store.connect(settings.mongo)
    publisher = KafkaPublisher(settings.kafka, client_id="pasokh-notify-once")
    await publisher.start()
    assert settings.sms.url is not None
    sms = HttpSms(str(settings.sms.url), timeout=60)
    context = Context(
        store=store,
        publisher=publisher,
        sms=sms,
        sealer=Sealer.from_settings(settings),
        taxonomy=load_taxonomy(),
        retry=Retry(max_attempts=1),
        policy=PolicySettings(quiet_start=time(0), quiet_end=time(0), coalesce_seconds=0),
    )
    try:
        print(await handle(envelope, context), flush=True)
    finally:
        await sms.close()
        await publisher.stop()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
