"""What a citizen's SMS to the short code asks for: stop, start, a status, a survey answer, a reopening,
or a complaint.

Pure functions. Matching ignores letter case, the digit script (Persian, Arabic-Indic, Latin),
diacritics, Arabic letter forms, ZWNJ, spaces and punctuation, the way people really type on a phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from intake import tracking
from services.text import fold, normalize

Kind = Literal["opt-out", "opt-in", "status", "rating", "reopen", "complaint", "ignored"]

# Shorter texts that are no command are ignored rather than filed as complaints.
MIN_COMPLAINT_CHARS = 10

# Keys are compared with every space removed, so «خیلی‌خوب», «خیلی خوب» and «خیلیخوب» are one answer.
OPT_OUT = frozenset({"لغو", "11", "stop", "توقف"})
OPT_IN = frozenset({"شروع", "start"})
# The answer to the notifier's offer after a low rating: reopen the last resolved complaint. «۰» folds to 0.
REOPEN = frozenset({"بازگشایی", "بازگشائی", "0", "reopen"})
RATING_WORDS = {
    "عالی": 5,
    "خیلیخوب": 5,
    "خوب": 4,
    "متوسط": 3,
    "بد": 2,
    "خیلیبد": 1,
    "excellent": 5,
    "verygood": 5,
    "good": 4,
    "ok": 3,
    "okay": 3,
    "bad": 2,
    "verybad": 1,
}
# Words people put before a tracking code: «پیگیری ۱۲۳…», «کد پیگیری: …», "status …".
TRACKING_PREFIXES = frozenset({"پیگیری", "کد", "وضعیت", "شماره", "status", "track", "tracking", "code"})
# Words people put before a survey answer: «امتیاز ۵», "rating 4".
RATING_PREFIXES = frozenset({"امتیاز", "نمره", "نظر", "rating", "score", "rate"})

# Anything that is not a letter or a digit (punctuation, symbols, dashes, emoji) separates words.
_NOT_WORD = re.compile(r"[\W_]+")
_TEN_DIGITS = re.compile(r"[0-9]{10}")
# Where a run of digits meets letters («کد۱۲۳۴…»): a word boundary too.
_DIGITS_MEET_LETTERS = re.compile(r"(?<=[0-9])(?=[^0-9\s])|(?<=[^0-9\s])(?=[0-9])")


@dataclass(frozen=True)
class Command:
    """The meaning of one SMS: its kind, plus the tracking code or the rating it carries."""

    kind: Kind
    tracking_code: str | None = None
    rating: int | None = None


def words(text: str) -> list[str]:
    """The SMS as matching keys: folded (one script, lower case, no marks), split on non-letters."""
    return _DIGITS_MEET_LETTERS.sub(" ", _NOT_WORD.sub(" ", fold(text))).split()


def _without(prefixes: frozenset[str], tokens: list[str]) -> list[str]:
    rest = list(tokens)
    while rest and rest[0] in prefixes:
        rest.pop(0)
    return rest


def tracking_code(tokens: list[str]) -> str | None:
    """The tracking code in ``tokens`` (after optional prefix words), if it has a valid check digit."""
    digits = "".join(_without(TRACKING_PREFIXES, tokens))
    if _TEN_DIGITS.fullmatch(digits) and tracking.is_valid(digits):
        return digits
    return None


def rating(tokens: list[str]) -> int | None:
    """The survey answer 1–5 the tokens spell, as a digit or as a word, or None."""
    key = "".join(_without(RATING_PREFIXES, tokens))
    if len(key) == 1 and key in "12345":
        return int(key)
    return RATING_WORDS.get(key)


def is_complaint_text(text: str) -> bool:
    """Long enough, and made of words (not just digits or symbols), to be filed as a complaint."""
    clean = normalize(text)
    return len(clean) >= MIN_COMPLAINT_CHARS and any(ch.isalpha() for ch in clean)


def classify(text: str) -> Command:
    """What ``text`` asks for. A rating still needs a resolved complaint to apply to (the handler checks)."""
    tokens = words(text)
    key = "".join(tokens)
    if key in OPT_OUT:
        return Command("opt-out")
    if key in OPT_IN:
        return Command("opt-in")
    if key in REOPEN:
        return Command("reopen")
    code = tracking_code(tokens)
    if code is not None:
        return Command("status", tracking_code=code)
    score = rating(tokens)
    if score is not None:
        return Command("rating", rating=score)
    if "".join(_without(TRACKING_PREFIXES, tokens)).isdigit():
        # Only digits (a mistyped tracking code, a phone number): nothing a department could act on.
        return Command("ignored")
    if is_complaint_text(text):
        return Command("complaint")
    return Command("ignored")
