"""notifier.segments: what an SMS costs, GSM-7 versus UCS-2, at every boundary the provider bills on."""

from __future__ import annotations

import random
import string

import pytest

from notifier.segments import segments

GSM7_PLAIN = string.ascii_letters + string.digits + " .,:;!?-()@£$¥èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà§¿¡"
GSM7_EXTENDED = "^{}\\[~]|€"


def gsm(n: int) -> str:
    return "".join(random.choices(GSM7_PLAIN, k=n))


def persian(n: int) -> str:
    return "".join(random.choices("ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی ۰۱۲۳۴۵۶۷۸۹", k=n))


@pytest.mark.parametrize(
    ("length", "parts"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3), (153 * 3 + 1, 4)],
)
def test_gsm7_text(length: int, parts: int) -> None:
    assert segments(gsm(length)) == parts


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3), (67 * 3, 3), (67 * 3 + 1, 4)],
)
def test_ucs2_text(length: int, parts: int) -> None:
    assert segments(persian(length)) == parts


def test_one_persian_letter_makes_the_whole_text_ucs2() -> None:
    assert segments(gsm(160)) == 1
    assert segments(gsm(69) + "ی") == 1
    assert segments(gsm(70) + "ی") == 2
    assert segments(gsm(159) + "ی") == 3  # 160 UCS-2 characters


def test_persian_digits_are_not_gsm7() -> None:
    assert segments("۱" * 71) == 2
    assert segments("1" * 71) == 1


@pytest.mark.parametrize("char", list(GSM7_EXTENDED))
def test_extension_characters_count_double(char: str) -> None:
    assert segments(char * 80) == 1  # 160 septets
    assert segments(char * 80 + "a") == 2  # 161
    assert segments(char + gsm(159)) == 2
    assert segments(char * 153) == 2  # 306 septets
    assert segments(char * 153 + "a") == 3  # 307


def test_newlines_are_gsm7() -> None:
    assert segments("a\n" * 80) == 1


def test_emoji_count_as_two_ucs2_units() -> None:
    # outside the BMP a character is a surrogate pair: two of the 70 units
    assert segments("🙂" * 35) == 1
    assert segments("🙂" * 35 + "a") == 2
