"""notifier.messages: the SMS texts citizens receive, in Persian (Persian digits, Jalali dates, Tehran
time) and English, each within its segment budget."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from importlib import resources

import jinja2
import pytest

from intake.tracking import new_code
from notifier.messages import CATALOG, LANGUAGES, format_date, format_datetime, render, sample
from notifier.policy import budget
from notifier.segments import segments
from notifier.settings import DEFAULT_CITIZEN_TEMPLATES, PolicySettings
from services.taxonomy import load_taxonomy
from services.text import to_persian_digits

TEMPLATES = sorted(
    (language, entry.name.removesuffix(".j2"))
    for language in ("fa", "en")
    for entry in resources.files("notifier").joinpath("templates", language).iterdir()
    if entry.name.endswith(".j2")
)
DEPARTMENTS = load_taxonomy().departments
LONGEST = {
    "fa": max((d.fa for d in DEPARTMENTS.values()), key=len),
    "en": max((d.en for d in DEPARTMENTS.values()), key=len),
}


def test_both_languages_have_the_same_templates_and_the_catalog_lists_them() -> None:
    assert set(LANGUAGES) == {"fa", "en"}
    by_language = {lang: {name for lg, name in TEMPLATES if lg == lang} for lang in LANGUAGES}
    assert by_language["fa"] == by_language["en"] == set(CATALOG)


def test_every_default_policy_template_exists() -> None:
    used = {name for names in DEFAULT_CITIZEN_TEMPLATES.values() for name in names}
    assert used <= set(CATALOG)
    assert set(PolicySettings().urgent_templates) <= set(CATALOG)


@pytest.mark.parametrize(("language", "template"), TEMPLATES)
def test_every_template_renders_with_its_sample(language: str, template: str) -> None:
    text = sample(template, language)
    assert text and text == text.strip()
    assert "{{" not in text and "}}" not in text and "{%" not in text
    if language == "fa":
        assert not any(ch.isascii() and ch.isdigit() for ch in text), text
    source = resources.files("notifier").joinpath("templates", language, f"{template}.j2").read_text()
    if "tracking_code" in source:
        code = CATALOG[template].sample_for(language)["tracking_code"]
        assert (to_persian_digits(code) if language == "fa" else code) in text


@pytest.mark.parametrize(("language", "template"), TEMPLATES)
def test_every_default_template_fits_its_segment_budget_even_with_the_longest_department(
    language: str, template: str
) -> None:
    context = CATALOG[template].sample_for(language)
    if "department" in context:
        context["department"] = LONGEST[language]
    text = render(template, language, **context)
    assert segments(text) <= budget(PolicySettings(), template), (template, language, segments(text), text)


def test_the_survey_question_fits_one_segment() -> None:
    assert CATALOG["survey"].budget == 1
    for language in LANGUAGES:
        assert segments(render("survey", language, tracking_code="9999999999")) == 1


def test_a_configured_budget_overrides_the_catalog() -> None:
    assert budget(PolicySettings(segment_budget={"resolved": 5}), "resolved") == 5
    assert budget(PolicySettings(), "resolved") == CATALOG["resolved"].budget


def test_persian_routed_message_reads_naturally_with_a_jalali_date() -> None:
    due = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)  # 00:30 on 7 Azar 1405 in Tehran
    text = render("routed", "fa", tracking_code="1234567897", department="سازمان مدیریت پسماند", due_at=due)
    assert text == (
        "پاسخ: درخواست شما با کد پیگیری ۱۲۳۴۵۶۷۸۹۷ به «سازمان مدیریت پسماند» ارجاع شد. "
        "زمان پیش‌بینی‌شده برای رسیدگی: ۱۴۰۵/۰۹/۰۷."
    )


def test_dates_and_times_are_shown_in_tehran() -> None:
    at = datetime(2026, 3, 20, 20, 45, tzinfo=UTC)  # 00:15 on 1 Farvardin 1405 (Nowruz) in Tehran
    assert format_date(at, "fa") == "۱۴۰۵/۰۱/۰۱"
    assert format_datetime(at, "fa") == "۱۴۰۵/۰۱/۰۱ ساعت ۰۰:۱۵"
    assert format_datetime(at, "en") == "21 Mar 2026 00:15"


def test_long_staff_notes_are_cut_not_sent_in_full() -> None:
    note = "کار انجام شد " * 200
    text = render("resolved", "fa", tracking_code=new_code(), note=note)
    assert text.endswith("…") and len(text) < 200


@pytest.mark.parametrize(("language", "template"), TEMPLATES)
def test_a_missing_variable_raises_instead_of_sending_a_gap(language: str, template: str) -> None:
    context = CATALOG[template].sample_for(language)
    if template in ("opted_in", "opted_out"):
        return_text = render(template, language, **context)
        assert return_text  # these need no variable at all
        return
    with pytest.raises(jinja2.UndefinedError):
        render(template, language)


@pytest.mark.parametrize("language", ["de", "ar", "", "FA", "tr"])
def test_unknown_language_falls_back_to_persian(language: str) -> None:
    context = CATALOG["routed"].sample_for("fa")
    context["department"] = random.choice(list(DEPARTMENTS.values())).fa
    assert render("routed", language, **context) == render("routed", "fa", **context)


def test_unknown_template_raises() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("no-such-template", "fa", tracking_code=new_code(), department="x")
