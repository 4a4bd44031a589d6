"""A trainable complaint classifier: character and word TF-IDF features and a linear model.

Train it on lines ``{"text", "label"}`` with any label set (``pasokh train``); measure it with
``pasokh eval``. The triage threshold is chosen on out-of-fold predictions of the training data
only, so the evaluation set never influences the model or its threshold.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import joblib
import numpy as np
import scipy
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from router.classifier import Classification
from services.text import fold

VERSION = "1"
MODEL_FILE = "model.joblib"
META_FILE = "model.json"
#: At most this share of complaints goes to the triage queue (chosen on the training data).
DEFAULT_TRIAGE_SHARE = 0.15

Kind = Literal["lr", "svm"]


@dataclass(frozen=True)
class Example:
    """One labelled complaint."""

    text: str
    label: str


def read_jsonl(path: str | Path) -> list[Example]:
    """Examples from a file of JSON lines ``{"text": str, "label": str}`` (blank lines skipped)."""
    examples = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("text"), str) or not isinstance(row.get("label"), str):
                raise ValueError(f"{path}:{number}: expected {{'text': str, 'label': str}}")
            examples.append(Example(row["text"], row["label"]))
    return examples


def default_model_dir() -> Path:
    """The model shipped with the package (trained from ``router/data/seed.jsonl``)."""
    return Path(str(resources.files("router") / "models" / "default"))


def build_pipeline(kind: Kind = "lr", c: float = 100.0, *, calibration_folds: int = 3) -> Pipeline:
    """Character n-grams (robust to spelling and ZWNJ variants) plus words and word pairs."""
    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1, preprocessor=fold
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1, preprocessor=fold
                ),
            ),
        ]
    )
    estimator: Any
    if kind == "lr":
        estimator = LogisticRegression(C=c, max_iter=2000)
    else:
        estimator = CalibratedClassifierCV(LinearSVC(C=c), cv=calibration_folds, method="sigmoid")
    return Pipeline([("features", features), ("clf", estimator)])


def choose_threshold(confidences: Sequence[float], max_share: float = DEFAULT_TRIAGE_SHARE) -> float:
    """The highest threshold that sends at most ``max_share`` of these complaints to triage.

    A complaint goes to triage when its confidence is below the threshold, so with the confidences
    sorted, the (k+1)-th lowest (k = the allowed count) triages at most k of them; any higher
    threshold would triage one more.
    """
    if not confidences:
        return 0.0
    ordered = sorted(confidences)
    allowed = int(np.floor(max_share * len(ordered) + 1e-9))
    return 1.0 if allowed >= len(ordered) else float(ordered[allowed])


def _folds(labels: Sequence[str], wanted: int) -> int:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return min(wanted, min(counts.values()))


def out_of_fold_proba(
    texts: Sequence[str], labels: Sequence[str], *, kind: Kind = "lr", c: float = 100.0, folds: int = 5
) -> tuple[list[str], np.ndarray]:
    """Predicted labels and class probabilities of a stratified cross-validation (seed 0)."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    pipeline = build_pipeline(kind, c, calibration_folds=min(3, folds - 1) if folds > 2 else 2)
    proba = cross_val_predict(pipeline, list(texts), list(labels), cv=cv, method="predict_proba")
    classes = sorted(set(labels))
    return [classes[i] for i in proba.argmax(axis=1)], proba


class Predictor(Protocol):
    def predict_many(self, texts: Sequence[str]) -> list[Classification]: ...


