"""The city's categories (Open311 service codes) and departments, loaded from a TOML file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.text import fold

Priority = Literal["low", "normal", "high", "urgent"]


class Department(BaseModel):
    """A municipal unit that can act on complaints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    fa: str
    en: str


class Category(BaseModel):
    """A kind of complaint, its default department and its service-level target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    fa: str
    en: str
    department: str
    sla_hours: int = Field(ge=1)
    priority: Priority = "normal"
    keywords: tuple[str, ...] = ()


class Taxonomy(BaseModel):
    """All categories and departments of one city."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    triage_department: str
    fallback_category: str
    departments: dict[str, Department]
    categories: dict[str, Category]

    @model_validator(mode="after")
    def _references_exist(self) -> Taxonomy:
        for category in self.categories.values():
            if category.department not in self.departments:
                raise ValueError(f"category {category.code} names unknown department {category.department}")
        if self.triage_department not in self.departments:
            raise ValueError(f"triage department {self.triage_department} is not defined")
        if self.fallback_category not in self.categories:
            raise ValueError(f"fallback category {self.fallback_category} is not defined")
        return self

    def category(self, code: str) -> Category:
        """The category ``code``; ``KeyError`` if the city has none by that code."""
        return self.categories[code]

    def department(self, code: str) -> Department:
        """The department ``code``; ``KeyError`` if the city has none by that code."""
        return self.departments[code]


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read a city's taxonomy file, or the built-in default when ``path`` is None."""
    if path is None:
        raw = resources.files("services.data").joinpath("taxonomy.toml").read_text(encoding="utf-8")
    else:
        raw = path.read_text(encoding="utf-8")
    doc = tomllib.loads(raw)
    for section in ("departments", "categories"):
        for code, entry in doc.get(section, {}).items():
            entry["code"] = code
    for entry in doc.get("categories", {}).values():
        # Folding merges spellings ("پیاده‌رو", "پیاده رو"); count each phrase once.
        entry["keywords"] = tuple(dict.fromkeys(fold(k) for k in entry.get("keywords", ())))
    return Taxonomy.model_validate(doc)
