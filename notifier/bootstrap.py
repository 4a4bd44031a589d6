"""Builds the notifier's object graph from settings; tests pass their own collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from notifier.handlers import Retry
from notifier.settings import NotifierSettings, SmsSettings
from notifier.sms import SmsGateway
from notifier.sms.http import HttpSms
from notifier.sms.log import LogSms
from services.bus import Publisher
from services.privacy import Sealer
from services.store import Store
from services.taxonomy import Taxonomy, load_taxonomy


@dataclass
class Notifier:
    """Everything the notifier's handlers need."""

    settings: NotifierSettings
    store: Store
    publisher: Publisher | None
    sms: SmsGateway
    sealer: Sealer
    taxonomy: Taxonomy
    retry: Retry


def sms_gateway(settings: SmsSettings) -> SmsGateway:
    """The provider adapter that ``settings`` names."""
    if settings.provider == "http":
        assert settings.url is not None  # enforced by SmsSettings
        return HttpSms(str(settings.url), timeout=settings.timeout_seconds)
    return LogSms()


def bootstrap(
    settings: NotifierSettings,
    *,
    store: Store | None = None,
    publisher: Publisher | None = None,
    sms: SmsGateway | None = None,
) -> Notifier:
    """The notifier wired to MongoDB and the configured provider unless collaborators are given."""
    return Notifier(
        settings=settings,
        store=store or Store.connect(settings.mongo, app_name="pasokh-notifier"),
        publisher=publisher,
        sms=sms or sms_gateway(settings.sms),
        sealer=Sealer(settings.secret_key.get_secret_value()),
        taxonomy=load_taxonomy(settings.taxonomy_file),
        retry=Retry(settings.notifier.max_attempts, settings.notifier.retry_base_seconds),
    )
