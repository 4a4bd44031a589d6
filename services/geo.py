"""A city's districts from GeoJSON (point in polygon with shapely) and distances on the globe.

MongoDB-compatible servers such as FerretDB v1 have no geo queries (INFRA.md), so geography is done
here, in Python: districts are shapely polygons, and nearby complaints are found by a latitude/longitude
box in the database and then measured with the haversine formula.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from services.text import fold

EARTH_RADIUS_M = 6_371_008.8


class InvalidDistricts(ValueError):
    """A GeoJSON document that is not a FeatureCollection of named (Multi)Polygons."""


@dataclass(frozen=True)
class District:
    """One municipal district: its code, its names and its outline."""

    code: str
    fa: str
    en: str
    geometry: BaseGeometry

    def feature(self) -> dict[str, Any]:
        """This district as a GeoJSON Feature."""
        return {
            "type": "Feature",
            "properties": {"code": self.code, "fa": self.fa, "en": self.en},
            "geometry": shapely.geometry.mapping(self.geometry),
        }


def _district(feature: Any, index: int) -> District:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidDistricts(f"feature {index} is not a GeoJSON Feature")
    props = feature.get("properties") or {}
    code = str(props.get("code") or "").strip()
    if not code or len(code) > 64 or "." in code or "$" in code:
        raise InvalidDistricts(f"feature {index} needs properties.code (1-64 characters, no '.' or '$')")
    geometry = feature.get("geometry") or {}
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidDistricts(f"district {code}: geometry must be a Polygon or MultiPolygon")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidDistricts(f"district {code}: unreadable geometry ({exc})") from exc
    if geom.is_empty or not geom.is_valid:
        raise InvalidDistricts(f"district {code}: the outline is empty or crosses itself")
    return District(
        code=code,
        fa=str(props.get("fa") or props.get("name_fa") or code),
        en=str(props.get("en") or props.get("name_en") or props.get("name") or code),
        geometry=geom,
    )


class DistrictMap:
    """The districts of one city: which district a point is in, which district a name means."""

    def __init__(self, districts: list[District]) -> None:
        codes = [d.code for d in districts]
        if len(set(codes)) != len(codes):
            raise InvalidDistricts("two districts share a code")
        self.districts = {d.code: d for d in districts}
        for d in districts:
            shapely.prepare(d.geometry)
        # Every way a citizen or partner may name a district, folded: "3", "منطقه ۳", "District 3".
        self._names: dict[str, str] = {}
        for d in districts:
            for name in (d.code, d.fa, d.en):
                self._names.setdefault(fold(name), d.code)

    @classmethod
    def from_geojson(cls, document: Any) -> DistrictMap:
        """Districts from a GeoJSON FeatureCollection whose features carry ``code``, ``fa`` and ``en``."""
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
            raise InvalidDistricts("expected a GeoJSON FeatureCollection")
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidDistricts("the FeatureCollection has no features")
        return cls([_district(f, i) for i, f in enumerate(features)])

    def to_geojson(self) -> dict[str, Any]:
        """The districts as a GeoJSON FeatureCollection."""
        return {"type": "FeatureCollection", "features": [d.feature() for d in self.districts.values()]}

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the district containing the point, or None outside every district."""
        for d in self.districts.values():
            # GeoJSON and shapely put longitude first. Boundary points count as inside.
            if shapely.intersects_xy(d.geometry, lon, lat):
                return d.code
        return None

    def match(self, name: str | None) -> str | None:
        """The code of the district ``name`` means (code, Persian or English name), or None."""
        if not name:
            return None
        return self._names.get(fold(name))

    def resolve(self, *, lat: float | None, lon: float | None, name: str | None) -> str | None:
        """The district of a complaint: from its location when it has one inside the city, else its name."""
        if lat is not None and lon is not None:
            found = self.locate(lat, lon)
            if found is not None:
                return found
        return self.match(name)


def default_districts_file() -> Path:
    """Karaj's municipal districts as shipped (approximate outlines; see docs/routing.md)."""
    return Path(str(resources.files("services") / "data" / "districts" / "karaj.geojson"))


def load_districts(path: Path | None = None) -> DistrictMap:
    """Districts from a GeoJSON file, by default the shipped Karaj file."""
    with (path or default_districts_file()).open(encoding="utf-8") as f:
        return DistrictMap.from_geojson(json.load(f))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a box that contains every point within ``radius_m`` of the point."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    # Longitude degrees shrink towards the poles; clamp so the box stays finite near them.
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon
