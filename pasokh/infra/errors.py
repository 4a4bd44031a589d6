"""The one error local infrastructure raises: which step failed, and what it printed."""

from __future__ import annotations


class InfraError(RuntimeError):
    """Obtaining or starting Kafka or the MongoDB-wire server failed at ``step``."""

    def __init__(self, step: str, detail: str = "") -> None:
        self.step = step
        super().__init__(f"{step} failed" + (f":\n{detail.rstrip()}" if detail else ""))
