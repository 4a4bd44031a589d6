"""Iranian mobile numbers in the forms citizens type them, normalised to E.164."""

from __future__ import annotations

import re

from services.text import to_latin_digits

_SEPARATORS = re.compile(r"[\s\-().\u200c\u200e\u200f]")
# Iranian mobile numbers: 9 followed by nine digits once the country or trunk prefix is removed.
_MOBILE = re.compile(r"9[0-9]{9}")


def normalize_phone(raw: str) -> str:
    """``۰۹۱۲ ۱۲۳ ۴۵۶۷`` → ``+989121234567``; ``ValueError`` for anything not an Iranian mobile."""
    number = _SEPARATORS.sub("", to_latin_digits(raw.strip()))
    for prefix in ("+98", "0098", "98", "0"):
        if number.startswith(prefix) and len(number) - len(prefix) == 10:
            number = number[len(prefix) :]
            break
    if not _MOBILE.fullmatch(number):
        raise ValueError("not an Iranian mobile number")
    return "+98" + number
