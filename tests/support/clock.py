"""A settable clock and a sleep that does not wait, for code that takes both as parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Clock:
    """Answers ``now`` until a test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def no_wait(_: float) -> None:
    """A retry's sleep that returns at once."""
    return None
