"""Test data with random ids, so tests never collide on shared infrastructure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from intake import tracking
from services.contracts.complaints import ComplaintSubmitted
from services.privacy import Sealer
from services.settings import DEV_SECRET_KEY

SEALER = Sealer(DEV_SECRET_KEY)


def submitted(
    text: str = "چراغ کوچه ما خاموش است", phone: str | None = "+989121234567", **extra: Any
) -> ComplaintSubmitted:
    """A ``complaint.submitted`` payload as intake would publish it."""
    code = tracking.new_code()
    fields: dict[str, Any] = {
        "complaint_id": str(uuid.uuid4()),
        "tracking_code": code,
        "text": text,
        "channel": "web",
        "language": "fa",
        "submitted_at": datetime.now(UTC),
    }
    if phone:
        fields["phone_sealed"] = SEALER.seal(phone)
        fields["phone_hash"] = SEALER.lookup_hash(phone)
    fields.update(extra)
    return ComplaintSubmitted(**fields)
