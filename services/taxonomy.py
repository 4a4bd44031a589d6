"""The city's categories (Open311 service codes) and departments, loaded from a TOML file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.text import fold

Priority = Literal["low", "normal", "high", "urgent"]
# A department's mailbox for e-mail notices: one '@', a dot in the domain, no spaces (RFC 5321's 254).
EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


class Department(BaseModel):
    """A municipal unit that can act on complaints; ``emails`` receive its e-mail notices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    fa: str
    en: str
    emails: tuple[EmailAddress, ...] = ()


Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
LIST_DATATYPES: frozenset[str] = frozenset({"singlevaluelist", "multivaluelist"})


class LocalText(BaseModel):
    """A text in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fa: str = Field(min_length=1)
    en: str = Field(min_length=1)


class AttributeValue(BaseModel):
    """One choice of a list attribute: ``key`` is what a client submits, ``fa``/``en`` what people read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    fa: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Attribute(BaseModel):
    """An extra question a category asks (an Open311 service-definition attribute)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Codes become MongoDB keys and form keys (attribute[code]): no '.', '$', ':' or brackets.
    code: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    datatype: Datatype
    required: bool = False
    variable: bool = True
    order: int = Field(ge=1)
    description: LocalText
    datatype_description: LocalText | None = None
    values: tuple[AttributeValue, ...] = ()

    @model_validator(mode="after")
    def _values_fit_the_datatype(self) -> Attribute:
        if self.datatype in LIST_DATATYPES:
            if not self.values:
                raise ValueError(f"attribute {self.code} is a {self.datatype} without values")
            keys = [v.key for v in self.values]
            if len(set(keys)) != len(keys):
                raise ValueError(f"attribute {self.code} repeats a value key")
        elif self.values:
            raise ValueError(f"attribute {self.code} is a {self.datatype}; only lists have values")
        return self


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
    attributes: tuple[Attribute, ...] = ()

    @model_validator(mode="after")
    def _attributes_are_distinct(self) -> Category:
        codes = [a.code for a in self.attributes]
        orders = [a.order for a in self.attributes]
        if len(set(codes)) != len(codes) or len(set(orders)) != len(orders):
            raise ValueError(f"category {self.code} repeats an attribute code or order")
        return self


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
