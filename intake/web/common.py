"""What every page shares: templates, the language, rendering and the error page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from intake.bootstrap import Intake
from intake.errors import ERRORS
from intake.web.i18n import COOKIE, Lang, Words, pick_lang
from services import inbox, stats
from services.store import Store

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
# The templates are named *.html.j2, which jinja2.select_autoescape (Starlette's default) does not
# recognise: escape every value explicitly (charts.py hands over its SVG as Markup).
templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
)
templates.env.globals["static_version"] = "1"


_indexed: set[int] = set()


async def ensure_indexes_once(store: Store) -> None:
    """The indexes of the pages' own collections (statistics, inbox), once per process and store."""
    if id(store) not in _indexed:
        await stats.ensure_indexes(store)
        await inbox.ensure_indexes(store)
        _indexed.add(id(store))


def intake_of(request: Request) -> Intake:
    """intake's object graph."""
    intake: Intake = request.app.state.intake
    return intake


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render ``name`` in the request's language; remember a language chosen with ``?lang=``."""
    lang: Lang = pick_lang(request)
    t = Words(lang)
    response = templates.TemplateResponse(
        request,
        name,
        {"t": t, "lang": lang, "path": request.url.path, **(context or {})},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    if request.query_params.get("lang") in ("fa", "en"):
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def error_message(exc: Exception, lang: Lang) -> str:
    """The Persian or English message of a known error (intake/errors.py's table)."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            _, _, fa, en = ERRORS[cls]
            return fa if lang == "fa" else en
    return "خطای داخلی رخ داد." if lang == "fa" else "An internal error occurred."


def error_status(exc: Exception) -> int:
    """The HTTP status of a known error."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls][0]
    return 500


def error_page(request: Request, exc: Exception) -> HTMLResponse:
    """An HTML page for ``exc``, with the same status the JSON API would answer."""
    message = error_message(exc, pick_lang(request))
    return render(request, "error.html.j2", {"message": message}, status_code=error_status(exc))
