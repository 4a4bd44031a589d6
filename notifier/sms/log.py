"""The ``log`` provider for development: writes each SMS to the log instead of sending it."""

from __future__ import annotations

import logging

from notifier.sms import Sms, SmsGateway, SmsReceipt
from services.privacy import mask_phone

log = logging.getLogger("pasokh.sms")


class LogSms(SmsGateway):
    """Logs the text and the masked recipient."""

    name = "log"

    async def send(self, sms: Sms) -> SmsReceipt:
        """Log ``sms`` at INFO."""
        log.info("SMS to %s: %s", mask_phone(sms.to), sms.text, extra={"notification_id": sms.id})
        return SmsReceipt(self.name, sms.id)
