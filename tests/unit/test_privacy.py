"""services.privacy: citizens' phone numbers are unreadable at rest, findable by hash, shown masked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from notifier import preferences
from services import keyrotation
from services.privacy import Sealer, mask_phone
from services.settings import PasokhSettings


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


# Key rotation: the active key seals and hashes; previous keys still open and find.


def _sealed_before_key_ids(secret: str, clear: str) -> str:
    """A value as Sealer wrote it before sealed values named their key (version 0x01)."""
    key = hmac.digest(secret.encode(), b"pasokh/seal/v1", hashlib.sha256)
    nonce = os.urandom(12)
    box = AESGCM(key).encrypt(nonce, clear.encode(), b"\x01")
    return base64.urlsafe_b64encode(b"\x01" + nonce + box).decode()


def test_a_previous_key_still_opens_and_the_active_one_seals() -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    phone = random_phone()
    sealed_before = Sealer(old).seal(phone)
    rotating = Sealer(new, [old])

    assert rotating.open(sealed_before) == phone
    assert rotating.key_id_of(sealed_before) == Sealer(old).key_id == rotating.previous_key_ids[0]
    assert not rotating.is_current(sealed_before)
    sealed_now = rotating.seal(phone)
    assert rotating.key_id_of(sealed_now) == rotating.key_id == Sealer(new).key_id != Sealer(old).key_id
    assert Sealer(new).open(sealed_now) == phone  # once the old key is gone, the new values still open
    with pytest.raises(ValueError):
        Sealer(old).open(sealed_now)
    with pytest.raises(ValueError, match="PASOKH_SECRET_KEYS_PREVIOUS"):
        Sealer(new).open(sealed_before)
    assert Sealer(new).reseal(sealed_now) == sealed_now
    assert rotating.is_current(rotating.reseal(sealed_before))


def test_the_key_id_reveals_nothing_of_the_secret_and_is_stable() -> None:
    secret = secrets.token_urlsafe(32)
    assert Sealer(secret).key_id == Sealer(secret).key_id
    assert re.fullmatch(r"[0-9a-f]{10}", Sealer(secret).key_id)
    assert Sealer(secret).key_id not in secret.encode().hex()


def test_values_sealed_before_key_ids_open_with_either_key() -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    phone = random_phone()
    legacy = _sealed_before_key_ids(old, phone)

    assert Sealer(old).open(legacy) == phone  # unchanged behaviour without rotation
    assert Sealer(new, [old]).open(legacy) == phone
    assert Sealer(old).key_id_of(legacy) is None and not Sealer(old).is_current(legacy)
    with pytest.raises(ValueError):
        Sealer(new).open(legacy)


def test_lookup_hashes_list_the_active_key_first_then_the_previous_ones() -> None:
    keys = [secrets.token_urlsafe(32) for _ in range(3)]
    phone = random_phone()
    rotating = Sealer(keys[0], keys[1:])

    assert rotating.lookup_hashes(phone) == [Sealer(k).lookup_hash(phone) for k in keys]
    assert rotating.lookup_hash(phone) == Sealer(keys[0]).lookup_hash(phone)
    old_hash = Sealer(keys[2]).lookup_hash(phone)
    assert rotating.lookup_hashes_of(Sealer(keys[2]).seal(phone), old_hash) == rotating.lookup_hashes(phone)
    # Without previous keys nothing is opened: the hash given is the only one there can be.
    assert Sealer(keys[0]).lookup_hashes_of("not even sealed", "h") == ["h"]
    assert rotating.lookup_hashes_of(None, old_hash) == [old_hash]


def test_previous_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    old, older = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    monkeypatch.setenv("PASOKH_SECRET_KEY", secrets.token_urlsafe(32))
    for value in (f"{old}, {older}", json.dumps([old, older])):
        monkeypatch.setenv("PASOKH_SECRET_KEYS_PREVIOUS", value)
        sealer = Sealer.from_settings(PasokhSettings())
        assert sealer.previous_key_ids == [Sealer(old).key_id, Sealer(older).key_id]
        assert old not in repr(PasokhSettings())
    monkeypatch.setenv("PASOKH_SECRET_KEYS_PREVIOUS", "too-short")
    with pytest.raises(ValidationError, match="PASOKH_SECRET_KEYS_PREVIOUS"):
        PasokhSettings()
    monkeypatch.delenv("PASOKH_SECRET_KEYS_PREVIOUS")
    assert not Sealer.from_settings(PasokhSettings()).rotating


def test_the_rotation_knows_where_the_notifier_keeps_preferences() -> None:
    assert keyrotation.PREFERENCES == preferences.COLLECTION
