"""services.privacy: citizens' phone numbers are unreadable at rest, findable by hash, shown masked."""

from __future__ import annotations

import base64
import random
import re
import secrets

import pytest

from services.privacy import Sealer, mask_phone


def random_phone() -> str:
    return "+989" + "".join(random.choices("0123456789", k=9))


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(secrets.token_urlsafe(32))


@pytest.mark.parametrize(
    "clear", [random_phone(), "علی رضایی", "کوچه ۱۲، پلاک ۳", "", "x" * 500, "emoji 🚧 and ZWNJ می‌روم"]
)
def test_seal_then_open_gives_back_the_text(sealer: Sealer, clear: str) -> None:
    sealed = sealer.seal(clear)
    assert sealer.open(sealed) == clear


def test_same_secret_opens_across_instances() -> None:
    # another process, or the same one after a restart, builds its own Sealer from the secret
    secret = secrets.token_urlsafe(32)
    phone = random_phone()
    assert Sealer(secret).open(Sealer(secret).seal(phone)) == phone


def test_sealed_text_is_url_safe_and_differs_on_every_seal(sealer: Sealer) -> None:
    phone = random_phone()
    seals = {sealer.seal(phone) for _ in range(20)}
    assert len(seals) == 20
    for sealed in seals:
        assert re.fullmatch(r"[A-Za-z0-9_=-]+", sealed)


@pytest.mark.parametrize("clear", [random_phone(), "محمد حسینی"])
def test_sealed_output_contains_no_clear_text(sealer: Sealer, clear: str) -> None:
    sealed = sealer.seal(clear)
    raw = base64.urlsafe_b64decode(sealed)
    assert clear not in sealed
    assert clear.encode() not in raw
    assert clear[-7:].encode() not in raw  # not even the subscriber part of the number


def test_every_tampered_byte_is_detected(sealer: Sealer) -> None:
    sealed = sealer.seal(random_phone())
    raw = base64.urlsafe_b64decode(sealed)
    for i in range(len(raw)):  # version, nonce, ciphertext and tag
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        with pytest.raises(ValueError):
            sealer.open(base64.urlsafe_b64encode(bytes(tampered)).decode())


@pytest.mark.parametrize("cut", [1, 5, 16, 20])
def test_truncated_seal_is_refused(sealer: Sealer, cut: int) -> None:
    raw = base64.urlsafe_b64decode(sealer.seal(random_phone()))
    with pytest.raises(ValueError):
        sealer.open(base64.urlsafe_b64encode(raw[:-cut]).decode())


@pytest.mark.parametrize(
    "garbage", ["", "not base64 at all!", "AAAA", base64.urlsafe_b64encode(b"\x02" * 40).decode()]
)
def test_garbage_is_refused(sealer: Sealer, garbage: str) -> None:
    with pytest.raises(ValueError):
        sealer.open(garbage)


def test_another_key_cannot_open(sealer: Sealer) -> None:
    sealed = sealer.seal(random_phone())
    with pytest.raises(ValueError):
        Sealer(secrets.token_urlsafe(32)).open(sealed)


def test_lookup_hash_is_stable_per_key_and_differs_across_keys() -> None:
    secret = secrets.token_urlsafe(32)
    phone = random_phone()
    first = Sealer(secret).lookup_hash(phone)
    assert Sealer(secret).lookup_hash(phone) == first
    assert Sealer(secret).lookup_hash(phone) == Sealer(secret).lookup_hash(phone)
    assert Sealer(secrets.token_urlsafe(32)).lookup_hash(phone) != first
    assert phone not in first and phone[4:] not in first


def test_lookup_hash_tells_numbers_apart(sealer: Sealer) -> None:
    phones = {random_phone() for _ in range(50)}
    assert len({sealer.lookup_hash(p) for p in phones}) == len(phones)


def test_mask_phone_keeps_only_what_a_person_recognises() -> None:
    assert mask_phone("+989121234567") == "+98912***4567"
    phone = random_phone()
    assert mask_phone(phone) == phone[:6] + "***" + phone[-4:]


@pytest.mark.parametrize("short", ["", "+98", "1234567"])
def test_mask_phone_hides_short_values_entirely(short: str) -> None:
    assert mask_phone(short) == "***"
