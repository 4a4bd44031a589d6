"""Bar charts as inline SVG, drawn on the server (no JavaScript library)."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from intake.web.i18n import Words
from services.geo import DistrictMap

BAR = 22
GAP = 8
LABEL = 190
WIDTH = 560


def bar_chart(data: list[tuple[str, int]], *, t: Words, title: str) -> Markup:
    """Horizontal bars (one per label), with the value written at the end; mirrored for RTL."""
    if not data:
        return Markup("")
    top = max(value for _, value in data) or 1
    height = len(data) * (BAR + GAP) + GAP
    rtl = t.dir == "rtl"
    room = WIDTH - LABEL - 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" aria-labelledby="chart-{abs(hash(title))}">',
        f'<title id="chart-{abs(hash(title))}">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(data):
        y = GAP + i * (BAR + GAP)
        length = max(2.0, room * value / top) if value else 0.0
        if rtl:
            label_x, anchor = WIDTH - 4, "end"
            bar_x = WIDTH - LABEL - length
            value_x, value_anchor = bar_x - 6, "end"
        else:
            label_x, anchor = 4, "start"
            bar_x = LABEL
            value_x, value_anchor = LABEL + length + 6, "start"
        parts.append(
            f'<text x="{label_x}" y="{y + BAR * 0.7:.1f}" text-anchor="{anchor}">{escape(label[:28])}</text>'
            f'<rect x="{bar_x:.1f}" y="{y}" width="{length:.1f}" height="{BAR}" rx="3"></rect>'
            f'<text x="{value_x:.1f}" y="{y + BAR * 0.7:.1f}" text-anchor="{value_anchor}">'
            f"{escape(t.num(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def district_map_svg(districts: DistrictMap, *, t: Words, width: int = 360) -> Markup:
    """The districts' outlines as an SVG the pin script (static/pin.js) turns into a map to click on.

    Equirectangular, scaled at the city's latitude; the inverse projection is in the ``data-`` attributes.
    Without JavaScript it is only a picture, and the district list and coordinate fields do the job.
    """
    if not districts.districts:
        return Markup("")
    west, south, east, north = (
        min(d.geometry.bounds[0] for d in districts.districts.values()),
        min(d.geometry.bounds[1] for d in districts.districts.values()),
        max(d.geometry.bounds[2] for d in districts.districts.values()),
        max(d.geometry.bounds[3] for d in districts.districts.values()),
    )
    kx = width / (east - west)
    ky = kx / math.cos(math.radians((north + south) / 2))
    height = (north - south) * ky
    shapes = []
    for d in districts.districts.values():
        polygons = getattr(d.geometry, "geoms", [d.geometry])
        for polygon in polygons:
            points = " ".join(
                f"{(x - west) * kx:.1f},{(north - y) * ky:.1f}" for x, y in polygon.exterior.coords
            )
            shapes.append(f'<polygon points="{points}"><title>{escape(t.name(d, d.code))}</title></polygon>')
        c = d.geometry.representative_point()
        shapes.append(
            f'<text x="{(c.x - west) * kx:.1f}" y="{(north - c.y) * ky:.1f}" text-anchor="middle">'
            f"{escape(t.num(d.code))}</text>"
        )
    return Markup(
        f'<div class="pinwrap" hidden><svg class="pinmap" viewBox="0 0 {width} {height:.0f}" '
        f'data-west="{west}" data-north="{north}" data-kx="{kx}" data-ky="{ky}" aria-hidden="true" '
        'focusable="false">'
        f"{''.join(shapes)}"
        '<circle class="pin" r="6" cx="-20" cy="-20"></circle></svg></div>'
    )
