"""Persian/English text normalisation shared by intake (validation) and router (classification)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

ZWNJ = "\u200c"
_TATWEEL = "\u0640"
# Arabic letter forms citizens' keyboards produce, mapped to their Persian forms.
_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي → ی
        "\u0649": "\u06cc",  # ى → ی
        "\u0643": "\u06a9",  # ك → ک
        "\u0629": "\u0647",  # ة → ه
        "\u0624": "\u0648",  # ؤ → و
        "\u0623": "\u0627",  # أ → ا
        "\u0625": "\u0627",  # إ → ا
        _TATWEEL: None,
    }
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TO_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# Bidi controls and zero-width marks other than ZWNJ carry no meaning in a complaint.
_INVISIBLE = re.compile("[\u200b\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
# A run of spaces and ZWNJs separates two words once: by a space if the run holds one, else by ZWNJ.
_SEPARATOR_RUNS = re.compile(f"[ {ZWNJ}]+")
_ARABIC_LETTER = "\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06fc\u06ff\ufb50-\ufdfb\ufe70-\ufefc"
# ZWNJ only means something between two Arabic-script letters («می‌خواهم»); elsewhere it is noise.
_STRAY_ZWNJ = re.compile(f"(?<![{_ARABIC_LETTER}]){ZWNJ}|{ZWNJ}(?![{_ARABIC_LETTER}])")
# Stretched words («خیلیییی», "sooooo"): Persian never writes a letter three times in a row and
# English at most twice, so a longer run is emphasis.
_ARABIC_REPEATS = re.compile(f"([{_ARABIC_LETTER}])\\1{{2,}}")
_LATIN_REPEATS = re.compile("([a-z])\\1{2,}")
# Where Arabic-script letters touch Latin letters or digits with no space («خیابانBRT», «خط۱۲۵»).
_SCRIPT_SEAM = re.compile(f"(?<=[{_ARABIC_LETTER}])(?=[a-z0-9])|(?<=[a-z0-9])(?=[{_ARABIC_LETTER}])")


def to_latin_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII digits."""
    return text.translate(_DIGITS)


def to_persian_digits(text: str) -> str:
    """Replace ASCII digits with Persian digits (for text a citizen reads)."""
    return text.translate(_TO_PERSIAN_DIGITS)


def _strip_marks(text: str) -> str:
    # Diacritics (harakat, tanwin, shadda…) are Unicode category Mn; ZWNJ is Cf and is kept.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def normalize(text: str) -> str:
    """Canonical form of citizen text: one letter form, ASCII digits, no diacritics, tidy spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_LETTERS)
    text = to_latin_digits(text)
    text = _strip_marks(text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SEPARATOR_RUNS.sub(lambda m: " " if " " in m.group(0) else ZWNJ, text)
    text = _STRAY_ZWNJ.sub("", text)
    # Removing marks and stray ZWNJs can bring together characters that compose (Hangul jamo:
    # "ᄀ\u200cᅡ" → "가"), so compose once more, last.
    text = unicodedata.normalize("NFC", text)
    return text.strip(" " + ZWNJ)


def squeeze_repeats(text: str) -> str:
    """Undo stretching: a Persian letter written 3+ times becomes one, a Latin one (lower case) two."""
    return _LATIN_REPEATS.sub(r"\1\1", _ARABIC_REPEATS.sub(r"\1", text))


def fold(text: str) -> str:
    """A matching key: normalised, lower-cased, unstretched, scripts apart, ZWNJ as a space."""
    key = normalize(text)
    # casefold can produce combining marks ("İ" → "i̇") and new runs ("ßs" → "sss"): tidy after it.
    for _ in range(8):  # each pass only shortens or splits: a fixed point comes within a pass or two
        folded = normalize(_SCRIPT_SEAM.sub(" ", squeeze_repeats(key.casefold()))).replace(ZWNJ, " ")
        if folded == key:
            break
        key = folded
    return key


Language = Literal["fa", "en", "mixed"]
#: Below this share of the letters, the other script is a borrowed word («BRT», «خط»), not a mix.
MIXED_SHARE = 0.25


def _letter_counts(text: str) -> tuple[int, int]:
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff" or "\ufb50" <= ch <= "\ufeff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return arabic, latin


def detect_languages(text: str) -> Language:
    """``fa`` or ``en`` by script, ``mixed`` when each script holds at least a quarter of the letters.

    Finglish (Persian in Latin letters) reads as ``en``: telling it apart needs a dictionary.
    """
    arabic, latin = _letter_counts(text)
    total = arabic + latin
    if total and min(arabic, latin) >= MIXED_SHARE * total:
        return "mixed"
    return "en" if latin > arabic else "fa"


def detect_language(text: str) -> Literal["fa", "en"]:
    """``fa`` when most letters are Arabic-script, ``en`` when most are Latin, ``fa`` when none."""
    arabic, latin = _letter_counts(text)
    return "en" if latin > arabic else "fa"
