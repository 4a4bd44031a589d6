"""What the notifier remembers of the complaints it saw submitted, so that their SMS need no lookup.

The router's decision (``complaint.routed`` / ``.triage-needed``) carries everything its SMS says
(tracking code, language, department, priority, due date) except the citizen's phone, which only
``complaint.submitted`` and the complaint record hold. The notifier consumes that submitted event
moments before the decision, so it keeps the sealed phone and its lookup hash of recent submissions
in memory and reads the complaint record only when it does not know them: after a restart, for a
complaint another worker saw submitted, or once an entry is older than :data:`TTL` or pushed out by
newer ones (at most :data:`SIZE` entries, the oldest go first).

Only facts that never change while the entry lives are kept (the phone is sealed, never in clear).
While a key rotation is under way (``Sealer.rotating``) nothing is taken from here: records are being
re-keyed, and the record's hash is the one to use.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.contracts.complaints import ComplaintSubmitted
from services.store import Doc

# Entries kept: a few minutes of submissions at hundreds per second, about 300 bytes each.
SIZE = 50_000
# An entry is not used after this long: the decision follows its submission within seconds, and a
# complaint's personal data is only erased (services/retention.py) days after it is closed.
TTL = timedelta(hours=1)


@dataclass(frozen=True)
class _Facts:
    at: datetime
    phone_sealed: str
    phone_hash: str
    language: str
    tracking_code: str


class ComplaintFacts:
    """A bounded, in-process map complaint id → the submitted complaint's phone, language and code."""

    def __init__(
        self,
        *,
        size: int = SIZE,
        ttl: timedelta = TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Facts] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, submitted: ComplaintSubmitted) -> None:
        """Keep what ``submitted`` says about its citizen (nothing if it has no phone)."""
        if not (submitted.phone_sealed and submitted.phone_hash):
            return
        entries = self._entries
        entries[submitted.complaint_id] = _Facts(
            self._clock(),
            submitted.phone_sealed,
            submitted.phone_hash,
            submitted.language or "fa",
            submitted.tracking_code,
        )
        entries.move_to_end(submitted.complaint_id)
        while len(entries) > self._size:
            entries.popitem(last=False)

    def record(self, complaint_id: str) -> Doc | None:
        """The fields of the complaint record an SMS about a decision needs, or None when unknown
        (then the record is read)."""
        facts = self._entries.get(complaint_id)
        if facts is None or self._clock() - facts.at > self._ttl:
            self.misses += 1
            return None
        self.hits += 1
        return {
            "_id": complaint_id,
            "phone_sealed": facts.phone_sealed,
            "phone_hash": facts.phone_hash,
            "language": facts.language,
            "tracking_code": facts.tracking_code,
        }
