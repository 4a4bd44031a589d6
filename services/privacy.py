"""Personal data at rest: sealed with AES-GCM, looked up by a keyed hash, shown masked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class Sealer:
    """Seals and opens small strings (phone numbers, names) with keys derived from one secret."""

    def __init__(self, secret: str) -> None:
        master = secret.encode()
        self._aead = AESGCM(hmac.digest(master, b"pasokh/seal/v1", hashlib.sha256))
        self._hash_key = hmac.digest(master, b"pasokh/lookup/v1", hashlib.sha256)

    def seal(self, clear: str) -> str:
        """Encrypt ``clear``; the result is URL-safe text and differs on every call."""
        nonce = os.urandom(12)
        box = self._aead.encrypt(nonce, clear.encode(), _VERSION)
        return base64.urlsafe_b64encode(_VERSION + nonce + box).decode()

    def open(self, sealed: str) -> str:
        """Decrypt what :meth:`seal` produced; raise ``ValueError`` if it was tampered with."""
        raw = base64.urlsafe_b64decode(sealed.encode())
        if raw[:1] != _VERSION:
            raise ValueError("unknown sealed-data version")
        try:
            return self._aead.decrypt(raw[1:13], raw[13:], _VERSION).decode()
        except Exception as exc:  # cryptography raises InvalidTag without a message
            raise ValueError("sealed data does not open with this key") from exc

    def lookup_hash(self, clear: str) -> str:
        """A keyed hash of ``clear`` to find records by phone without storing it in clear."""
        return hmac.new(self._hash_key, clear.encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """``+989121234567`` → ``+98912***4567``: enough for a person to recognise, no more."""
    if len(phone) < 8:
        return "***"
    return f"{phone[:6]}***{phone[-4:]}"
