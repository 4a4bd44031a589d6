"""Which department gets a complaint: the city's ordered rules, first match wins, else the category's default.

The rules, the departments and the districts live in MongoDB (services.rules). The router keeps a copy
and re-reads it when the configuration's version counter changes, so an edit takes effect within
``refresh_seconds`` without a restart.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services import rules
from services.geo import DistrictMap, load_districts
from services.store import Store
from services.taxonomy import Department, Taxonomy
from services.worktime import TEHRAN

log = logging.getLogger(__name__)


class RoutingTable:
    """A snapshot of the routing configuration and the decisions it makes."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        *,
        rules_: list[rules.Rule] | None = None,
        districts: DistrictMap | None = None,
        departments: dict[str, Department] | None = None,
        version: int = -1,
    ) -> None:
        self.taxonomy = taxonomy
        self.rules = list(rules_ or [])
        self.districts = districts or load_districts()
        self.departments = departments or dict(taxonomy.departments)
        self.version = version

    def district(self, *, lat: float | None, lon: float | None, name: str | None) -> str | None:
        """The district code of a complaint's place (location first, then the name it was given)."""
        return self.districts.resolve(lat=lat, lon=lon, name=name)

    def department(self, category: str, *, district: str | None, at: datetime) -> str:
        """The first rule that matches decides; without one, the category's default department."""
        local = at.astimezone(TEHRAN)
        for rule in self.rules:
            if rule.matches(category=category, district=district, local=local):
                if rule.department in self.departments:
                    return rule.department
                # A rule naming a deleted department must not strand complaints: skip it, loudly.
                log.warning("routing rule names an unknown department", extra={"rule": rule.id})
        return self.taxonomy.category(category).department

    async def refresh(self, store: Store) -> bool:
        """Re-read the configuration if its version changed; True if it did."""
        current = await rules.version(store)
        if current == self.version:
            return False
        self.rules = await rules.list_rules(store)
        self.districts = await rules.load_stored_districts(store)
        self.departments = await rules.departments(store, self.taxonomy)
        self.version = current
        log.info(
            "routing configuration loaded",
            extra={"version": current, "rules": len(self.rules), "districts": len(self.districts.districts)},
        )
        return True
