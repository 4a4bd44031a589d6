"""The classifier the router runs: the active trained model, the city's rules, the emergency detector.

The model can be swapped while the router runs (:mod:`router.registry` loads the active version
from MongoDB); each classification names the model and version that made it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from router.classifier import Classification
from router.emergency import EmergencyDetector
from router.model import TrainedModel
from router.rules import Rules
from services.taxonomy import Taxonomy
from services.text import fold

#: Weight of the category the citizen picked, added to the model's probabilities (then renormalised):
#: it decides between close candidates but does not overrule a confident model.
HINT_WEIGHT = 0.25
#: Version name of the model shipped in the package (no version activated in the store yet).
BUILTIN_VERSION = "builtin"


class ServingClassifier:
    """Trained model + rules + emergency detector; ``swap`` replaces the model between two calls."""

    def __init__(
        self,
        model: TrainedModel,
        *,
        taxonomy: Taxonomy,
        rules: Rules,
        emergency: EmergencyDetector,
        version: str = BUILTIN_VERSION,
        threshold: float | None = None,
    ) -> None:
        self._taxonomy = taxonomy
        self._rules = rules
        self._emergency = emergency
        self._configured_threshold = threshold
        self._lock = threading.Lock()
        self._model = model
        self._version = version

    @property
    def version(self) -> str:
        """The version of the model in use (``builtin`` for the shipped one)."""
        return self._version

    @property
    def name(self) -> str:
        """Model name and version, e.g. ``tfidf-lr-1@20261126T112233-3fa2b1``."""
        return f"{self._model.name}@{self._version}"

    @property
    def threshold(self) -> float:
        """Below this confidence a complaint goes to triage: the setting, else the model's own."""
        if self._configured_threshold is not None:
            return self._configured_threshold
        return self._model.threshold

    def swap(self, model: TrainedModel, version: str) -> None:
        """Use ``model`` from the next classification on."""
        with self._lock:
            self._model, self._version = model, version

    def classify(self, text: str, *, hint: str | None = None) -> Classification:
        """The model's best category (nudged by the hint), then the rules and the emergency detector."""
        return self.classify_many([text], [hint])[0]

    def classify_many(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """:meth:`classify` for several complaints at once, by one model version.

        The model scores them in one matrix product: about a sixth of the CPU time per complaint of
        one-by-one calls (docs/classifier.md), for a router that handles messages in batches.
        """
        if not texts:
            return []
        with self._lock:
            model, name = self._model, self.name
        folded = [fold(text) for text in texts]
        probas = model.proba(folded)
        classes = [str(c) for c in model.pipeline.classes_]
        given = hints if hints is not None else [None] * len(texts)
        return [
            self._decide(text, proba, model, classes, hint, name)
            for text, proba, hint in zip(folded, probas, given, strict=True)
        ]

    def _decide(
        self,
        folded: str,
        proba: np.ndarray,
        model: TrainedModel,
        classes: list[str],
        hint: str | None,
        name: str,
    ) -> Classification:
        if hint in classes:
            proba = proba.copy()
            proba[classes.index(hint)] += HINT_WEIGHT
            proba /= proba.sum()
        best = int(np.argmax(proba))
        category, confidence = classes[best], float(model.confidence_of(proba)[0])
        if category not in self._taxonomy.categories:  # a model trained on another label set
            category, confidence = self._taxonomy.fallback_category, 0.0
        outcome = self._rules.apply(folded)
        if outcome.category is not None:
            category, confidence = outcome.category, 1.0
        hazards = tuple(self._emergency.hazards(folded))
        return Classification(
            category,
            round(confidence, 4),
            name,
            priority=outcome.priority,
            emergency=bool(hazards),
            rules=outcome.fired,
            hazards=hazards,
        )
