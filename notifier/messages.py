"""SMS texts from Jinja2 templates, one file per (language, template).

Persian texts get Persian digits and Jalali dates, every time is shown in the city's time zone
(Asia/Tehran unless configured). :data:`CATALOG` lists every template with its segment budget and
sample data, which ``pasokh sms preview`` and the tests render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import jdatetime
from jinja2 import Environment, PackageLoader, StrictUndefined

from services.text import to_persian_digits

LANGUAGES = ("fa", "en")
DEFAULT_TIMEZONE = "Asia/Tehran"

# The public status of a complaint in words the citizen reads (the status request's answer).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "received": ("ثبت شده", "received"),
    "routed": ("ارجاع شده", "sent to the department"),
    "triage": ("در حال بررسی", "being reviewed"),
    "acknowledged": ("در دست اقدام", "being worked on"),
    "resolved": ("انجام شده", "resolved"),
    "rejected": ("رد شده", "rejected"),
    "reopened": ("دوباره باز شده", "reopened"),
    "duplicate": ("تکراری", "duplicate"),
}


def status_label(status: str, language: str) -> str:
    """``status`` in words of ``language``."""
    fa, en = STATUS_LABELS.get(status, (status, status))
    return en if language == "en" else fa


def _local(at: datetime, timezone: str) -> datetime:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone))


def format_date(at: datetime, language: str, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The day of ``at`` in the city: Jalali with Persian digits (۱۴۰۵/۰۹/۰۵), or 26 Nov 2026."""
    local = _local(at, timezone)
    if language == "en":
        return f"{local.day} {local:%b %Y}"
    return to_persian_digits(jdatetime.date.fromgregorian(date=local.date()).strftime("%Y/%m/%d"))


def format_datetime(at: datetime, language: str, timezone: str = DEFAULT_TIMEZONE) -> str:
    """Day and time of ``at`` in the city: ``۱۴۰۵/۰۹/۰۵ ساعت ۱۳:۳۰`` or ``26 Nov 2026 13:30``."""
    local = _local(at, timezone)
    clock = f"{local:%H:%M}"
    if language == "en":
        return f"{format_date(at, language, timezone)} {clock}"
    return f"{format_date(at, language, timezone)} ساعت {to_persian_digits(clock)}"


@cache
def _environment(language: str, timezone: str) -> Environment:
    env = Environment(
        loader=PackageLoader("notifier", f"templates/{language}"),
        autoescape=False,  # plain-text SMS, never HTML
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["digits"] = to_persian_digits if language == "fa" else str
    env.filters["date"] = lambda at: format_date(at, language, timezone)
    env.filters["datetime"] = lambda at: format_datetime(at, language, timezone)
    env.filters["status"] = lambda status: status_label(status, language)
    return env


def render(template: str, language: str, *, timezone: str = DEFAULT_TIMEZONE, **context: object) -> str:
    """The text of ``template`` in ``language`` (Persian when the language has no templates)."""
    lang = language if language in LANGUAGES else "fa"
    return _environment(lang, timezone).get_template(f"{template}.j2").render(**context).strip()


_SAMPLE_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
_SAMPLE_DEPARTMENT = ("معاونت خدمات شهری (روشنایی)", "Urban services (street lighting)")


@dataclass(frozen=True)
class Template:
    """One SMS template: at most ``budget`` segments, and sample data (per language) to render it."""

    budget: int
    sample: dict[str, Any] = field(default_factory=dict)

    def sample_for(self, language: str) -> dict[str, Any]:
        """The sample context with the department named in ``language``."""
        context = {"tracking_code": "1405123457", **self.sample}
        if "department" in context:
            context["department"] = _SAMPLE_DEPARTMENT[1 if language == "en" else 0]
        return context


# Long free texts (staff notes, reasons) are cut in the templates so that the budget holds.
_LONG_NOTE = "لامپ‌های کوچه تعویض و مدار روشنایی تعمیر شد. " * 20
CATALOG: dict[str, Template] = {
    "received": Template(2),
    "routed": Template(3, {"department": "", "due_at": _SAMPLE_AT}),
    "triage": Template(2),
    "duplicate": Template(2, {"primary_tracking_code": "1405123465"}),
    "acknowledged": Template(2, {"department": ""}),
    "resolved": Template(3, {"note": _LONG_NOTE}),
    "rejected": Template(3, {"reason": _LONG_NOTE}),
    "reopened": Template(2, {"department": ""}),
    "status": Template(3, {"status": "acknowledged", "department": "", "at": _SAMPLE_AT}),
    "status_unknown": Template(1),
    "opted_out": Template(2),
    "opted_in": Template(1),
    "survey": Template(1),
    "reopen_offer": Template(2),
}


def sample(template: str, language: str, *, timezone: str = DEFAULT_TIMEZONE) -> str:
    """``template`` rendered with its sample data."""
    return render(template, language, timezone=timezone, **CATALOG[template].sample_for(language))
