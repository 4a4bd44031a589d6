"""What a citizen's SMS asks for, in the forms people type on a phone (Persian, Arabic-Indic and Latin
digits, Arabic letter forms, ZWNJ, diacritics, odd spacing and punctuation)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.sms_commands import Command, classify
from intake.tracking import luhn_digit

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
ZWNJ = "\u200c"
CODE = "7856233619"  # a valid tracking code (Luhn check digit 9)
BAD_CODE = CODE[:-1] + str((int(CODE[-1]) + 1) % 10)


def test_the_fixed_codes_are_what_they_claim() -> None:
    assert luhn_digit(CODE[:-1]) == CODE[-1]
    assert luhn_digit(BAD_CODE[:-1]) != BAD_CODE[-1]


@pytest.mark.parametrize(
    "text",
    [
        "لغو",
        " لغو ",
        "لغو.",
        "لَغو",  # fatha
        f"ل{ZWNJ}غو",
        "۱۱",
        "١١",
        "11",
        "1 1",
        "۱ ۱",
        "STOP",
        "stop",
        "Stop!",
        " s t o p ",
        "توقف",
        "تَوَقُّف",  # fatha, damma, shadda
        f"توقف{ZWNJ}",
        "\u200fتوقف\u200f",  # right-to-left marks around the word
    ],
)
def test_opt_out(text: str) -> None:
    assert classify(text) == Command("opt-out")


@pytest.mark.parametrize("text", ["شروع", "شُروع", " شروع!", f"شر{ZWNJ}وع", "START", "start", "Start."])
def test_opt_in(text: str) -> None:
    assert classify(text) == Command("opt-in")


@pytest.mark.parametrize(
    "text",
    [
        CODE,
        CODE.translate(PERSIAN),
        CODE.translate(ARABIC),
        f"{CODE[:3]} {CODE[3:6]} {CODE[6:]}",
        f"{CODE[:3]}-{CODE[3:6]}-{CODE[6:]}".translate(PERSIAN),
        f"  {CODE[:5]}  {CODE[5:]} ".translate(ARABIC),
        f"پیگیری {CODE}",
        f"پیگیری: {CODE.translate(PERSIAN)}",
        f"پیگیری{ZWNJ}{CODE.translate(PERSIAN)}",
        f"پیگیری{CODE}",
        f"کد پیگیری {CODE.translate(ARABIC)}",
        f"كد پيگيري {CODE}",  # Arabic kaf and yeh
        f"وضعیت {CODE}",
        f"status {CODE}",
        f"STATUS: {CODE[:5]}-{CODE[5:]}",
        f"Tracking code {CODE}",
    ],
)
def test_a_tracking_code_asks_for_the_status(text: str) -> None:
    assert classify(text) == Command("status", tracking_code=CODE)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(BAD_CODE, id="bad check digit"),
        pytest.param(BAD_CODE.translate(PERSIAN), id="bad check digit, persian digits"),
        pytest.param(f"پیگیری {BAD_CODE}", id="bad check digit after a word"),
        pytest.param(f"status {BAD_CODE.translate(ARABIC)}", id="bad check digit, arabic-indic digits"),
        pytest.param(CODE[:-1], id="nine digits"),
        pytest.param(CODE + "0", id="eleven digits"),
        pytest.param("09121234567", id="a phone number"),
    ],
)
def test_digits_that_are_no_valid_code_are_not_a_status_request_nor_a_complaint(text: str) -> None:
    assert classify(text) == Command("ignored")


@given(
    body=st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s[0] != "0"),
    script=st.sampled_from([{}, PERSIAN, ARABIC]),
    prefix=st.sampled_from(["", "پیگیری ", "کد پیگیری: ", "status "]),
    cut=st.integers(min_value=1, max_value=9),
    separator=st.sampled_from(["", " ", "-", " - "]),
)
def test_any_valid_code_in_any_script_and_spacing(
    body: str, script: dict[int, str], prefix: str, cut: int, separator: str
) -> None:
    code = body + luhn_digit(body)
    text = prefix + (code[:cut] + separator + code[cut:]).translate(script)
    assert classify(text) == Command("status", tracking_code=code)


@pytest.mark.parametrize("digit", range(1, 6))
@pytest.mark.parametrize("script", [{}, PERSIAN, ARABIC], ids=["latin", "persian", "arabic-indic"])
def test_a_digit_from_1_to_5_is_a_rating(digit: int, script: dict[int, str]) -> None:
    assert classify(f" {digit}".translate(script)) == Command("rating", rating=digit)
    assert classify(f"{digit}.".translate(script)) == Command("rating", rating=digit)


@pytest.mark.parametrize("digit", [6, 7, 9])
@pytest.mark.parametrize("script", [{}, PERSIAN, ARABIC], ids=["latin", "persian", "arabic-indic"])
def test_6_to_9_are_not_ratings(digit: int, script: dict[int, str]) -> None:
    assert classify(str(digit).translate(script)) == Command("ignored")


@pytest.mark.parametrize(
    "text", ["0", "۰", "٠", " ۰ ", "بازگشایی", "باز‌گشایی", "بازگشائی", "REOPEN", "reopen."]
)
def test_0_and_the_reopen_word_ask_to_reopen(text: str) -> None:
    assert classify(text) == Command("reopen")


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("عالی", 5),
        ("عالي", 5),  # Arabic yeh
        ("عالی!", 5),
        ("خیلی خوب", 5),
        (f"خیلی{ZWNJ}خوب", 5),
        ("خیلیخوب", 5),
        ("خيلي  خوب", 5),
        ("خوب", 4),
        ("خُوب", 4),
        ("متوسط", 3),
        ("مُتَوَسِّط", 3),
        ("بد", 2),
        ("بَد", 2),
        ("خیلی بد", 1),
        (f"خیلی{ZWNJ}بد", 1),
        ("excellent", 5),
        ("Excellent!", 5),
        ("very good", 5),
        ("GOOD", 4),
        ("ok", 3),
        ("OK", 3),
        ("bad", 2),
        ("very bad", 1),
        ("Very  Bad", 1),
        ("امتیاز ۴", 4),
        ("rating: 2", 2),
    ],
)
def test_survey_words_are_ratings(text: str, rating: int) -> None:
    assert classify(text) == Command("rating", rating=rating)


@pytest.mark.parametrize(
    "text",
    [
        "چراغ کوچه ما سه شب است خاموش است",
        "The street light is broken",
        "abcdefghij",  # exactly ten characters
        "سطل زباله پره",
        # A command word inside a sentence is not the command.
        "لطفا جلسه را لغو نکنید، آسفالت خراب است",
        "stop the noise at night please",
        "خیلی بد است، چاله بزرگی جلوی خانه است",
        f"پیگیری {CODE} هنوز درست نشده",
    ],
)
def test_other_text_of_ten_characters_or_more_is_a_complaint(text: str) -> None:
    assert classify(text) == Command("complaint")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param(ZWNJ * 3, id="zwnj"),
        pytest.param("سلام", id="hello"),
        pytest.param("abcdefghi", id="nine letters"),
        pytest.param("ممنون!!", id="thanks"),
        pytest.param("؟" * 12, id="question marks"),
        pytest.param("👍" * 12, id="emoji"),
        pytest.param("پیگیری", id="prefix word only"),
        pytest.param("status", id="status only"),
    ],
)
def test_very_short_or_wordless_text_is_ignored(text: str) -> None:
    assert classify(text) == Command("ignored")
