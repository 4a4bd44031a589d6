"""router.rules and router.emergency: a city's hard rules and the emergency detector, on folded text."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.emergency import EmergencyDetector
from router.model import default_eval_file, default_seed_file, read_jsonl
from router.rules import PhraseSet, Rules, phrase_pattern
from services.taxonomy import load_taxonomy
from services.text import fold

CATEGORIES = set(load_taxonomy().categories)


@pytest.fixture(scope="module")
def detector() -> EmergencyDetector:
    return EmergencyDetector.load()


def found(phrase: str, text: str) -> bool:
    return bool(phrase_pattern(phrase).search(fold(text)))


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("بوی گاز", "بوی گاز میاد"),
        ("بوی گاز", "بوي گاز ميآد"),  # Arabic ي
        ("بوی گاز", "بوی شدید گاز"),  # one word between
        ("بوی گاز", "بوی خیلی خیلی شدید گاز"),  # three words between
        ("بوی گاز", "بوی گازه"),  # colloquial ending
        ("دود", "دودها همه جا را گرفته"),
        ("gas leak", "GAS LEAKS everywhere"),
        ("آتش سوزی", "آتش‌سوزی در انبار"),  # ZWNJ in the text, a space in the phrase
        ("خیلی بد", "خیلیییی بد"),  # stretched letters
    ],
)
def test_phrase_matches_whole_words_after_fold(phrase: str, text: str) -> None:
    assert found(phrase, text)


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("دود", "در حدود ساعت ده"),  # inside another word
        ("ice", "police car"),
        ("بوی گاز", "گاز بوی"),  # order matters
        ("بوی گاز", "بوی یک دو سه چهار گاز"),  # four words between: too far apart
        ("fire", "firefighters were rude"),
    ],
)
def test_phrase_does_not_match_parts_of_words_or_scattered_words(phrase: str, text: str) -> None:
    assert not found(phrase, text)


def test_phrase_set_names_what_it_found() -> None:
    phrases = PhraseSet(["چاله", "آسفالت خراب", "pothole"])
    assert phrases.found_in(fold("آسفالت کوچه خراب شده و چاله داره")) == ["چاله", "آسفالت خراب"]
    assert phrases.found_in(fold("همه چیز خوب است")) == []


def test_empty_phrase_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one word"):
        phrase_pattern(" \u200c ")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_force_category_and_priority_first_match_wins(tmp_path: Path) -> None:
    rules = Rules.load(
        write(
            tmp_path,
            """
[[rule]]
name = "school"
phrases = ["مدرسه"]
priority = "high"

[[rule]]
name = "metro-vendors"
phrases = ["دستفروش مترو", "vendors metro"]
category = "encroachment"
priority = "low"

[[rule]]
name = "late-metro"
phrases = ["مترو"]
category = "transit"
""",
        ),
        categories=CATEGORIES,
    )
    school = rules.apply(fold("دستفروش‌ها جلوی مترو و مدرسه"))
    assert (school.category, school.priority, school.fired) == (
        "encroachment",
        "high",
        ("school", "metro-vendors"),
    )
    late = rules.apply(fold("مترو دیر اومد"))
    assert (late.category, late.priority, late.fired) == ("transit", None, ("late-metro",))
    nothing = rules.apply(fold("چراغ کوچه خاموش است"))
    assert (nothing.category, nothing.priority, nothing.fired) == (None, None, ())


def test_rules_naming_an_unknown_category_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\nname = "x"\nphrases = ["y"]\ncategory = "potholes"\n')
    with pytest.raises(ValueError, match="potholes"):
        Rules.load(path, categories=CATEGORIES)


def test_rules_file_with_a_bad_priority_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="priority"):
        Rules.load(write(tmp_path, '[[rule]]\nname = "x"\nphrases = ["y"]\npriority = "asap"\n'))


def test_shipped_example_rules_load_against_the_default_taxonomy() -> None:
    rules = Rules.load(categories=CATEGORIES)
    bribe = rules.apply(fold("کارمند شهرداری برای صدور مجوز رشوه خواست"))
    assert (bribe.category, bribe.priority) == ("staff", "high")


@pytest.mark.parametrize(
    ("text", "hazard"),
    [
        ("بوی گاز شدیدی توی راه‌پله پیچیده", "gas"),
        ("از صبح بوي گاز مياد، لطفا سريع بياييد", "gas"),
        ("There is a strong smell of gas near the school", "gas"),
        ("انبار ضایعات کنار خانه‌ها آتیش گرفته", "fire"),
        ("A car is on fire in the parking lot", "fire"),
        ("دیوار ساختمان قدیمی ترک برداشته و در حال ریزش است", "collapse"),
        ("the old wall is about to collapse onto the sidewalk", "collapse"),
        ("منهول وسط کوچه بازه، بچه‌ها ممکنه بیفتن توش", "open-manhole"),
        ("open manhole on Azadi street, no cover", "open-manhole"),
        ("سیم برق روی زمین افتاده و جرقه میزنه", "power-line"),
        ("a power line is down after the storm", "power-line"),
    ],
)
def test_emergency_detector_names_each_hazard(detector: EmergencyDetector, text: str, hazard: str) -> None:
    assert hazard in detector.hazards(fold(text))


@pytest.mark.parametrize(
    "text",
    [
        "چراغ‌های کوچه ما سه شب است خاموش است",
        "آسفالت خیابان چاله دارد",
        "the bus was 40 minutes late",
        "کارگاه بغل خونه تا نصف شب سروصدا داره",
        "در حدود ساعت ده شب زباله‌ها را جمع نکردند",
        "the firefighters were very kind, thank you",
    ],
)
def test_emergency_detector_stays_quiet_on_ordinary_complaints(
    detector: EmergencyDetector, text: str
) -> None:
    assert detector.hazards(fold(text)) == []


def test_emergency_detector_on_the_shipped_corpora(detector: EmergencyDetector) -> None:
    """Most emergency complaints are caught; few others raise a false alarm (figures in docs)."""
    examples = read_jsonl(default_seed_file()) + read_jsonl(default_eval_file())
    emergencies = [e for e in examples if e.label == "emergency"]
    others = [e for e in examples if e.label != "emergency"]
    caught = sum(bool(detector.hazards(fold(e.text))) for e in emergencies) / len(emergencies)
    false_alarms = sum(bool(detector.hazards(fold(e.text))) for e in others) / len(others)
    assert caught >= 0.6, caught
    assert false_alarms <= 0.03, false_alarms
