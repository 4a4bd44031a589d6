"""Builds the notifier's object graph from settings; tests pass their own collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from notifier.retry import Retry
from notifier.settings import NotifierSettings, SmsSettings
from notifier.sms import SmsGateway
from notifier.sms.failover import FailoverSms
from notifier.sms.http import HttpSms
from notifier.sms.kavenegar import KavenegarSms
from notifier.sms.log import LogSms
from notifier.sms.smsir import SmsIrSms
from services.bus import Publisher
from services.mongo_metrics import CommandCounter
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


def provider_gateway(settings: SmsSettings, provider: str) -> SmsGateway:
    """The adapter of one ``provider``, configured from ``settings``."""
    if provider == "http":
        assert settings.url is not None  # enforced by SmsSettings
        return HttpSms(str(settings.url), timeout=settings.timeout_seconds)
    if provider == "kavenegar":
        kavenegar = settings.kavenegar
        assert kavenegar.api_key is not None and kavenegar.sender is not None  # enforced by SmsSettings
        return KavenegarSms(
            kavenegar.api_key.get_secret_value(),
            kavenegar.sender,
            url=str(kavenegar.url),
            timeout=settings.timeout_seconds,
        )
    if provider == "smsir":
        smsir = settings.smsir
        assert smsir.api_key is not None and smsir.line_number is not None  # enforced by SmsSettings
        return SmsIrSms(
            smsir.api_key.get_secret_value(),
            smsir.line_number,
            url=str(smsir.url),
            timeout=settings.timeout_seconds,
        )
    return LogSms()


def sms_gateway(settings: SmsSettings) -> SmsGateway:
    """The provider adapter that ``settings`` names, behind a failover when a secondary is named."""
    primary = provider_gateway(settings, settings.provider)
    if settings.secondary is None:
        return primary
    return FailoverSms(
        primary,
        provider_gateway(settings, settings.secondary),
        cooldown=settings.failover_cooldown_seconds,
    )


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
        store=store
        or Store.connect(settings.mongo, app_name="pasokh-notifier", listeners=[CommandCounter()]),
        publisher=publisher,
        sms=sms or sms_gateway(settings.sms),
        sealer=Sealer.from_settings(settings),
        taxonomy=load_taxonomy(settings.taxonomy_file),
        retry=Retry(settings.notifier.max_attempts, settings.notifier.retry_base_seconds),
    )
