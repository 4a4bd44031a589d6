"""notifier.settings.SmsSettings and notifier.bootstrap.sms_gateway: provider choice from PASOKH_SMS__*."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifier.bootstrap import sms_gateway
from notifier.settings import NotifierSettings, SmsSettings
from notifier.sms.failover import FailoverSms
from notifier.sms.http import HttpSms
from notifier.sms.kavenegar import KavenegarSms
from notifier.sms.log import LogSms
from notifier.sms.smsir import SmsIrSms


def test_log_is_the_default() -> None:
    assert isinstance(sms_gateway(SmsSettings()), LogSms)


def test_kavenegar_primary_smsir_secondary_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PASOKH_SMS__PROVIDER": "kavenegar",
        "PASOKH_SMS__SECONDARY": "smsir",
        "PASOKH_SMS__KAVENEGAR__API_KEY": "k-secret",
        "PASOKH_SMS__KAVENEGAR__SENDER": "10004346",
        "PASOKH_SMS__SMSIR__API_KEY": "s-secret",
        "PASOKH_SMS__SMSIR__LINE_NUMBER": "30007732000000",
    }.items():
        monkeypatch.setenv(name, value)
    settings = NotifierSettings()
    assert "k-secret" not in repr(settings) and "s-secret" not in repr(settings)
    gateway = sms_gateway(settings.sms)
    assert isinstance(gateway, FailoverSms)
    assert isinstance(gateway.primary, KavenegarSms) and isinstance(gateway.secondary, SmsIrSms)
    assert gateway.name == "kavenegar+smsir"


def test_http_alone() -> None:
    assert isinstance(sms_gateway(SmsSettings(provider="http", url="http://127.0.0.1:9/sms")), HttpSms)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"provider": "http"}, "PASOKH_SMS__URL"),
        ({"provider": "kavenegar"}, "PASOKH_SMS__KAVENEGAR__API_KEY"),
        ({"provider": "kavenegar", "kavenegar": {"api_key": "k"}}, "PASOKH_SMS__KAVENEGAR__SENDER"),
        ({"provider": "log", "secondary": "smsir"}, "PASOKH_SMS__SMSIR__API_KEY"),
        ({"provider": "log", "secondary": "log"}, "another provider"),
        ({"provider": "twilio"}, "provider"),
    ],
)
def test_incomplete_settings_are_refused_with_the_variable_to_set(
    fields: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SmsSettings.model_validate(fields)
