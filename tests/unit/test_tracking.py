"""intake.tracking: codes a citizen reads out on the phone; a typo must not find someone else's complaint."""

from __future__ import annotations

import pytest

from intake.tracking import LENGTH, is_valid, luhn_digit, new_code


def test_new_codes_are_ten_digits_without_a_leading_zero_and_valid() -> None:
    codes = [new_code() for _ in range(2000)]
    for code in codes:
        assert len(code) == LENGTH == 10
        assert code.isascii() and code.isdigit()
        assert code[0] != "0", code
        assert is_valid(code), code
    # random, not a counter or a constant: 2000 draws from 9·10^8 bodies practically never collide
    assert len(set(codes)) >= 1990
    assert len({code[0] for code in codes}) == 9


def test_luhn_check_digit_of_the_textbook_example() -> None:
    assert luhn_digit("7992739871") == "3"
    assert is_valid("7992739871") is False  # right length, wrong check digit


def _single_digit_changes(code: str) -> list[str]:
    return [code[:i] + d + code[i + 1 :] for i in range(len(code)) for d in "0123456789" if d != code[i]]


def _adjacent_swaps(code: str) -> list[str]:
    swaps = []
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        # Luhn's one known blind spot: 0 and 9 both contribute 0 (mod 9) whether doubled or not,
        # so swapping "09" ↔ "90" keeps the sum. Every other swap of different digits is caught.
        if a != b and {a, b} != {"0", "9"}:
            swaps.append(code[:i] + b + a + code[i + 2 :])
    return swaps


# A few fixed codes covering every digit pair, plus fresh random ones.
CODES = ["1234567897", "9081726354", "5555555557", "1029384756", "9900112233"]


@pytest.mark.parametrize("code", [*CODES, new_code(), new_code(), new_code()])
def test_every_single_digit_typo_is_rejected(code: str) -> None:
    code = code[:-1] + luhn_digit(code[:-1])  # make the fixed examples valid
    assert is_valid(code)
    changed = _single_digit_changes(code)
    assert len(changed) == 90
    assert [c for c in changed if is_valid(c)] == []


@pytest.mark.parametrize("code", [*CODES, new_code(), new_code(), new_code()])
def test_every_adjacent_swap_of_different_digits_is_rejected(code: str) -> None:
    code = code[:-1] + luhn_digit(code[:-1])
    assert is_valid(code)
    assert [c for c in _adjacent_swaps(code) if is_valid(c)] == []


@pytest.mark.parametrize(
    "code",
    [
        "",
        "123456789",  # nine digits
        "12345678901",  # eleven
        "12345 6789",
        "123456789a",
        "۱۲۳۴۵۶۷۸۹۷",  # Persian digits: callers convert first, is_valid is strict
        "١٢٣٤٥٦٧٨٩٧",
        "+234567897",
        " 1234567897",
    ],
)
def test_malformed_codes_are_invalid(code: str) -> None:
    assert is_valid(code) is False
