"""The city's routing configuration in MongoDB: ordered rules, extra departments and the districts.

intake's admin API and the ``pasokh routing`` commands write it; the router reads it and re-reads it
when the version counter changes (every write bumps it), so a change takes effect without a restart.
Districts are stored as GeoJSON text: FerretDB cannot store nested arrays (INFRA.md).
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pymongo import ASCENDING, ReturnDocument

from services.geo import DistrictMap, load_districts
from services.store import Doc, Store
from services.taxonomy import Department, EmailAddress, Taxonomy

Day = Literal["sat", "sun", "mon", "tue", "wed", "thu", "fri"]
# date.weekday() → Iranian day name
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_VERSION_ID = "routing"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# A local time of day, written "HH:MM" in JSON (JSON Schema's "time" format would demand an offset).
LocalTime = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": HHMM, "examples": ["22:00"]}),
]


class Rule(BaseModel):
    """Send complaints that match every given condition to ``department``; lower ``order`` is tried first.

    ``start``/``end`` are Tehran local times; a window whose end is before its start runs over
    midnight (22:00–06:00). An absent condition matches everything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=CODE_PATTERN)
    order: int = Field(default=100, ge=0, le=1_000_000)
    department: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    days: tuple[Day, ...] | None = Field(default=None, min_length=1)
    start: LocalTime | None = None
    end: LocalTime | None = None
    note: str | None = Field(default=None, max_length=500)

    def matches(self, *, category: str, district: str | None, local: datetime) -> bool:
        """True if the complaint (its category, its district, its local submission time) fits."""
        if self.category is not None and self.category != category:
            return False
        if self.district is not None and self.district != district:
            return False
        if self.days is not None and DAYS[local.weekday()] not in self.days:
            return False
        at = local.time().replace(tzinfo=None)
        start, end = self.start or time.min, self.end or time.max
        if start <= end:
            return start <= at <= end
        return at >= start or at <= end


class DepartmentIn(BaseModel):
    """A department that is not in the taxonomy file (or a renamed one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE_PATTERN)
    fa: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)
    emails: tuple[EmailAddress, ...] = Field(default=(), max_length=20, description="Get e-mail notices.")


def _rules(store: Store) -> Any:
    return store.db["routing_rules"]


def _departments(store: Store) -> Any:
    return store.db["departments"]


def _districts(store: Store) -> Any:
    return store.db["districts"]


def _meta(store: Store) -> Any:
    return store.db["routing_meta"]


async def ensure_indexes(store: Store) -> None:
    """Rules are read in order."""
    await _rules(store).create_index([("order", ASCENDING)], name="by_order")


async def bump_version(store: Store) -> int:
    """Tell routers the configuration changed; returns the new version."""
    doc = await _meta(store).find_one_and_update(
        {"_id": _VERSION_ID}, {"$inc": {"version": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return int(doc["version"])


async def version(store: Store) -> int:
    """The configuration's version (0 before the first change)."""
    doc = await _meta(store).find_one({"_id": _VERSION_ID})
    return int(doc["version"]) if doc else 0


async def list_rules(store: Store) -> list[Rule]:
    """Every rule, in the order they are tried."""
    docs = await _rules(store).find({}).sort([("order", ASCENDING), ("_id", ASCENDING)]).to_list(None)
    return [_rule(doc) for doc in docs]


def _rule(doc: Doc) -> Rule:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return Rule(id=doc["_id"], **fields)


async def put_rule(store: Store, rule: Rule) -> None:
    """Create or replace the rule ``rule.id``."""
    doc = rule.model_dump(mode="json", exclude={"id"}, exclude_none=True)
    await _rules(store).replace_one({"_id": rule.id}, doc, upsert=True)
    await bump_version(store)


async def delete_rule(store: Store, rule_id: str) -> bool:
    """Remove a rule; False if there was none."""
    result = await _rules(store).delete_one({"_id": rule_id})
    await bump_version(store)
    return bool(result.deleted_count)


async def list_departments(store: Store) -> list[DepartmentIn]:
    """The departments added through the API or the CLI."""
    docs = await _departments(store).find({}).sort("_id", ASCENDING).to_list(None)
    return [DepartmentIn(code=d["_id"], fa=d["fa"], en=d["en"], emails=d.get("emails", ())) for d in docs]


async def put_department(store: Store, department: DepartmentIn) -> None:
    """Create or rename a department."""
    await _departments(store).replace_one(
        {"_id": department.code},
        {"fa": department.fa, "en": department.en, "emails": list(department.emails)},
        upsert=True,
    )
    await bump_version(store)


async def delete_department(store: Store, code: str) -> bool:
    """Remove an added department; False if there was none."""
    result = await _departments(store).delete_one({"_id": code})
    await bump_version(store)
    return bool(result.deleted_count)


async def departments(store: Store, taxonomy: Taxonomy) -> dict[str, Department]:
    """The taxonomy's departments, with the stored ones added or renamed."""
    found = dict(taxonomy.departments)
    for d in await list_departments(store):
        found[d.code] = Department(code=d.code, fa=d.fa, en=d.en, emails=d.emails)
    return found


async def put_districts(store: Store, districts: DistrictMap) -> None:
    """Replace the city's districts."""
    await _districts(store).replace_one(
        {"_id": "districts"}, {"geojson": json.dumps(districts.to_geojson(), ensure_ascii=False)}, upsert=True
    )
    await bump_version(store)


async def load_stored_districts(store: Store) -> DistrictMap:
    """The stored districts, or the shipped ones (Karaj) until some are stored."""
    doc = await _districts(store).find_one({"_id": "districts"})
    if doc is None:
        return load_districts()
    return DistrictMap.from_geojson(json.loads(doc["geojson"]))


async def check_rule(store: Store, taxonomy: Taxonomy, rule: Rule) -> tuple[str, str] | None:
    """(field, problem) if the rule names a category, department or district the city does not have."""
    if rule.category is not None and rule.category not in taxonomy.categories:
        return "category", f"no category {rule.category!r}"
    if rule.department not in await departments(store, taxonomy):
        return "department", f"no department {rule.department!r}"
    if rule.district is not None and rule.district not in (await load_stored_districts(store)).districts:
        return "district", f"no district {rule.district!r}"
    return None
