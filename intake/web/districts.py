"""The city's districts for the pages' pickers (services/geo.py, loaded once per process)."""

from __future__ import annotations

from functools import cache

from services.geo import DistrictMap, load_districts


@cache
def district_map() -> DistrictMap:
    """The shipped district map."""
    return load_districts()
