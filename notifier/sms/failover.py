"""A primary provider and a secondary that takes over when the primary cannot send.

- The primary is tried first. When it fails with a retriable error that proves the message was not
  taken (refused connection, 5xx, 429, an account that cannot send), the secondary gets the same
  message at once, and stays first for ``cooldown`` seconds so that each SMS does not wait for a
  dead primary; then the primary is tried again.
- A rejection by the primary (invalid number, recipient blocked) is final: no failover, the number
  is invalid everywhere, and a second provider would only be billed for the same refusal.
- A rejection by the secondary is not final while the primary was only unavailable (the secondary
  may refuse what the primary can send, e.g. SMS.ir takes Iranian numbers only): the message stays
  retriable and the retry tries the primary again.
- An unknown outcome (the request left, no answer came) pins the message to that provider: its
  retries go to the same provider only, whose de-duplication id drops a repeat; another provider
  could not know, and the citizen would get two SMS.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from notifier.sms import Sms, SmsGateway, SmsOutcomeUnknown, SmsReceipt, SmsRejected, SmsUnavailable

PINNED_MAX = 10_000


class FailoverSms(SmsGateway):
    """Sends through ``primary``, or through ``secondary`` when the primary is unavailable."""

    def __init__(
        self,
        primary: SmsGateway,
        secondary: SmsGateway,
        *,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.name = f"{primary.name}+{secondary.name}"
        self._cooldown = cooldown
        self._clock = clock
        self._primary_down_until = 0.0
        self._pinned: OrderedDict[str, SmsGateway] = OrderedDict()

    async def send(self, sms: Sms) -> SmsReceipt:
        """Send ``sms`` by the first provider that takes it; the receipt names that provider."""
        pinned = self._pinned.get(sms.id)
        if pinned is not None:
            return await self._try(pinned, sms)
        primary_first = self._clock() >= self._primary_down_until
        order = [self.primary, self.secondary] if primary_first else [self.secondary, self.primary]
        reasons: list[str] = []
        for gateway in order:
            try:
                receipt = await self._try(gateway, sms)
            except SmsOutcomeUnknown:
                raise
            except SmsRejected as exc:
                if gateway is self.primary:
                    raise
                reasons.append(f"{gateway.name} refused: {exc}")
                continue
            except SmsUnavailable as exc:
                if gateway is self.primary:
                    self._primary_down_until = self._clock() + self._cooldown
                reasons.append(f"{gateway.name}: {exc}")
                continue
            if gateway is self.primary:
                self._primary_down_until = 0.0
            return receipt
        raise SmsUnavailable("; ".join(reasons))

    async def _try(self, gateway: SmsGateway, sms: Sms) -> SmsReceipt:
        try:
            receipt = await gateway.send(sms)
        except SmsOutcomeUnknown:
            self._pinned[sms.id] = gateway
            self._pinned.move_to_end(sms.id)
            while len(self._pinned) > PINNED_MAX:
                self._pinned.popitem(last=False)
            raise
        self._pinned.pop(sms.id, None)
        return receipt

    async def close(self) -> None:
        """Close both providers."""
        await self.primary.close()
        await self.secondary.close()
