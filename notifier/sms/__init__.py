"""The SMS port: every provider adapter implements :class:`SmsGateway`."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from services.errors import PasokhError


@dataclass(frozen=True)
class SmsReceipt:
    """What a provider answered when it accepted an SMS: who took it, and its own id for delivery reports."""

    provider: str
    message_id: str | None


@dataclass(frozen=True)
class Sms:
    """One message to one phone. ``id`` is stable across retries so providers can drop repeats."""

    id: str
    to: str
    text: str


class SmsRejected(PasokhError):
    """The provider refused this message for good (invalid number, blocked recipient…)."""

    retriable = False


class SmsUnavailable(PasokhError):
    """The provider could not take the message now; the same message may go through later."""

    retriable = True


class SmsOutcomeUnknown(SmsUnavailable):
    """The request left but no answer came (read time-out, dropped connection): the provider may have
    taken it. Retry with the same provider only, whose de-duplication id (if any) drops the repeat."""


class SmsGateway(abc.ABC):
    """Port to an SMS provider."""

    name: str

    @abc.abstractmethod
    async def send(self, sms: Sms) -> SmsReceipt:
        """Hand ``sms`` to the provider; raise SmsRejected or SmsUnavailable when it does not take it."""

    async def close(self) -> None:  # noqa: B027 (optional hook: most providers hold no connection)
        """Release connections."""


@dataclass
class InMemorySms(SmsGateway):
    """Twin for unit tests: keeps what was sent, fails on demand."""

    name: str = "memory"
    sent: list[Sms] = field(default_factory=list)
    failures: list[PasokhError] = field(default_factory=list)

    async def send(self, sms: Sms) -> SmsReceipt:
        """Record ``sms`` unless a failure is queued."""
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(sms)
        return SmsReceipt(self.name, sms.id)
