"""services.taxonomy: the city's categories and departments (DESIGN.md table) and cities' own files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.taxonomy import Taxonomy, load_taxonomy
from services.text import fold

# DESIGN.md "Categories and default departments": code → (Persian name, Persian department name)
DESIGN_TABLE = {
    "roads": ("معابر، آسفالت و پیاده‌رو", "معاونت فنی و عمرانی"),
    "waste": ("پسماند و نظافت شهری", "سازمان مدیریت پسماند"),
    "green": ("فضای سبز، پارک و درختان", "سازمان سیما، منظر و فضای سبز"),
    "lighting": ("روشنایی معابر و پارک‌ها", "معاونت خدمات شهری (روشنایی)"),
    "traffic": ("ترافیک، علائم و پارک", "سازمان حمل‌ونقل و ترافیک"),
    "transit": ("حمل‌ونقل عمومی", "سازمان اتوبوسرانی / تاکسیرانی"),
    "drainage": ("آب‌های سطحی و آبگرفتگی", "معاونت خدمات شهری"),
    "construction": ("ساخت‌وساز و شهرسازی", "معاونت شهرسازی و معماری"),
    "encroachment": ("سد معبر و دستفروشی", "اداره اجراییات"),
    "appearance": ("سیما و منظر شهری", "سازمان سیما، منظر و فضای سبز"),
    "animals": ("حیوانات", "معاونت خدمات شهری"),
    "environment": ("محیط زیست و آلودگی", "اداره سلامت و محیط زیست"),
    "snow": ("برف‌روبی و یخ‌زدگی", "ستاد مدیریت بحران"),
    "emergency": ("ایمنی و آتش‌نشانی", "سازمان آتش‌نشانی و خدمات ایمنی"),
    "staff": ("رفتار کارکنان و تخلفات", "بازرسی و پاسخگویی به شکایات"),
    "appreciation": ("قدردانی", "روابط عمومی"),
    "other": ("سایر", "میز پاسخگویی"),  # the table adds "(triage)" as an explanation
}


@pytest.fixture(scope="module")
def default() -> Taxonomy:
    return load_taxonomy()


def test_every_category_of_the_design_is_built_in(default: Taxonomy) -> None:
    assert set(default.categories) == set(DESIGN_TABLE)


@pytest.mark.parametrize("code", DESIGN_TABLE)
def test_category_has_the_design_names_and_department(default: Taxonomy, code: str) -> None:
    fa, department_fa = DESIGN_TABLE[code]
    category = default.category(code)
    assert category.code == code
    assert category.fa == fa
    assert category.en.strip()
    assert default.department(category.department).fa == department_fa


def test_every_category_names_an_existing_department(default: Taxonomy) -> None:
    for category in default.categories.values():
        assert category.department in default.departments, category.code
        assert category.sla_hours >= 1
    assert default.triage_department in default.departments
    assert default.category(default.fallback_category).department == default.triage_department


def test_every_department_has_names_in_both_languages(default: Taxonomy) -> None:
    for code, department in default.departments.items():
        assert department.code == code
        assert department.fa.strip() and department.en.strip()


def test_emergencies_are_urgent_and_fast(default: Taxonomy) -> None:
    emergency = default.category("emergency")
    assert emergency.priority == "urgent"
    assert emergency.sla_hours == min(c.sla_hours for c in default.categories.values())


def test_keywords_are_folded(default: Taxonomy) -> None:
    for category in default.categories.values():
        for keyword in category.keywords:
            assert keyword == fold(keyword), (category.code, keyword)
            assert keyword, category.code
    # a keyword written with ZWNJ in the file is stored the way fold() writes citizen text
    assert "پیاده رو" in default.category("roads").keywords


def test_every_category_but_the_fallback_has_keywords(default: Taxonomy) -> None:
    for category in default.categories.values():
        if category.code != default.fallback_category:
            assert category.keywords, category.code


def test_unknown_codes_raise_key_error(default: Taxonomy) -> None:
    with pytest.raises(KeyError):
        default.category("no-such-category")
    with pytest.raises(KeyError):
        default.department("no-such-department")


CITY_TOML = """
triage_department = "desk"
fallback_category = "misc"

[departments.desk]
fa = "میز رسیدگی"
en = "Desk"

[departments.{dept}]
fa = "اداره راه"
en = "Roads office"

[categories.{cat}]
fa = "چاله‌ها"
en = "Potholes"
department = "{dept}"
sla_hours = 10
priority = "high"
keywords = ["چالهٔ بزرگ", "دست‌انداز", "كوچه خراب", "Pothole"]

[categories.misc]
fa = "سایر"
en = "Other"
department = "desk"
sla_hours = 48
"""


def test_a_city_file_replaces_the_default(tmp_path: Path) -> None:
    dept, cat = f"d-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "city.toml"
    path.write_text(CITY_TOML.format(dept=dept, cat=cat), encoding="utf-8")

    city = load_taxonomy(path)

    assert set(city.categories) == {cat, "misc"}
    assert set(city.departments) == {"desk", dept}
    assert city.triage_department == "desk" and city.fallback_category == "misc"
    potholes = city.category(cat)
    assert (potholes.department, potholes.sla_hours, potholes.priority) == (dept, 10, "high")
    assert city.category("misc").priority == "normal"
    assert city.category("misc").keywords == ()
    # folded: diacritics, Arabic kaf, ZWNJ and case are gone
    assert potholes.keywords == ("چاله بزرگ", "دست انداز", "کوچه خراب", "pothole")


def test_a_city_file_naming_an_unknown_department_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    text = CITY_TOML.format(dept="roads-office", cat="potholes").replace(
        'department = "roads-office"', 'department = "road-ofice"'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert "potholes" in message and "road-ofice" in message


def test_a_city_file_with_an_undefined_triage_department_fails(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(
        CITY_TOML.format(dept="roads-office", cat="potholes").replace(
            'triage_department = "desk"', 'triage_department = "front-desk"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="front-desk"):
        load_taxonomy(path)


def test_a_city_file_with_an_undefined_fallback_category_fails(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(
        CITY_TOML.format(dept="roads-office", cat="potholes").replace(
            'fallback_category = "misc"', 'fallback_category = "other"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="other"):
        load_taxonomy(path)


def test_a_city_file_with_a_zero_sla_fails(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(
        CITY_TOML.format(dept="roads-office", cat="potholes").replace("sla_hours = 10", "sla_hours = 0"),
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="sla_hours"):
        load_taxonomy(path)
