"""In a real browser (headless Chromium, JavaScript off): a citizen submits and follows a complaint; an
operator triages it; the department resolves it; the citizen answers the survey; the transparency page
and its open data show the change. Screenshots of every page are kept (see conftest.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import pasokh
from tests.support.system import PasokhUp

LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"
VAGUE = "سلام، لطفاً کسی به کوچه ما سر بزند"
PASSWORD = "a-long-test-password"


def until(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise AssertionError("condition not met in time")


def reload_until(page: Page, selector: str, text: str, timeout: float = 30.0) -> None:
    """Reload (no JavaScript: nothing refreshes by itself) until ``selector`` shows ``text``."""

    def shown() -> bool:
        page.reload()
        return text in (page.locator(selector).first.text_content() or "")

    until(shown, timeout)


@pytest.fixture(scope="module")
def accounts(system: PasokhUp) -> dict[str, str]:
    for username, role, extra in (
        ("operator1", "operator", []),
        ("lighting1", "department", ["--department", "lighting"]),
    ):
        out = pasokh(
            system,
            "users",
            "create",
            username,
            "--name",
            f"{role} one",
            "--role",
            role,
            *extra,
            stdin=f"{PASSWORD}\n{PASSWORD}\n",
        )
        assert f"created {username}" in out
    return {"operator": "operator1", "department": "lighting1"}


def submit(page: Page, system: PasokhUp, text: str) -> str:
    """Fill the form with the keyboard and send it; the tracking code shown."""
    page.goto(system.url("intake") + "/")
    page.get_by_label("شرح مشکل").fill(text)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "district"
    page.locator("#district").select_option("3")
    page.get_by_label("نشانی").fill("خیابان بهار، کوچه ۵")
    page.get_by_role("button", name="ثبت شکایت").focus()
    page.keyboard.press("Enter")
    code = page.get_by_test_id("tracking-code").text_content() or ""
    assert re.fullmatch(r"\d{6,}", code), code
    return code


def login(page: Page, system: PasokhUp, username: str, shots: Path | None = None) -> None:
    page.goto(system.url("intake") + "/console")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label("نام کاربری").fill(username)
    page.get_by_label("گذرواژه").fill(PASSWORD)
    if shots:
        page.screenshot(path=shots / "05-console-login.png", full_page=True)
    page.get_by_role("button", name="ورود").click()


def test_citizen_submits_without_javascript_and_reads_the_status(
    page: Page, system: PasokhUp, screenshots: Path
) -> None:
    printed = system.output()
    for path in ("/  (submit", "/console", "/transparency"):
        assert system.url("intake") + path in printed, "pasokh up prints the pages' URLs"
    page.goto(system.url("intake") + "/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("svg.pinmap")).to_be_hidden()  # the map needs JavaScript; the fields do not
    page.screenshot(path=screenshots / "01-submit.png", full_page=True)

    page.get_by_role("button", name="ثبت شکایت").click()  # nothing filled in
    expect(page.locator("#text-error")).to_contain_text("شرح مشکل را بنویسید")
    expect(page.get_by_label("شرح مشکل")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("شرح مشکل").fill(LIGHTS)
    page.get_by_role("button", name="ثبت شکایت").click()  # still no place
    expect(page.locator("#district-error")).to_contain_text("مکان")
    page.screenshot(path=screenshots / "02-submit-errors.png", full_page=True)

    code = submit(page, system, LIGHTS)
    page.screenshot(path=screenshots / "03-tracking-code.png", full_page=True)
    reload_until(page, "[data-testid=status]", "ارجاع به واحد مسئول")
    expect(page.locator(".timeline li")).to_have_count(2)
    page.screenshot(path=screenshots / "04-status.png", full_page=True)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.get_by_test_id("status")).to_have_text("routed to the department")
    page.goto(system.url("intake") + f"/track?code={code}")
    expect(page.get_by_test_id("status")).to_have_text("routed to the department")  # the choice is kept
    page.goto(system.url("intake") + "/track/0000000000?lang=fa")
    expect(page.get_by_role("alert")).to_contain_text("پیدا نشد")


def test_operator_triages_department_resolves_citizen_rates_and_transparency_shows_it(
    page: Page, browser: Browser, system: PasokhUp, accounts: dict[str, str], screenshots: Path
) -> None:
    intake = system.url("intake")
    before = httpx.get(f"{intake}/open-data/stats.json").json()["total"]
    code = submit(page, system, VAGUE)
    reload_until(page, "[data-testid=status]", "در حال بررسی و ارجاع")
    status_url = page.url.split("?")[0]

    staff = page.context.browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )  # type: ignore[union-attr]
    console = staff.new_page()
    login(console, system, accounts["operator"], screenshots)
    expect(console).to_have_url(re.compile(r"/console/triage$"))
    card = console.locator("article.card", has_text=code)
    expect(card).to_be_visible()
    console.screenshot(path=screenshots / "06-console-triage.png", full_page=True)
    card.get_by_label("موضوع").select_option("lighting")
    card.get_by_role("button", name="ارجاع").click()
    expect(console.get_by_role("status")).to_contain_text("اقدام ثبت شد")
    console.get_by_role("button", name="خروج").click()
    expect(console).to_have_url(re.compile(r"/console/login$"))

    login(console, system, accounts["department"])
    expect(console).to_have_url(re.compile(r"/console/inbox$"))
    reload_until(console, "table.list", code)
    console.screenshot(path=screenshots / "07-console-inbox.png", full_page=True)
    console.get_by_role("link", name=code).click()
    expect(console.locator("h1")).to_contain_text(code)
    console.get_by_label("یادداشت برای شهروند").first.fill("تیم روشنایی اعزام شد")
    console.get_by_role("button", name="پذیرش").click()
    expect(console.get_by_role("status")).to_contain_text("اقدام ثبت شد")
    reload_until(console, "h1", "در دست اقدام")
    console.screenshot(path=screenshots / "08-console-detail.png", full_page=True)
    console.locator("#resolve-note").fill("لامپ‌ها تعویض شد")
    console.get_by_role("button", name="اعلام رسیدگی").click()
    expect(console.get_by_role("status")).to_contain_text("اقدام ثبت شد")
    staff.close()

    page.goto(status_url)
    reload_until(page, "[data-testid=status]", "رسیدگی شد")
    expect(page.locator(".timeline")).to_contain_text("لامپ‌ها تعویض شد")
    page.screenshot(path=screenshots / "09-status-survey.png", full_page=True)
    page.get_by_label(re.compile("۵")).check()
    page.get_by_role("button", name="ثبت نظر").click()
    expect(page.locator("#survey")).to_contain_text("سپاسگزاریم")

    def counted() -> dict[str, Any] | None:
        total: dict[str, Any] = httpx.get(f"{intake}/open-data/stats.json").json()["total"]
        return (
            total if total["resolved"] > before["resolved"] and total["ratings"] > before["ratings"] else None
        )

    after = until(counted)
    assert after["submitted"] >= before["submitted"] + 1
    assert after["median_hours_to_resolve"] is not None and after["resolved_within_sla"] is not None
    page.goto(f"{intake}/transparency")
    expect(page.get_by_test_id("total-resolved")).to_have_text(_fa(after["resolved"]))
    expect(page.get_by_test_id("by-category")).to_contain_text("روشنایی")
    page.screenshot(path=screenshots / "10-transparency.png", full_page=True)
    csv = httpx.get(f"{intake}/open-data/stats.csv").text.splitlines()
    assert csv[0].startswith("group,key,submitted,resolved") and csv[1].startswith(
        f"total,,{after['submitted']},"
    )


def _fa(number: int) -> str:
    return f"{number:,}".replace(",", "٬").translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def test_with_javascript_a_click_on_the_map_sets_the_place(
    browser: Browser, system: PasokhUp, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fa-IR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(system.url("intake") + "/")
    page.get_by_label("شرح مشکل").fill(LIGHTS)
    pinmap = page.locator("svg.pinmap")
    expect(pinmap).to_be_visible()  # hidden without JavaScript, shown by static/pin.js
    pinmap.click()  # its middle, scrolled into view
    assert errors == []
    lat, lon = float(page.locator("#lat").input_value()), float(page.locator("#lon").input_value())
    assert 35.7 < lat < 36.0 and 50.8 < lon < 51.2, (lat, lon)  # inside Karaj
    page.screenshot(path=screenshots / "11-submit-map-pin.png", full_page=True)
    page.get_by_role("button", name="ثبت شکایت").click()
    code = page.get_by_test_id("tracking-code").text_content() or ""
    assert re.fullmatch(r"\d{6,}", code), code
    context.close()
