"""notifier.sms.failover: when the secondary provider takes over, and when it must not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from notifier.bootstrap import sms_gateway
from notifier.settings import SmsSettings
from notifier.sms import InMemorySms, Sms, SmsOutcomeUnknown, SmsRejected, SmsUnavailable
from notifier.sms.failover import FailoverSms
from notifier.sms.kavenegar import KavenegarSms
from notifier.sms.smsir import SmsIrSms
from tests.support.sms_providers import Kavenegar, SmsIr


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message() -> Sms:
    return Sms(id=str(uuid.uuid4()), to="+989121234567", text="پاسخ")


def pair(clock: Clock | None = None) -> tuple[InMemorySms, InMemorySms, FailoverSms]:
    primary, secondary = InMemorySms(name="kavenegar"), InMemorySms(name="smsir")
    return primary, secondary, FailoverSms(primary, secondary, cooldown=30, clock=clock or Clock())


async def test_the_primary_sends_while_it_can() -> None:
    primary, secondary, gateway = pair()
    receipt = await gateway.send(message())
    assert receipt.provider == "kavenegar" and len(primary.sent) == 1 and secondary.sent == []


async def test_the_secondary_takes_over_when_the_primary_is_unavailable() -> None:
    primary, secondary, gateway = pair()
    primary.failures = [SmsUnavailable("Kavenegar 503")]
    sms = message()
    receipt = await gateway.send(sms)
    assert receipt.provider == "smsir" and secondary.sent == [sms] and primary.sent == []


async def test_a_rejection_by_the_primary_does_not_fail_over() -> None:
    primary, secondary, gateway = pair()
    primary.failures = [SmsRejected("Kavenegar 411: invalid receptor")]
    with pytest.raises(SmsRejected, match="411"):
        await gateway.send(message())
    assert secondary.sent == []


async def test_both_unavailable_stays_retriable_with_both_reasons() -> None:
    primary, secondary, gateway = pair()
    primary.failures = [SmsUnavailable("Kavenegar 503")]
    secondary.failures = [SmsUnavailable("SMS.ir 0")]
    with pytest.raises(SmsUnavailable, match="Kavenegar 503.*SMS.ir 0"):
        await gateway.send(message())


async def test_a_refusal_by_the_secondary_keeps_the_message_for_the_primary() -> None:
    primary, secondary, gateway = pair()
    primary.failures = [SmsUnavailable("Kavenegar 503")]
    secondary.failures = [SmsRejected("SMS.ir sends to Iranian mobile numbers only")]
    with pytest.raises(SmsUnavailable, match="smsir refused") as info:
        await gateway.send(message())
    assert not isinstance(info.value, SmsRejected)


async def test_after_a_failure_the_secondary_stays_first_for_the_cooldown() -> None:
    clock = Clock()
    primary, secondary, gateway = pair(clock)
    primary.failures = [SmsUnavailable("down")]
    await gateway.send(message())
    await gateway.send(message())  # within the cooldown: the primary is not asked
    assert len(secondary.sent) == 2 and primary.sent == []
    clock.now += 31
    await gateway.send(message())
    assert len(primary.sent) == 1


async def test_an_unknown_outcome_is_retried_with_the_same_provider_only() -> None:
    primary, secondary, gateway = pair()
    primary.failures = [SmsOutcomeUnknown("Kavenegar did not answer: ReadTimeout")]
    sms = message()
    with pytest.raises(SmsOutcomeUnknown):
        await gateway.send(sms)
    assert secondary.sent == []  # it may have reached the citizen through the primary
    primary.failures = [SmsUnavailable("Kavenegar 503")]
    with pytest.raises(SmsUnavailable):
        await gateway.send(sms)  # still not the secondary
    assert secondary.sent == []
    receipt = await gateway.send(sms)
    assert receipt.provider == "kavenegar"


@pytest.fixture
def providers() -> Iterator[tuple[Kavenegar, SmsIr]]:
    kavenegar, smsir = Kavenegar().start(), SmsIr().start()
    yield kavenegar, smsir
    kavenegar.stop()
    smsir.stop()


async def test_built_from_settings_kavenegar_out_of_credit_fails_over_to_smsir(
    providers: tuple[Kavenegar, SmsIr],
) -> None:
    kavenegar, smsir = providers
    settings = SmsSettings.model_validate(
        {
            "provider": "kavenegar",
            "secondary": "smsir",
            "kavenegar": {"api_key": kavenegar.api_key, "sender": kavenegar.sender, "url": kavenegar.url},
            "smsir": {"api_key": smsir.api_key, "line_number": smsir.line_number, "url": smsir.url},
        }
    )
    gateway = sms_gateway(settings)
    assert isinstance(gateway, FailoverSms)
    assert isinstance(gateway.primary, KavenegarSms) and isinstance(gateway.secondary, SmsIrSms)
    kavenegar.script = [(418, 418)]  # credit exhausted
    try:
        receipt = await gateway.send(message())
    finally:
        await gateway.close()
    assert receipt.provider == "smsir" and len(smsir.sent) == 1 and kavenegar.sent == []
