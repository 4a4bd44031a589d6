"""SMS texts from Jinja2 templates, one file per (language, template), Persian digits in Persian."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from services.text import to_persian_digits

LANGUAGES = ("fa", "en")


@cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("notifier", f"templates/{language}"),
        autoescape=False,  # plain-text SMS, never HTML
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["digits"] = to_persian_digits if language == "fa" else str
    return env


def render(template: str, language: str, **context: object) -> str:
    """The text of ``template`` in ``language`` (Persian when the language has no templates)."""
    lang = language if language in LANGUAGES else "fa"
    return _environment(lang).get_template(f"{template}.j2").render(**context).strip()