@dataclass
class TrainedModel:
    """A fitted pipeline with what it was trained on and the triage threshold chosen for it."""

    pipeline: Pipeline
    meta: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    @property
    def name(self) -> str:
        return f"tfidf-{self.meta['kind']}-{self.meta['version']}"

    def predict_many(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        proba = self.pipeline.predict_proba(list(texts))
        classes = [str(c) for c in self.pipeline.classes_]
        best = proba.argmax(axis=1)
        return [Classification(classes[i], float(proba[row, i]), self.name) for row, i in enumerate(best)]

    def predict(self, text: str) -> Classification:
        """The most probable category; confidence is its (calibrated) probability."""
        return self.predict_many([text])[0]

    def save(self, directory: str | Path) -> Path:
        """Write ``model.joblib`` and ``model.json`` into ``directory`` (created if missing)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.pipeline, out / MODEL_FILE, compress=("xz", 3))
        (out / META_FILE).write_text(
            json.dumps(self.meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return out

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        """A model written by :meth:`save` (local files only)."""
        path = Path(directory)
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        pipeline = joblib.load(path / MODEL_FILE)
        return cls(pipeline, meta)


def _shrink(pipeline: Pipeline) -> None:
    """Drop what prediction does not need and store weights as float32 (keeps the artifact small)."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            del vectorizer.stop_words_  # documented as safe to remove; it only serves introspection
    clf = pipeline.named_steps["clf"]
    if isinstance(clf, LogisticRegression):
        clf.coef_ = clf.coef_.astype(np.float32)


def train(
    examples: Iterable[Example],
    *,
    kind: Kind = "lr",
    c: float = 100.0,
    triage_share: float = DEFAULT_TRIAGE_SHARE,
    folds: int = 5,
) -> TrainedModel:
    """Fit on all examples; the triage threshold comes from a stratified cross-validation of them."""
    rows = list(examples)
    texts = [e.text for e in rows]
    labels = [e.label for e in rows]
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two labels")
    started = time.perf_counter()
    n_folds = _folds(labels, folds)
    cv_metrics: dict[str, Any] | None = None
    if n_folds >= 2 and (kind == "lr" or n_folds >= 3):
        predicted, proba = out_of_fold_proba(texts, labels, kind=kind, c=c, folds=n_folds)
        confidences = proba.max(axis=1).tolist()
        threshold = choose_threshold(confidences, triage_share)
        oof = [Classification(p, conf, "cv") for p, conf in zip(predicted, confidences, strict=True)]
        figures = evaluate(_Fixed(oof), rows, threshold)
        cv_metrics = {
            "folds": n_folds,
            **{k: figures[k] for k in ("accuracy", "macro_f1", "triage_rate", "auto_precision")},
        }
    else:
        threshold = 0.0  # too few examples per label to estimate one: triage nothing
    pipeline = build_pipeline(kind, c)
    pipeline.fit(texts, labels)
    _shrink(pipeline)
    meta = {
        "version": VERSION,
        "kind": kind,
        "c": c,
        "labels": sorted(set(labels)),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_examples": len(rows),
        "threshold": threshold,
        "triage_share": triage_share,
        "cross_validation": cv_metrics,
        "train_seconds": round(time.perf_counter() - started, 2),
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "joblib": joblib.__version__,
        },
    }
    return TrainedModel(pipeline, meta)


class _Fixed:
    """Predictions already made (out-of-fold), served in order."""

    def __init__(self, predictions: list[Classification]) -> None:
        self._predictions = predictions

    def predict_many(self, texts: Sequence[str]) -> list[Classification]:
        assert len(texts) == len(self._predictions)
        return self._predictions


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def evaluate(model: Predictor, examples: Sequence[Example], threshold: float) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class figures, the confusion matrix, and the triage split.

    Macro-F1 averages over every label that is true or predicted (as scikit-learn does). A
    complaint goes to triage when its confidence is below ``threshold``; ``auto_precision`` is the
    accuracy of the others (None when every complaint goes to triage).
    """
    predictions = model.predict_many([e.text for e in examples])
    truth = [e.label for e in examples]
    guessed = [p.category for p in predictions]
    labels = sorted(set(truth) | set(guessed))
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, guessed, strict=True):
        confusion[t][p] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = confusion[label][label]
        predicted = sum(confusion[t][label] for t in labels)
        support = sum(confusion[label].values())
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    n = len(examples)
    correct = sum(t == p for t, p in zip(truth, guessed, strict=True))
    auto = [(t, p) for t, p, c in zip(truth, guessed, predictions, strict=True) if c.confidence >= threshold]
    return {
        "n": n,
        "accuracy": _ratio(correct, n),
        "macro_f1": _ratio(sum(float(m["f1"]) for m in per_class.values()), len(per_class)),
        "per_class": per_class,
        "confusion": confusion,
        "threshold": threshold,
        "triage_rate": _ratio(n - len(auto), n),
        "auto_precision": _ratio(sum(t == p for t, p in auto), len(auto)) if auto else None,
    }
