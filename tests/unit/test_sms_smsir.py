"""notifier.sms.smsir against a real local HTTP server that speaks SMS.ir's REST API v1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from notifier.sms import Sms, SmsRejected, SmsUnavailable
from notifier.sms.smsir import SmsIrSms, mobile
from tests.support.sms_providers import SmsIr


@pytest.fixture
def provider() -> Iterator[SmsIr]:
    server = SmsIr().start()
    yield server
    server.stop()


@pytest.fixture
async def gateway(provider: SmsIr) -> AsyncIterator[SmsIrSms]:
    sms = SmsIrSms(provider.api_key, provider.line_number, url=provider.url, timeout=2.0)
    yield sms
    await sms.close()


def message(to: str = "+989121234567") -> Sms:
    return Sms(id=str(uuid.uuid4()), to=to, text="پاسخ: درخواست شما ثبت شد.")


async def test_sends_the_documented_body_and_returns_the_message_id(
    provider: SmsIr, gateway: SmsIrSms
) -> None:
    sms = message()
    receipt = await gateway.send(sms)
    assert provider.sent == [
        {
            "lineNumber": provider.line_number,
            "messageText": sms.text,
            "mobiles": ["09121234567"],
            "sendDateTime": None,
        }
    ]
    assert (receipt.provider, receipt.message_id) == ("smsir", "86522023")


def test_only_iranian_mobiles() -> None:
    assert mobile("+989121234567") == "09121234567"
    with pytest.raises(SmsRejected):
        mobile("+4915112345678")


async def test_a_foreign_number_is_rejected_without_a_request(provider: SmsIr, gateway: SmsIrSms) -> None:
    with pytest.raises(SmsRejected, match="Iranian"):
        await gateway.send(message(to="+4915112345678"))
    assert provider.requests == 0


@pytest.mark.parametrize(("http_status", "status"), [(500, 0), (429, 20), (200, 0), (503, 1)])
async def test_busy_or_broken_provider_is_retriable(
    provider: SmsIr, gateway: SmsIrSms, http_status: int, status: int
) -> None:
    provider.script = [(http_status, status)]
    with pytest.raises(SmsUnavailable) as info:
        await gateway.send(message())
    assert info.value.retriable is True


@pytest.mark.parametrize("status", [10, 11, 12, 13, 14, 15, 101, 102, 119, 123])
async def test_an_account_that_cannot_send_is_retriable(
    provider: SmsIr, gateway: SmsIrSms, status: int
) -> None:
    provider.script = [(400 if status > 15 else 401, status)]
    with pytest.raises(SmsUnavailable, match="account cannot send"):
        await gateway.send(message())


@pytest.mark.parametrize("status", [103, 104, 115, 117, 16])
async def test_a_message_that_can_never_go_is_rejected(
    provider: SmsIr, gateway: SmsIrSms, status: int
) -> None:
    provider.script = [(400, status)]
    with pytest.raises(SmsRejected, match=str(status)) as info:
        await gateway.send(message())
    assert info.value.retriable is False


async def test_the_real_checks_map_as_documented(provider: SmsIr) -> None:
    wrong_key = SmsIrSms("nope", provider.line_number, url=provider.url, timeout=2.0)
    wrong_line = SmsIrSms(provider.api_key, 3000, url=provider.url, timeout=2.0)
    right = SmsIrSms(provider.api_key, provider.line_number, url=provider.url, timeout=2.0)
    provider.blacklisted = {"09120000000"}
    try:
        with pytest.raises(SmsUnavailable, match="SMS.ir 10"):
            await wrong_key.send(message())
        with pytest.raises(SmsUnavailable, match="SMS.ir 101"):
            await wrong_line.send(message())
        with pytest.raises(SmsRejected, match="SMS.ir 115"):
            await right.send(message(to="+989120000000"))
    finally:
        for gateway in (wrong_key, wrong_line, right):
            await gateway.close()
    assert provider.sent == []
