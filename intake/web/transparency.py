"""The public transparency page and its open data (JSON, CSV), read from the rollups of services/stats.py."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from intake.web.charts import bar_chart
from intake.web.common import ensure_indexes_once, intake_of, render
from intake.web.districts import district_map
from intake.web.i18n import Words, pick_lang
from services import stats

router = APIRouter(include_in_schema=False)
DIMENSION_ORDER = stats.DIMENSIONS


async def _summary(request: Request) -> stats.Summary:
    intake = intake_of(request)
    await ensure_indexes_once(intake.store)
    return await stats.summary(intake.store)


def _names(request: Request, lang: str) -> dict[str, dict[str, str]]:
    """Display names of every dimension's values."""
    taxonomy = intake_of(request).taxonomy
    return {
        "category": {c: getattr(v, lang) for c, v in taxonomy.categories.items()},
        "department": {c: getattr(v, lang) for c, v in taxonomy.departments.items()},
        "district": {c: getattr(v, lang) for c, v in district_map().districts.items()},
    }


def open_data(summary: stats.Summary) -> dict[str, Any]:
    """The public numbers as one JSON document."""
    return {
        "total": summary.total.public(),
        **{
            f"by_{dim}": [
                {dim: value, **figures.public()} for value, figures in sorted(summary.by[dim].items())
            ]
            for dim in DIMENSION_ORDER
        },
        "by_jalali_month": [{"month": p, **f.public()} for p, f in summary.months],
        "by_jalali_week": [{"week": p, **f.public()} for p, f in summary.weeks],
        "notes": {
            "percentiles": "from a histogram of times to resolve in geometric buckets (ratio 1.25): "
            "within 25 % of the exact value",
            "resolved_within_sla": "share of resolutions made by the complaint's due time",
            "satisfaction": "average survey answer, 1 (very bad) to 5 (excellent)",
        },
    }


@router.get("/transparency", response_class=HTMLResponse)
async def transparency(request: Request) -> HTMLResponse:
    """Counts, times to resolve, SLA share and satisfaction per category, department and district."""
    summary = await _summary(request)
    lang = pick_lang(request)
    t = Words(lang)
    names = _names(request, lang)
    tables = []
    for dim in DIMENSION_ORDER:
        rows = sorted(summary.by[dim].items(), key=lambda item: -item[1].submitted)
        tables.append(
            {
                "dim": dim,
                "rows": [(names[dim].get(value, value), figures) for value, figures in rows],
                "chart": bar_chart(
                    [(names[dim].get(value, value), figures.submitted) for value, figures in rows[:12]],
                    t=t,
                    title=t(f"t.by.{dim}"),
                ),
            }
        )
    months = bar_chart([(t.num(p), f.submitted) for p, f in summary.months], t=t, title=t("t.months"))
    weeks = bar_chart([(t.num(p), f.submitted) for p, f in summary.weeks], t=t, title=t("t.weeks"))
    return render(
        request,
        "transparency.html.j2",
        {"total": summary.total, "tables": tables, "months_chart": months, "weeks_chart": weeks},
    )


@router.get("/open-data/stats.json")
async def stats_json(request: Request) -> JSONResponse:
    """The transparency page's numbers as JSON."""
    return JSONResponse(open_data(await _summary(request)), headers={"Cache-Control": "max-age=60"})


CSV_COLUMNS = (
    "group",
    "key",
    "submitted",
    "resolved",
    "median_hours_to_resolve",
    "p90_hours_to_resolve",
    "resolved_within_sla",
    "satisfaction",
    "ratings",
)


@router.get("/open-data/stats.csv")
async def stats_csv(request: Request) -> Response:
    """The same numbers as CSV: one row per (group, key), group = total, category, …, jalali_week."""
    summary = await _summary(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    groups: list[tuple[str, str, stats.Figures]] = [("total", "", summary.total)]
    for dim in DIMENSION_ORDER:
        groups += [(dim, value, figures) for value, figures in sorted(summary.by[dim].items())]
    groups += [("jalali_month", p, f) for p, f in summary.months]
    groups += [("jalali_week", p, f) for p, f in summary.weeks]
    for group, key, figures in groups:
        public = figures.public()
        writer.writerow([group, key, *("" if public[c] is None else public[c] for c in CSV_COLUMNS[2:])])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="pasokh-stats.csv"', "Cache-Control": "max-age=60"},
    )
