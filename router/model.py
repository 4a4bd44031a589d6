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
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from router.classifier import Classification
from services.text import fold

# 2: confidences are calibrated (isotonic regression on cross-validated predictions, meta "calibration").
VERSION = "2"
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


def default_seed_file() -> Path:
    """The first file of the seed corpus shipped with the package (``router/data/seed.jsonl``)."""
    return Path(str(resources.files("router") / "data" / "seed.jsonl"))


#: The training corpus shipped with the package, in order: the first 1,395 complaints and a second,
#: more varied set written later (docs/classifier.md, "Data"). Both train the default model.
SEED_FILES = ("seed.jsonl", "seed_more.jsonl")


def default_seed_files() -> list[Path]:
    """Every file of the shipped training corpus (``router/data/seed*.jsonl`` of :data:`SEED_FILES`)."""
    return [Path(str(resources.files("router") / "data" / name)) for name in SEED_FILES]


def read_seed() -> list[Example]:
    """The whole shipped training corpus: what the default model and ``pasokh train`` learn from."""
    return [example for path in default_seed_files() for example in read_jsonl(path)]


def default_eval_file() -> Path:
    """The evaluation set shipped with the package (never used for training)."""
    return Path(str(resources.files("router") / "data" / "eval.jsonl"))


def default_model_dir() -> Path:
    """The model shipped with the package (trained on :func:`read_seed`)."""
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


def fit_calibration(raw: Sequence[float] | np.ndarray, correct: Sequence[bool]) -> dict[str, list[float]]:
    """Isotonic map from the model's top probability to the chance that its answer is right.

    Fitted on cross-validated predictions, so a confidence of 0.8 means: of the training complaints
    the model scored like this without having seen them, 80 % were right. Monotone, so it never
    changes which complaints are more certain than others.
    """
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(raw, dtype=float), np.asarray(correct, dtype=float))
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def _interp(raw: np.ndarray, calibration: dict[str, list[float]] | None) -> np.ndarray:
    if not calibration:
        return raw
    return np.asarray(np.interp(raw, calibration["x"], calibration["y"]))


def expected_calibration_error(
    confidence: Sequence[float] | np.ndarray, correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean gap between confidence and accuracy over ten equal-width confidence bins (weighted)."""
    conf, right = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.mean() * abs(conf[members].mean() - right[members].mean())
    return round(float(gap), 4)


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

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (columns in ``pipeline.classes_`` order), as ``predict_proba`` gives.

        For logistic regression the features and the softmax are computed directly: the same
        figures without the per-call overhead of scikit-learn's pipeline (a third of the time for one
        complaint; see docs/classifier.md).
        """
        clf = self.pipeline.named_steps["clf"]
        union = self.pipeline.named_steps["features"]
        if not isinstance(clf, LogisticRegression) or union.transformer_weights or len(clf.classes_) < 3:
            return np.asarray(self.pipeline.predict_proba(list(texts)))
        features = scipy.sparse.hstack(
            [vectorizer.transform(texts) for _, vectorizer in union.transformer_list], format="csr"
        )
        scores = np.asarray(features @ clf.coef_.T, dtype=np.float64) + clf.intercept_
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return np.asarray(scores)

    def confidence(self, top: np.ndarray) -> np.ndarray:
        """Calibrated confidence of top probabilities (unchanged for a model trained without)."""
        return _interp(np.asarray(top, dtype=float), self.meta.get("calibration"))

    def predict_many(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        proba = self.proba(list(texts))
        classes = [str(c) for c in self.pipeline.classes_]
        best = proba.argmax(axis=1)
        confidence = self.confidence(proba.max(axis=1))
        return [Classification(classes[i], float(confidence[row]), self.name) for row, i in enumerate(best)]

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
        raw = proba.max(axis=1)
        correct = [p == t for p, t in zip(predicted, labels, strict=True)]
        calibration = fit_calibration(raw, correct)
        confidences = _interp(raw, calibration).tolist()
        threshold = choose_threshold(confidences, triage_share)
        oof = [Classification(p, conf, "cv") for p, conf in zip(predicted, confidences, strict=True)]
        figures = evaluate(_Fixed(oof), rows, threshold)
        cv_metrics = {
            "folds": n_folds,
            **{k: figures[k] for k in ("accuracy", "macro_f1", "triage_rate", "auto_precision")},
            "ece_uncalibrated": expected_calibration_error(raw, correct),
        }
    else:
        threshold = 0.0  # too few examples per label to estimate one: triage nothing
        calibration = None
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
        "calibration": calibration,
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
    accuracy of the others (None when every complaint goes to triage); ``calibration_error`` is the
    expected calibration error of the confidences (10 bins).
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
        "calibration_error": expected_calibration_error(
            [c.confidence for c in predictions], [t == p for t, p in zip(truth, guessed, strict=True)]
        )
        if n
        else None,
    }
