"""router.classifier: citizens' own words, colloquial Persian included, land in the right category."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from router.classifier import KeywordClassifier
from services.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def classifier(taxonomy: Taxonomy) -> KeywordClassifier:
    return KeywordClassifier(taxonomy)


# Two complaints per category as citizens write them: colloquial, some typed on an Arabic keyboard
# (ي/ك), some with Persian digits, ZWNJ or not.
COMPLAINTS = [
    ("roads", "سر کوچه ما یه چاله بزرگ هست که ماشینا توش می‌افتن"),
    ("roads", "آسفالت خيابان بعد از لوله‌کشی خراب شده و كسي درستش نكرده"),
    ("waste", "سه روزه زباله‌های کوچه رو کسی جمع نکرده و بوش همه‌جا رو گرفته"),
    ("waste", "سطل آشغال سر خیابون پر شده و ریخته بیرون"),
    ("green", "درخت‌های پارک محله خشک شدن، انگار کسی آبیاری نمی‌کنه"),
    ("green", "شاخه یه درخت بزرگ شکسته و افتاده روی پیاده‌رو"),
    ("lighting", "چراغ‌های کوچه ما سه شبه خاموشه و همه‌جا تاریکه"),
    ("lighting", "لامپ تير برق جلوي خونه‌ي ما سوخته"),
    ("traffic", "چراغ راهنمایی چهارراه ولیعصر از دیروز کار نمی‌کنه"),
    ("traffic", "یه سرعت‌گیر جلوی مدرسه لازمه، ماشینا خیلی تند میرن"),
    ("transit", "اتوبوس خط ۱۲۵ امروز صبح ۴۰ دقیقه دیر اومد"),
    ("transit", "راننده تاکسی کرایه رو دو برابر حساب کرد"),
    ("drainage", "با بارون دیشب کل کوچه آبگرفتگی داره و جوی‌ها گرفته"),
    ("drainage", "فاضلاب زده بیرون و آب جمع شده توی خیابون"),
    ("construction", "همسایه بدون مجوز داره طبقه اضافه می‌سازه"),
    ("construction", "گودبرداری ساختمون بغلی خیلی خطرناکه و دیوار ما ترک برداشته"),
    ("encroachment", "دستفروش‌ها جلوی ورودی ایستگاه بساط پهن کردن و نمیشه رد شد"),
    ("encroachment", "مغازه دار سر کوچه اجناسش رو چیده توی پیاده و سد معبر کرده"),
    ("appearance", "روی دیوارهای مدرسه دیوارنویسی کردن"),
    ("appearance", "نیمکت‌های پارک شکسته و کثیفه، مبلمان شهری محله داغونه"),
    ("animals", "چند تا سگ ولگرد توی محله به بچه‌ها حمله می‌کنن"),
    ("animals", "لاشه یه گربه دو روزه وسط کوچه افتاده"),
    ("environment", "کارگاه بغل خونه تا نصف شب سروصدا داره"),
    ("environment", "دود کوره آجرپزی کل محله رو برداشته"),
    ("snow", "برف کوچه رو هنوز کسی برفروبی نکرده"),
    ("snow", "خیابون‌های محله پر از برف و یخه و هنوز نمک پاشی نشده"),
    ("emergency", "توی راه‌پله ساختمون بوی گاز شدید میاد"),
    ("emergency", "منهول وسط کوچه بازه و یه بچه نزدیک بود بیفته توش"),
    ("staff", "مامور شهرداری با من خیلی بی‌احترامی کرد"),
    ("staff", "کارمند دفتر منطقه ۵ برای کار ما رشوه خواست"),
    ("appreciation", "از رفتگر محله‌مون که همیشه زحمت می‌کشه تشکر می‌کنم"),
    ("appreciation", "خیلی ممنون از رسیدگی سریع‌تون به درخواستم"),
    ("lighting", "The street light in front of number 12 is out"),
    ("waste", "Nobody has emptied the trash bin on our street for a week"),
]


def test_every_category_has_examples() -> None:
    covered = {category for category, _ in COMPLAINTS}
    assert covered == set(load_taxonomy().categories) - {"other"}


@pytest.mark.parametrize(
    ("expected", "text"), COMPLAINTS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(COMPLAINTS)]
)
def test_complaint_lands_in_its_category(classifier: KeywordClassifier, expected: str, text: str) -> None:
    result = classifier.classify(text)
    assert result.category == expected, classifier.scores(text)
    assert 0.0 < result.confidence <= 1.0
    assert result.classifier == "keywords-v1"


@pytest.mark.parametrize(
    ("expected", "text"),
    [
        pytest.param(
            "waste", "حدود یک هفته است که زباله‌های کوچه ما را جمع نکرده‌اند", id="hodud-contains-dood(smoke)"
        ),
        pytest.param("traffic", "تابلوی ایست سر کوچه افتاده", id="tablo(sign)-contains-tab(swing)"),
        pytest.param(
            "waste", "Nobody has collected the garbage near the police station", id="police-contains-ice"
        ),
    ],
)
def test_a_keyword_inside_a_longer_word_does_not_decide(
    classifier: KeywordClassifier, expected: str, text: str
) -> None:
    assert classifier.classify(text).category == expected, classifier.scores(text)


def test_unambiguous_text_gets_full_confidence(classifier: KeywordClassifier) -> None:
    result = classifier.classify("بوی گاز میاد")
    assert (result.category, result.confidence) == ("emergency", 1.0)


def test_mixed_text_gets_partial_confidence(classifier: KeywordClassifier) -> None:
    # words of two categories: the confidence must say the classifier is not sure
    result = classifier.classify("کنار کیسه زباله بوی گاز میاد و سطل پر شده")
    assert 0.0 < result.confidence < 1.0


def test_spelling_variants_score_the_same(classifier: KeywordClassifier) -> None:
    persian = classifier.classify("چراغ کوچه ما خاموش است")
    arabic_keyboard = classifier.classify("چراغ كوچه ما خاموش است")
    with_marks = classifier.classify("چراغِ کوچهٔ ما خاموش است")
    assert persian == arabic_keyboard == with_marks
    assert persian.category == "lighting"


@pytest.mark.parametrize("hint", ["lighting", "animals", "appreciation"])
def test_hint_decides_when_no_keyword_matches(classifier: KeywordClassifier, hint: str) -> None:
    result = classifier.classify("لطفا هر چه زودتر رسیدگی کنید", hint=hint)
    assert result.category == hint
    assert result.confidence == 1.0


def test_hint_does_not_override_clear_words(classifier: KeywordClassifier) -> None:
    result = classifier.classify("سگ ولگرد توی کوچه به بچه‌ها حمله می‌کنه", hint="waste")
    assert result.category == "animals"


@pytest.mark.parametrize("hint", [None, "no-such-category", ""])
def test_no_match_and_no_usable_hint_falls_back_with_zero_confidence(
    classifier: KeywordClassifier, taxonomy: Taxonomy, hint: str | None
) -> None:
    result = classifier.classify("سلام، لطفا پیگیری کنید", hint=hint)
    assert result.category == taxonomy.fallback_category == "other"
    assert result.confidence == 0.0


@pytest.mark.parametrize("text", ["", "   ", "۱۲۳۴", "؟؟؟"])
def test_empty_or_meaningless_text_falls_back(classifier: KeywordClassifier, text: str) -> None:
    assert classifier.classify(text).category == "other"


def test_classifier_uses_the_citys_own_taxonomy(tmp_path: Path) -> None:
    code = f"potholes-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "city.toml"
    path.write_text(
        f"""
triage_department = "desk"
fallback_category = "misc"
[departments.desk]
fa = "میز"
en = "Desk"
[categories.{code}]
fa = "چاله"
en = "Potholes"
department = "desk"
sla_hours = 5
keywords = ["چاله"]
[categories.misc]
fa = "سایر"
en = "Other"
department = "desk"
sla_hours = 5
""",
        encoding="utf-8",
    )
    city = KeywordClassifier(load_taxonomy(path))
    assert city.classify("یه چاله بزرگ وسط کوچه هست").category == code
    assert city.classify("زباله‌ها جمع نشده").category == "misc"
