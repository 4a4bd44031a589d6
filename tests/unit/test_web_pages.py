"""The pages' colours meet WCAG 2.1 AA, and their words exist in both languages."""

from __future__ import annotations

import re

import pytest

from intake.web.common import STATIC_DIR
from intake.web.i18n import WORDS, Words

CSS = (STATIC_DIR / "pasokh.css").read_text(encoding="utf-8")


def luminance(colour: str) -> float:
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


VARS = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6})", CSS))


@pytest.mark.parametrize(
    ("text", "background"),
    [("ink", "bg"), ("muted", "bg"), ("brand", "bg"), ("err", "bg"), ("ok", "bg"), ("muted", "soft")],
)
def test_text_colours_have_at_least_4_5_to_1(text: str, background: str) -> None:
    assert contrast(VARS[text], VARS[background]) >= 4.5


def test_white_on_the_brand_colour_and_field_borders_are_readable() -> None:
    assert contrast("#ffffff", VARS["brand"]) >= 4.5  # header links, primary buttons
    assert contrast("#6b7280", VARS["bg"]) >= 3  # input borders (non-text, 1.4.11)
    assert contrast("#c75300", VARS["bg"]) >= 3  # focus outline


def test_every_word_has_both_languages_and_numbers_use_persian_digits() -> None:
    assert all(fa and en for fa, en in WORDS.values())
    fa, en = Words("fa"), Words("en")
    assert fa.num(12345) == "۱۲٬۳۴۵" and en.num(12345) == "12,345"
    assert fa.pct(0.5) == "۵۰٪" and fa.num(4.25, 1) == "۴٫۲"
    assert (fa.dir, en.dir) == ("rtl", "ltr")
