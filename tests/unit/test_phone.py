"""intake.phone: the mobile numbers citizens type, in every common form, become one E.164 number."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.phone import normalize_phone

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
E164_MOBILE = re.compile(r"\+989[0-9]{9}")


def random_mobile() -> str:
    """Ten national digits of a random Iranian mobile number (9xx xxx xxxx)."""
    operator = random.choice(["912", "919", "935", "939", "901", "990", "921", "936"])
    return operator + "".join(random.choices("0123456789", k=7))


FORMS: dict[str, Callable[[str], str]] = {
    "national": lambda n: f"0{n}",
    "plus98": lambda n: f"+98{n}",
    "0098": lambda n: f"0098{n}",
    "98": lambda n: f"98{n}",
    "spaces": lambda n: f"0{n[:3]} {n[3:6]} {n[6:]}",
    "dashes": lambda n: f"0{n[:3]}-{n[3:6]}-{n[6:]}",
    "parentheses": lambda n: f"(0{n[:3]}) {n[3:6]}-{n[6:]}",
    "plus98 spaced": lambda n: f"+98 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}",
    "plus98 parentheses": lambda n: f"+98 ({n[:3]}) {n[3:]}",
    "0098 dashed": lambda n: f"0098-{n[:3]}-{n[3:]}",
    "surrounding whitespace": lambda n: f"  0{n}\t\n",
    "persian digits": lambda n: f"0{n}".translate(PERSIAN),
    "persian digits spaced": lambda n: f"0{n[:3]} {n[3:6]} {n[6:]}".translate(PERSIAN),
    "persian plus98": lambda n: f"+98{n}".translate(PERSIAN),
    "arabic-indic digits": lambda n: f"0{n}".translate(ARABIC),
    "arabic-indic 0098": lambda n: f"0098{n}".translate(ARABIC),
    "mixed scripts": lambda n: f"0{n[:5]}".translate(PERSIAN) + n[5:],
    "rtl mark from a phone keyboard": lambda n: f"\u200e0{n}\u200f",
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_common_mobile_forms_become_e164(form: Callable[[str], str]) -> None:
    national = random_mobile()
    assert normalize_phone(form(national)) == f"+98{national}"


def test_docstring_example() -> None:
    assert normalize_phone("۰۹۱۲ ۱۲۳ ۴۵۶۷") == "+989121234567"


@pytest.mark.parametrize(
    "raw",
    [
        "02112345678",  # Tehran landline
        "+982112345678",
        "00982612345678",  # Karaj landline
        "2612345678",
        "۰۲۱۸۸۷۷۶۶۵۵",  # landline in Persian digits
        "0912123456",  # one digit short
        "091212345678",  # one digit too many
        "+9891212345678",
        "+98912123456",
        "912123456",
        "0912abc4567",
        "O9121234567",  # letter O instead of zero
        "0912 123 456x",
        "+1 912 123 4567",
        "+44 7912 123456",
        "",
        "   ",
        "-",
        "09121234567;09121234568",
        "0912/123/4567",
    ],
)
def test_anything_but_an_iranian_mobile_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(raw)


_DIGITS_OF_MANY_SCRIPTS = st.characters(categories=["Nd"])
phone_like = st.lists(
    st.one_of(
        st.sampled_from("0123456789+ -()"), st.sampled_from("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"), _DIGITS_OF_MANY_SCRIPTS
    ),
    min_size=9,
    max_size=16,
).map("".join)


@given(
    st.one_of(
        st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(["09", "+989", "00989"]), phone_like),
        st.text(),
    )
)
def test_the_result_is_always_an_ascii_e164_mobile_number(raw: str) -> None:
    # The result is sealed, hashed for look-ups and handed to the SMS provider: it has exactly one form.
    try:
        result = normalize_phone(raw)
    except ValueError:
        return
    assert E164_MOBILE.fullmatch(result), result
