"""Personal data at rest: sealed with AES-GCM, looked up by a keyed hash, shown masked.

Keys rotate: a :class:`Sealer` seals and hashes with its active secret and still opens, and finds by
hash, what was sealed or hashed with any of its previous secrets. A sealed value names the key that
sealed it (a key id derived from the secret, never the secret), so it opens with one decryption and
``pasokh keys rotate-secret`` can tell what still needs re-sealing (services.keyrotation).

Sealed layout (URL-safe base64): version ``0x02`` · key id (5 bytes) · nonce (12) · ciphertext+tag,
with version and key id authenticated as associated data. Values of version ``0x01`` (before key ids,
sealed with the one key there was) still open: every known key is tried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from services.settings import PasokhSettings

_VERSION_1 = b"\x01"
_VERSION = b"\x02"
_KEY_ID_BYTES = 5
_NONCE_BYTES = 12


class _Key:
    """The keys derived from one secret: sealing, lookup hashing, and its public id."""

    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self.aead = AESGCM(hmac.digest(master, b"pasokh/seal/v1", hashlib.sha256))
        self.hash_key = hmac.digest(master, b"pasokh/lookup/v1", hashlib.sha256)
        self.raw_id = hmac.digest(master, b"pasokh/key-id/v1", hashlib.sha256)[:_KEY_ID_BYTES]
        self.id = self.raw_id.hex()

    def lookup_hash(self, clear: str) -> str:
        return hmac.new(self.hash_key, clear.encode(), hashlib.sha256).hexdigest()


class Sealer:
    """Seals and opens small strings (phone numbers, names) with keys derived from one secret.

    ``previous`` are secrets used before the current one, newest first: values they sealed still
    open, and :meth:`lookup_hashes` includes their hashes, until the data is re-sealed.
    """

    def __init__(self, secret: str, previous: Iterable[str] = ()) -> None:
        self._active = _Key(secret)
        self._previous = [_Key(s) for s in previous if s != secret]
        self._by_id: dict[bytes, list[_Key]] = {}
        for key in (self._active, *self._previous):
            self._by_id.setdefault(key.raw_id, []).append(key)

    @classmethod
    def from_settings(cls, settings: PasokhSettings) -> Sealer:
        """The sealer of ``PASOKH_SECRET_KEY`` that also knows ``PASOKH_SECRET_KEYS_PREVIOUS``."""
        return cls(
            settings.secret_key.get_secret_value(),
            [s.get_secret_value() for s in settings.secret_keys_previous],
        )

    @property
    def key_id(self) -> str:
        """The id of the active key (hex; derived from the secret, reveals nothing of it)."""
        return self._active.id

    @property
    def previous_key_ids(self) -> list[str]:
        """The ids of the previous keys, in the order given."""
        return [key.id for key in self._previous]

    @property
    def rotating(self) -> bool:
        """True while previous keys are configured (data may still be sealed or hashed with them)."""
        return bool(self._previous)

    def seal(self, clear: str) -> str:
        """Encrypt ``clear`` with the active key; the result is URL-safe text and differs on every call."""
        nonce = os.urandom(_NONCE_BYTES)
        header = _VERSION + self._active.raw_id
        box = self._active.aead.encrypt(nonce, clear.encode(), header)
        return base64.urlsafe_b64encode(header + nonce + box).decode()

    def open(self, sealed: str) -> str:
        """Decrypt what :meth:`seal` produced with any known key; ``ValueError`` if tampered or unknown."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ValueError("sealed data is not base64") from exc
        if raw[:1] == _VERSION:
            header, rest = raw[: 1 + _KEY_ID_BYTES], raw[1 + _KEY_ID_BYTES :]
            keys = self._by_id.get(header[1:], [])
            if not keys:
                raise ValueError("sealed with a key unknown here (see PASOKH_SECRET_KEYS_PREVIOUS)")
        elif raw[:1] == _VERSION_1:
            header, rest = _VERSION_1, raw[1:]
            keys = [self._active, *self._previous]
        else:
            raise ValueError("unknown sealed-data version")
        nonce, box = rest[:_NONCE_BYTES], rest[_NONCE_BYTES:]
        for key in keys:
            try:
                return key.aead.decrypt(nonce, box, header).decode()
            except Exception:  # noqa: BLE001, S112 — cryptography raises InvalidTag without a message
                continue
        raise ValueError("sealed data does not open with this key")

    def key_id_of(self, sealed: str) -> str | None:
        """The id of the key that sealed ``sealed``; None for values sealed before key ids existed."""
        raw = base64.urlsafe_b64decode(sealed.encode())
        if raw[:1] == _VERSION and len(raw) > _KEY_ID_BYTES:
            return raw[1 : 1 + _KEY_ID_BYTES].hex()
        return None

    def is_current(self, sealed: str) -> bool:
        """True when ``sealed`` was sealed with the active key (nothing to re-seal)."""
        return self.key_id_of(sealed) == self._active.id

    def reseal(self, sealed: str) -> str:
        """``sealed`` itself when the active key sealed it, else the same text sealed with the active key."""
        return sealed if self.is_current(sealed) else self.seal(self.open(sealed))

    def lookup_hash(self, clear: str) -> str:
        """A keyed hash of ``clear`` (active key) to find records by phone without storing it in clear."""
        return self._active.lookup_hash(clear)

    def lookup_hashes(self, clear: str) -> list[str]:
        """The hashes of ``clear`` under the active key, then each previous key: query with ``$in``."""
        return [self._active.lookup_hash(clear), *(key.lookup_hash(clear) for key in self._previous)]

    def lookup_hashes_of(self, sealed: str | None, known_hash: str) -> list[str]:
        """Every hash a record of the citizen behind ``sealed`` (hashed ``known_hash``) may be stored under.

        Without previous keys that is ``known_hash`` alone (no decryption): all data is under the one
        key. While rotating, the phone is opened to add its hash under every key, active first.
        """
        if not self._previous or not sealed:
            return [known_hash]
        try:
            hashes = self.lookup_hashes(self.open(sealed))
        except ValueError:
            return [known_hash]
        return hashes if known_hash in hashes else [*hashes, known_hash]


def mask_phone(phone: str) -> str:
    """``+989121234567`` → ``+98912***4567``: enough for a person to recognise, no more."""
    if len(phone) < 8:
        return "***"
    return f"{phone[:6]}***{phone[-4:]}"
