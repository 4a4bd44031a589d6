"""What a classifier answers (:class:`Classification`), and the keyword classifier.

The router runs the trained model (:mod:`router.serving`); the keyword classifier stays as a
baseline for comparison (docs/classifier.md): its confidence is the share of the matched keyword
weight that the best category holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.taxonomy import Priority, Taxonomy
from services.text import fold


@dataclass(frozen=True)
class Classification:
    """A category with the classifier's confidence in it, and what a city's rules force.

    ``classifier`` names the model and its version (recorded on each decision). ``priority`` is
    set when a rule forces one; ``emergency`` when the emergency detector fired (the decision
    then goes to the emergency department with priority ``urgent``, whatever the category).
    """

    category: str
    confidence: float
    classifier: str
    priority: Priority | None = None
    emergency: bool = False
    rules: tuple[str, ...] = ()
    hazards: tuple[str, ...] = ()


class Classifier(Protocol):
    """Anything the router can ask for a category."""

    def classify(self, text: str, *, hint: str | None = None) -> Classification:
        """The category of ``text``; ``hint`` is the category the citizen chose, if any."""
        ...

    def classify_many(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """``classify`` for each text (with its hint), possibly cheaper than one by one."""
        ...


# Persian plural and ezafe endings and English plurals a keyword may carry and still be itself.
_SUFFIXES = "(?:ها|های|هایی|ی|ای|ان|s|es)?"


def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words only: «دود» (smoke) must not fire inside «حدود», nor "ice" inside "police".
    return re.compile(rf"(?<!\w){re.escape(keyword)}{_SUFFIXES}(?!\w)")


class KeywordClassifier:
    """Scores each category by the keywords found in the text (longer phrases weigh more)."""

    name = "keywords-v1"

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._taxonomy = taxonomy
        self._patterns = {
            category.code: [(_pattern(k), len(k.split())) for k in category.keywords if k]
            for category in taxonomy.categories.values()
        }

    def scores(self, text: str) -> dict[str, float]:
        """Weight of the keywords of each category found in ``text``."""
        folded = fold(text)
        scores: dict[str, float] = {}
        for code, patterns in self._patterns.items():
            weight = sum(w for pattern, w in patterns if pattern.search(folded))
            if weight:
                scores[code] = float(weight)
        return scores

    def classify(self, text: str, *, hint: str | None = None) -> Classification:
        """The best category; the hint decides when no keyword matches, the fallback when neither.

        Confidence is the best category's share of all matched weight, so a tie between two
        categories scores 0.5 and falls under the default triage threshold.
        """
        scores = self.scores(text)
        if hint in self._taxonomy.categories:
            scores[hint] = scores.get(hint, 0.0) + 1.0
        if not scores:
            return Classification(self._taxonomy.fallback_category, 0.0, self.name)
        best = max(sorted(scores), key=lambda code: scores[code])
        return Classification(best, round(scores[best] / sum(scores.values()), 4), self.name)

    def classify_many(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """:meth:`classify` for each text with its hint."""
        given = hints if hints is not None else [None] * len(texts)
        return [self.classify(text, hint=hint) for text, hint in zip(texts, given, strict=True)]
