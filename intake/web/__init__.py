"""The web pages intake serves: the citizen's form and status page, the staff console, transparency.

Server-rendered (Jinja2), Persian first with an English switch, usable without JavaScript; the Persian
font (Vazirmatn, OFL) ships in ``static/fonts``. See docs/web.md.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from intake.web import citizen, console, transparency
from intake.web.common import STATIC_DIR

router = APIRouter()
router.include_router(citizen.router)
router.include_router(console.router)
router.include_router(transparency.router)


def mount_static(app: FastAPI) -> None:
    """Serve the pages' CSS and fonts under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
