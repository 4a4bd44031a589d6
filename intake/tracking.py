"""Tracking codes: ten digits a citizen can read out on the phone, the last a Luhn check digit."""

from __future__ import annotations

import secrets

LENGTH = 10


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for ``digits`` (catches any single typo and most swaps)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_code() -> str:
    """A random code; the first digit is never 0 so spreadsheets keep all ten."""
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(LENGTH - 2))
    return body + luhn_digit(body)


def is_valid(code: str) -> bool:
    """True when ``code`` has the right length and check digit."""
    return len(code) == LENGTH and code.isascii() and code.isdigit() and luhn_digit(code[:-1]) == code[-1]
