"""notifier.messages: the SMS texts citizens receive, in Persian (with Persian digits) and English."""

from __future__ import annotations

import random
from importlib import resources

import jinja2
import pytest

from intake.tracking import new_code
from notifier.messages import LANGUAGES, render
from services.text import to_persian_digits

TEMPLATES = sorted(
    (language, entry.name.removesuffix(".j2"))
    for language in ("fa", "en")
    for entry in resources.files("notifier").joinpath("templates", language).iterdir()
    if entry.name.endswith(".j2")
)
DEPARTMENTS = ["سازمان مدیریت پسماند", "معاونت خدمات شهری (روشنایی)", "سازمان آتش‌نشانی و خدمات ایمنی"]


def test_both_languages_have_the_same_templates() -> None:
    assert set(LANGUAGES) == {"fa", "en"}
    by_language = {lang: {name for lg, name in TEMPLATES if lg == lang} for lang in LANGUAGES}
    assert by_language["fa"] == by_language["en"]
    assert {"routed", "triage"} <= by_language["fa"]


@pytest.mark.parametrize(("language", "template"), TEMPLATES)
def test_every_template_renders(language: str, template: str) -> None:
    code = new_code()
    department = random.choice(DEPARTMENTS)
    text = render(template, language, tracking_code=code, department=department)
    assert text and text == text.strip()
    assert "{{" not in text and "}}" not in text and "{%" not in text
    if language == "fa":
        assert to_persian_digits(code) in text
        assert not any(ch.isascii() and ch.isdigit() for ch in text), text
    else:
        assert code in text


@pytest.mark.parametrize("language", ["fa", "en"])
def test_routed_message_names_the_department(language: str) -> None:
    department = random.choice(DEPARTMENTS)
    text = render("routed", language, tracking_code=new_code(), department=department)
    assert department in text


def test_persian_routed_message_reads_naturally() -> None:
    text = render("routed", "fa", tracking_code="1234567897", department="سازمان مدیریت پسماند")
    assert text == "پاسخ: درخواست شما با کد پیگیری ۱۲۳۴۵۶۷۸۹۷ به «سازمان مدیریت پسماند» ارجاع شد."


@pytest.mark.parametrize(("language", "template"), TEMPLATES)
def test_a_missing_variable_raises_instead_of_sending_a_gap(language: str, template: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(template, language)


@pytest.mark.parametrize("language", ["fa", "en"])
def test_routed_message_without_department_raises(language: str) -> None:
    with pytest.raises(jinja2.UndefinedError, match="department"):
        render("routed", language, tracking_code=new_code())


@pytest.mark.parametrize("language", ["de", "ar", "", "FA", "tr"])
def test_unknown_language_falls_back_to_persian(language: str) -> None:
    code = new_code()
    assert render("routed", language, tracking_code=code, department="روابط عمومی") == render(
        "routed", "fa", tracking_code=code, department="روابط عمومی"
    )


def test_unknown_template_raises() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("no-such-template", "fa", tracking_code=new_code(), department="x")
