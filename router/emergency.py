"""The emergency detector: gas smell, fire, collapse risk, open manholes, fallen power lines.

When it fires, the decision goes to the emergency department with priority ``urgent``, whatever
the category. The phrases (Persian, colloquial included, and English) live in a TOML file so a
city can add its own; they match as whole words after :func:`services.text.fold` (see
:mod:`router.rules` for the matching).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from router.rules import PhraseSet


class HazardConfig(BaseModel):
    """One kind of danger and the phrases that name it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    phrases: list[str] = Field(min_length=1)


class EmergencyFile(BaseModel):
    """The emergency phrases file: ``[[hazard]]`` tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hazard: list[HazardConfig] = Field(min_length=1)


def default_emergency_file() -> Path:
    """The phrases shipped with the router (``router/data/emergency.toml``)."""
    return Path(str(resources.files("router") / "data" / "emergency.toml"))


class EmergencyDetector:
    """Names the hazards a complaint mentions."""

    def __init__(self, hazards: list[HazardConfig]) -> None:
        self._hazards = [(hazard.name, PhraseSet(hazard.phrases)) for hazard in hazards]

    @classmethod
    def load(cls, path: str | Path | None = None) -> EmergencyDetector:
        """The detector for the phrases in ``path`` (the shipped file when None)."""
        with open(path or default_emergency_file(), "rb") as file:
            return cls(EmergencyFile.model_validate(tomllib.load(file)).hazard)

    def hazards(self, folded: str) -> list[str]:
        """The hazards found in ``folded`` (text already passed through ``fold``), in file order."""
        return [name for name, phrases in self._hazards if phrases.found_in(folded)]
