"""services.text: the canonical form of citizen text that validation and classification rely on."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.text import (
    ZWNJ,
    detect_language,
    detect_languages,
    fold,
    normalize,
    squeeze_repeats,
    to_latin_digits,
    to_persian_digits,
)

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # LRE
    "\u202b",  # RLE
    "\u202c",  # PDF
    "\u202d",  # LRO
    "\u202e",  # RLO
    "\u2066",  # LRI
    "\u2067",  # RLI
    "\u2068",  # FSI
    "\u2069",  # PDI
    "\ufeff",  # BOM / zero-width no-break space
]

# Characters Persian keyboards, copy-paste from Word and phones actually produce, plus a few that
# interact with Unicode normalisation; hypothesis mixes them with arbitrary code points.
_TRICKY = [
    ZWNJ,
    " ",
    "\t",
    "\n",
    "\u00a0",
    "\u0640",  # tatweel
    "\u064a",  # Arabic yeh
    "\u0643",  # Arabic kaf
    "\u0649",
    "\u0629",
    "\u0623",
    "\u0654",  # hamza above (combines with alef under NFC)
    "\u064b",  # fathatan
    "\u0651",  # shadda
    "\u0301",  # combining acute
    "ا",
    "ی",
    "ک",
    "ب",
    "a",
    "A",
    "e",
    "İ",
    "ß",
    "\u1100",  # Hangul jamo: composes only when adjacent
    "\u1161",
    "۱",
    "٣",
    "7",
    *INVISIBLE,
]
# A list joined rather than st.text(alphabet=...): hypothesis merges a one_of alphabet into one flat
# character set, which would drown the tricky characters among a million code points.
# Spacing gets a branch of its own so that ZWNJ/space sequences come up often.
citizen_text = st.lists(
    st.one_of(st.sampled_from([ZWNJ, " ", "\n"]), st.sampled_from(_TRICKY), st.characters()), max_size=30
).map("".join)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("علي", "علی"),
        ("كوچه", "کوچه"),
        ("يك كيسه", "یک کیسه"),
        ("مصطفى", "مصطفی"),
        ("مدرسة", "مدرسه"),
        ("مؤسسه", "موسسه"),
        ("أحمد إمام", "احمد امام"),
    ],
)
def test_arabic_letter_forms_become_persian(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_persian_and_arabic_indic_digits_become_ascii() -> None:
    assert normalize(PERSIAN_DIGITS) == "0123456789"
    assert normalize(ARABIC_DIGITS) == "0123456789"
    assert normalize("پلاک ۱۲ واحد ٣") == "پلاک 12 واحد 3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("کِتابٌ", "کتاب"),
        ("محمّد", "محمد"),
        ("سَلامً", "سلام"),
        ("آب", "آب"),  # alef with madda is a letter, not a letter plus a mark
    ],
)
def test_diacritics_are_removed(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_tatweel_is_removed() -> None:
    assert normalize("ســـــلام") == "سلام"


@pytest.mark.parametrize("mark", INVISIBLE)
def test_bidi_and_zero_width_marks_are_removed(mark: str) -> None:
    assert normalize(f"{mark}چراغ{mark} خاموش{mark}") == "چراغ خاموش"


def test_zwnj_inside_a_word_is_kept() -> None:
    assert normalize("می‌خواهم") == f"می{ZWNJ}خواهم"


def test_zwnj_runs_collapse_to_one() -> None:
    assert normalize(f"می{ZWNJ * 4}خواهم") == f"می{ZWNJ}خواهم"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(f"کتاب{ZWNJ} ها", id="zwnj-space"),
        pytest.param(f"کتاب {ZWNJ}ها", id="space-zwnj"),
        pytest.param(f"کتاب {ZWNJ} ها", id="space-zwnj-space"),
        pytest.param(f"کتاب{ZWNJ}{ZWNJ}  {ZWNJ}ها", id="zwnj-zwnj-space-space-zwnj"),
        pytest.param(f"کتاب{ZWNJ} {ZWNJ}ها", id="zwnj-space-zwnj"),
        pytest.param(f"کتاب{ZWNJ} {ZWNJ} ها", id="zwnj-space-zwnj-space"),
    ],
)
def test_zwnj_next_to_a_space_is_dropped(raw: str) -> None:
    assert normalize(raw) == "کتاب ها"


def test_leading_and_trailing_zwnj_and_spaces_are_stripped() -> None:
    assert normalize(f" {ZWNJ}  سلام {ZWNJ}\n") == "سلام"


def test_whitespace_collapses_to_single_spaces() -> None:
    assert normalize("  چراغ \t\n خاموش\u00a0\u00a0است  ") == "چراغ خاموش است"


@pytest.mark.parametrize("raw", ["", "   ", ZWNJ * 3, f" {ZWNJ}\n\t{ZWNJ} ", "\u200f\u200e", "\u0640\u0640"])
def test_text_without_content_normalises_to_empty(raw: str) -> None:
    # intake relies on this to refuse a complaint that says nothing
    assert normalize(raw) == ""


def test_everything_at_once() -> None:
    raw = f"\u200f  آسفالتِ   خيابانِ  ۱۲ متري ـــ {ZWNJ}{ZWNJ}خراب{ZWNJ}{ZWNJ}شده\u200e "
    assert normalize(raw) == f"آسفالت خیابان 12 متری خراب{ZWNJ}شده"


def test_fold_is_a_matching_key() -> None:
    assert fold("Street LIGHT") == "street light"
    assert fold("پیاده‌رو") == "پیاده رو"
    assert fold("پياده‌رو") == fold("پیاده رو")
    assert fold("  چراغ   خاموش ") == fold("چراغ خاموش")
    assert fold("كوچه ۱۲") == "کوچه 12"


@pytest.mark.parametrize(
    "text",
    [
        "چراغ‌های کوچه ما سه شب است خاموش است",
        "زباله‌ها را جمع نکرده‌اند",
        "كوچه ما تاريك است",
        "اتوبوس خط ۱۲۵ نیامد (BRT)",
    ],
)
def test_persian_text_is_detected_as_persian(text: str) -> None:
    assert detect_language(text) == "fa"


@pytest.mark.parametrize(
    "text",
    ["The street light on our lane is out", "garbage not collected for 3 days", "bus 125 never came, خط"],
)
def test_english_text_is_detected_as_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "12345", "!!! ???", "۱۲۳"])
def test_text_without_letters_defaults_to_persian(text: str) -> None:
    assert detect_language(text) == "fa"


def test_to_persian_digits() -> None:
    assert to_persian_digits("0123456789") == PERSIAN_DIGITS
    assert to_persian_digits("کد 1402-07") == "کد ۱۴۰۲-۰۷"


def test_digit_conversions_round_trip() -> None:
    number = "".join(random.choices("0123456789", k=20))
    assert to_latin_digits(to_persian_digits(number)) == number
    assert to_persian_digits(
        to_latin_digits(number.translate(str.maketrans("0123456789", ARABIC_DIGITS)))
    ) == (to_persian_digits(number))


@given(citizen_text)
def test_normalize_and_fold_never_raise(text: str) -> None:
    assert isinstance(normalize(text), str)
    assert isinstance(fold(text), str)


@settings(max_examples=2000)
@given(citizen_text)
def test_normalize_leaves_no_untidy_spacing(text: str) -> None:
    result = normalize(text)
    assert result == result.strip()
    assert "  " not in result
    assert not result.startswith(ZWNJ) and not result.endswith(ZWNJ)


@settings(max_examples=2000)
@given(citizen_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=2000)
@given(citizen_text)
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("خیلیییی بده", "خیلی بده"),
        ("سلاااااام", "سلام"),
        ("soooo bad", "soo bad"),
        ("GOOOOD", "good"),
        ("مدد", "مدد"),  # a letter written twice is a real word
        ("street", "street"),
        ("10000 تومان", "10000 تومان"),  # digits are not stretched letters
    ],
)
def test_fold_undoes_stretched_words(raw: str, expected: str) -> None:
    assert fold(raw) == expected


def test_squeeze_repeats_keeps_persian_doubles_and_english_pairs() -> None:
    assert squeeze_repeats("ددددر") == "در"
    assert squeeze_repeats("tree") == "tree"
    assert squeeze_repeats("treeeee") == "tree"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"BRT{ZWNJ}ها", "BRTها"),  # after a Latin letter ZWNJ joins nothing
        (f"12{ZWNJ}متری", "12متری"),
        (f"{ZWNJ}!{ZWNJ}", "!"),
        (f"خانه{ZWNJ}ها", f"خانه{ZWNJ}ها"),
    ],
)
def test_zwnj_outside_persian_letters_is_dropped(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ایستگاهBRT", "ایستگاه brt"),
        ("خط۱۲۵", "خط 125"),
        ("پلاک12واحد3", "پلاک 12 واحد 3"),
        ("BRTایستگاه", "brt ایستگاه"),
    ],
)
def test_fold_separates_scripts_that_touch(raw: str, expected: str) -> None:
    assert fold(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("چراغ‌های کوچه ما سه شب است خاموش است", "fa"),
        ("اتوبوس خط ۱۲۵ نیامد (BRT)", "fa"),
        ("The street light on our lane is out", "en"),
        ("cheragh-e kooche khamoosh ast", "en"),  # finglish: Latin letters
        ("the bus خط دوازده نیامد today", "mixed"),
        ("پارک laleh near the gate خراب است", "mixed"),
        ("", "fa"),
    ],
)
def test_detect_languages_tells_mixed_text(text: str, expected: str) -> None:
    assert detect_languages(text) == expected


@given(citizen_text)
def test_language_detection_never_raises(text: str) -> None:
    assert detect_languages(text) in ("fa", "en", "mixed")
    assert detect_language(text) in ("fa", "en")


# Stretched letters, mixed scripts and ZWNJ next to each other, where squeezing and splitting interact.
stretched_text = st.lists(
    st.tuples(
        st.sampled_from(["ی", "ا", "a", "S", "ß", "İ", "۱", "7", ZWNJ, " ", "\u0654"]), st.integers(1, 5)
    ),
    max_size=12,
).map(lambda runs: "".join(ch * n for ch, n in runs))


@settings(max_examples=2000)
@given(st.one_of(stretched_text, citizen_text))
def test_fold_is_idempotent_on_stretched_and_mixed_text(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert normalize(normalize(text)) == normalize(text)


def test_normalize_composes_what_removing_a_stray_zwnj_brings_together() -> None:
    # Found by hypothesis: jamo split by a ZWNJ composed only on the second pass.
    once = normalize("ᄀ\u200cᅡ")
    assert once == "가" and normalize(once) == once
