"""A city's hard rules: phrases that force a category or a priority, read from a TOML file.

A rule fires when one of its phrases occurs in the complaint as whole words after
:func:`services.text.fold` (so «كوچه», «کوچه» and «کوچــه» are one word). The words of a phrase must
come in order, with at most :data:`MAX_GAP` other words between two of them («بوی گاز» matches
«بوی خیلی شدید گاز»). Each word may carry a Persian plural, ezafe or possessive ending or an
English plural.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.taxonomy import Priority
from services.text import fold

#: Other words allowed between two words of a phrase.
MAX_GAP = 3
# Endings a word may carry and still be itself: Persian plural, ezafe, colloquial «ه», possessive
# («برقش», «کوچمون»), English plural.
_SUFFIXES = "(?:ها|های|هایی|ی|ای|ان|ه|ش|م|ت|شون|مون|تون|s|es)?"
_ANY_WORD = r"\S+"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A regular expression matching ``phrase`` in folded text, whole words, small gaps allowed."""
    words = fold(phrase).split()
    if not words:
        raise ValueError("a phrase needs at least one word")
    gap = rf"(?:\s+{_ANY_WORD}){{0,{MAX_GAP}}}\s+"
    body = gap.join(re.escape(word) + _SUFFIXES for word in words)
    return re.compile(rf"(?<!\w){body}(?!\w)")


class PhraseSet:
    """A list of phrases compiled once; tells which of them a text contains."""

    def __init__(self, phrases: list[str] | tuple[str, ...]) -> None:
        self.phrases = tuple(phrases)
        self._patterns = [(phrase, phrase_pattern(phrase)) for phrase in self.phrases]
        # One pass over the text tells whether any phrase is there (most complaints have none).
        self._any = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in self._patterns))

    def found_in(self, folded: str) -> list[str]:
        """The phrases that occur in ``folded`` (text already passed through ``fold``)."""
        if not self._any.search(folded):
            return []
        return [phrase for phrase, pattern in self._patterns if pattern.search(folded)]


class RuleConfig(BaseModel):
    """One rule of the TOML file (``[[rule]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    phrases: list[str] = Field(min_length=1)
    category: str | None = None
    priority: Priority | None = None


class RulesFile(BaseModel):
    """The whole rules file: ``[[rule]]`` tables, first match wins for each of category and priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: list[RuleConfig] = []


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules force on one complaint (None: nothing), and the names of the rules that fired."""

    category: str | None = None
    priority: Priority | None = None
    fired: tuple[str, ...] = ()


def default_rules_file() -> Path:
    """The example rules shipped with the router (``router/data/rules.toml``)."""
    return Path(str(resources.files("router") / "data" / "rules.toml"))


class Rules:
    """Ordered rules; the first rule that forces a category decides it, likewise for priority."""

    def __init__(self, rules: list[RuleConfig], *, categories: set[str] | None = None) -> None:
        if categories is not None:
            unknown = sorted({r.category for r in rules if r.category and r.category not in categories})
            if unknown:
                raise ValueError(f"rules name unknown categories: {', '.join(unknown)}")
        self.rules = rules
        self._phrases = [PhraseSet(rule.phrases) for rule in rules]

    @classmethod
    def load(cls, path: str | Path | None = None, *, categories: set[str] | None = None) -> Rules:
        """Rules from a TOML file (the shipped example when ``path`` is None)."""
        with open(path or default_rules_file(), "rb") as file:
            parsed = RulesFile.model_validate(tomllib.load(file))
        return cls(parsed.rule, categories=categories)

    def apply(self, folded: str) -> RuleOutcome:
        """The category and priority forced on a complaint whose folded text is ``folded``."""
        category: str | None = None
        priority: Priority | None = None
        fired: list[str] = []
        for rule, phrases in zip(self.rules, self._phrases, strict=True):
            if (rule.category is None or category) and (rule.priority is None or priority):
                continue  # nothing left for this rule to decide
            if not phrases.found_in(folded):
                continue
            fired.append(rule.name)
            category = category or rule.category
            priority = priority or rule.priority
        return RuleOutcome(category, priority, tuple(fired))
