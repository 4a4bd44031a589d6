"""notifier.sms.kavenegar against a real local HTTP server that speaks Kavenegar's send API."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from notifier.sms import Sms, SmsOutcomeUnknown, SmsRejected, SmsUnavailable
from notifier.sms.kavenegar import KavenegarSms, localid, receptor
from tests.support.sms_providers import Kavenegar


@pytest.fixture
def provider() -> Iterator[Kavenegar]:
    server = Kavenegar().start()
    yield server
    server.stop()


@pytest.fixture
async def gateway(provider: Kavenegar) -> AsyncIterator[KavenegarSms]:
    sms = KavenegarSms(provider.api_key, provider.sender, url=provider.url, timeout=2.0)
    yield sms
    await sms.close()


def message(to: str = "+989121234567", text: str = "پاسخ: درخواست شما ثبت شد.") -> Sms:
    return Sms(id=str(uuid.uuid4()), to=to, text=text)


async def test_sends_the_documented_form_and_returns_kavenegars_message_id(
    provider: Kavenegar, gateway: KavenegarSms
) -> None:
    sms = message()
    receipt = await gateway.send(sms)
    assert provider.sent == [
        {"receptor": "09121234567", "sender": "10004346", "message": sms.text, "localid": localid(sms.id)}
    ]
    assert receipt.provider == "kavenegar" and receipt.message_id == "8792343"


async def test_a_repeat_with_the_same_localid_is_not_sent_twice(
    provider: Kavenegar, gateway: KavenegarSms
) -> None:
    sms = message()
    first = await gateway.send(sms)
    again = await gateway.send(sms)  # e.g. a retry after a time-out
    assert len(provider.sent) == 1 and provider.requests == 2
    assert again.message_id == first.message_id


def test_localid_is_numeric_stable_and_distinct() -> None:
    assert localid("n-1") == localid("n-1") != localid("n-2")
    assert localid("n-1").isdigit() and int(localid("n-1")) < 2**60


def test_receptor_formats() -> None:
    assert receptor("+989121234567") == "09121234567"
    assert receptor("+4915112345678") == "004915112345678"


@pytest.mark.parametrize(
    ("http_status", "status"),
    [(409, 409), (429, 429), (451, 451), (500, 500), (502, 502), (503, 503), (200, 500)],
)
async def test_busy_or_broken_provider_is_retriable(
    provider: Kavenegar, gateway: KavenegarSms, http_status: int, status: int
) -> None:
    provider.script = [(http_status, status)]
    with pytest.raises(SmsUnavailable, match=str(status)) as info:
        await gateway.send(message())
    assert info.value.retriable is True


@pytest.mark.parametrize("status", [401, 402, 403, 407, 412, 416, 418, 426])
async def test_an_account_that_cannot_send_is_retriable(
    provider: Kavenegar, gateway: KavenegarSms, status: int
) -> None:
    provider.script = [(status, status)]
    with pytest.raises(SmsUnavailable, match="account cannot send"):
        await gateway.send(message())


@pytest.mark.parametrize("status", [400, 411, 413, 414, 422, 424, 431])
async def test_a_message_that_can_never_go_is_rejected(
    provider: Kavenegar, gateway: KavenegarSms, status: int
) -> None:
    provider.script = [(status, status)]
    with pytest.raises(SmsRejected, match=str(status)) as info:
        await gateway.send(message())
    assert info.value.retriable is False


async def test_the_real_checks_map_as_documented(provider: Kavenegar) -> None:
    wrong_key = KavenegarSms("not-the-key", provider.sender, url=provider.url, timeout=2.0)
    wrong_sender = KavenegarSms(provider.api_key, "3000", url=provider.url, timeout=2.0)
    right = KavenegarSms(provider.api_key, provider.sender, url=provider.url, timeout=2.0)
    try:
        with pytest.raises(SmsUnavailable, match="403"):
            await wrong_key.send(message())
        with pytest.raises(SmsUnavailable, match="412"):
            await wrong_sender.send(message())
        with pytest.raises(SmsRejected, match="411"):
            await right.send(message(to="+98912"))
    finally:
        for gateway in (wrong_key, wrong_sender, right):
            await gateway.close()
    assert provider.sent == []


async def test_a_blocked_recipient_is_rejected(provider: Kavenegar, gateway: KavenegarSms) -> None:
    provider.blocked = {"09121234567"}
    with pytest.raises(SmsRejected, match="blocks"):
        await gateway.send(message())


async def test_no_answer_in_time_is_an_unknown_outcome(provider: Kavenegar) -> None:
    provider.delay = 0.5
    gateway = KavenegarSms(provider.api_key, provider.sender, url=provider.url, timeout=0.1)
    try:
        with pytest.raises(SmsOutcomeUnknown):
            await gateway.send(message())
    finally:
        await gateway.close()


async def test_the_api_key_stays_out_of_errors_and_logs(
    provider: Kavenegar, caplog: pytest.LogCaptureFixture
) -> None:
    provider.stop()  # nothing listens: the request fails
    gateway = KavenegarSms("secret-key-123", provider.sender, url=provider.url, timeout=1.0)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(SmsUnavailable) as info:
            await gateway.send(message())
    finally:
        await gateway.close()
    assert "secret-key-123" not in str(info.value)
    assert "secret-key-123" not in caplog.text


async def test_a_2xx_without_kavenegars_answer_is_an_unknown_outcome(
    provider: Kavenegar, gateway: KavenegarSms
) -> None:
    provider.raw_answer = b"<html>gateway page</html>"
    with pytest.raises(SmsOutcomeUnknown, match="without a result"):
        await gateway.send(message())
