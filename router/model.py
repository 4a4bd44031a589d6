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
from scipy.optimize import minimize_scalar
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
# 3: the calibrated score is the margin between the two best categories (meta "score"), through a
#    centred isotonic map (no ties), so the threshold triages the share it was chosen for; new kind
#    "svc" (linear SVM, probabilities = softmax of its temperature-scaled scores, meta "temperature").
VERSION = "3"
MODEL_FILE = "model.joblib"
META_FILE = "model.json"
#: At most this share of complaints goes to the triage queue (chosen on the training data).
DEFAULT_TRIAGE_SHARE = 0.15

#: lr: logistic regression; svc: linear SVM, its scores turned into probabilities by a softmax with a
#: temperature fitted on cross-validated scores; svm: linear SVM wrapped in sigmoid calibration.
Kind = Literal["lr", "svm", "svc"]
#: What ``pasokh train`` fits: by cross-validation on the corpus the most accurate (docs/classifier.md).
DEFAULT_KIND: Kind = "svc"
#: Regularisation per kind, chosen by cross-validation on the shipped corpus (flat around these).
DEFAULT_C: dict[str, float] = {"lr": 100.0, "svm": 100.0, "svc": 3.0}
#: What the calibration maps to a confidence: the top probability, or its margin over the runner-up.
Score = Literal["top", "margin"]
#: The score new models calibrate: by cross-validation it ranks wrong answers lower (docs/classifier.md).
DEFAULT_SCORE: Score = "margin"


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


#: The training corpus shipped with the package, in order: the first 1,395 complaints, a second, more
#: varied set written later, and a third aimed at the categories the model confused most
#: (docs/classifier.md, "Data"). All train the default model.
SEED_FILES = ("seed.jsonl", "seed_more.jsonl", "seed_extra.jsonl")


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
    elif kind == "svc":
        estimator = LinearSVC(C=c)
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


def top_score(proba: np.ndarray, score: Score = "top") -> np.ndarray:
    """Per row of class probabilities: the best one, or its margin over the second best."""
    rows = np.atleast_2d(np.asarray(proba, dtype=float))
    if score == "top" or rows.shape[1] < 2:
        return np.asarray(rows.max(axis=1))
    two = np.partition(rows, -2, axis=1)[:, -2:]
    return np.asarray(two[:, 1] - two[:, 0])


def fit_calibration(raw: Sequence[float] | np.ndarray, correct: Sequence[bool]) -> dict[str, list[float]]:
    """Centred isotonic map from the model's score to the chance that its answer is right.

    Fitted on cross-validated predictions, so a confidence of 0.8 means: of the training complaints
    the model scored like this without having seen them, 80 % were right. Isotonic regression gives
    a staircase (many complaints share one step, so a threshold cannot triage the share it was
    chosen for); the map goes instead through the centre of each step (the mean score of its
    complaints), so it rises strictly between the first and the last centre and never reorders
    complaints by certainty.
    """
    x = np.asarray(raw, dtype=float)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    fitted = iso.fit(x, np.asarray(correct, dtype=float)).predict(x)
    steps = np.unique(fitted)
    centres = [float(x[fitted == step].mean()) for step in steps]
    return {"x": centres, "y": [float(step) for step in steps]}


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


def _two_columns(decision: np.ndarray) -> np.ndarray:
    """A binary SVM's one score per row as two class scores (the softmax then equals a sigmoid)."""
    scores = np.asarray(decision, dtype=np.float64)
    return np.column_stack([-scores / 2, scores / 2]) if scores.ndim == 1 else scores


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``temperature`` × scores."""
    out = np.asarray(scores, dtype=np.float64) * temperature
    out -= out.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def fit_temperature(scores: np.ndarray, labels: Sequence[str]) -> float:
    """The temperature whose softmax of these (cross-validated) scores best predicts the labels.

    Temperature scaling: minimises the mean negative log-likelihood of the true class.
    """
    classes = sorted(set(labels))
    truth = np.array([classes.index(label) for label in labels])
    rows = np.arange(len(truth))

    def loss(temperature: float) -> float:
        return float(-np.log(softmax(scores, temperature)[rows, truth] + 1e-12).mean())

    found = minimize_scalar(loss, bounds=(0.01, 100.0), method="bounded")
    return round(float(found.x), 4)


def _out_of_fold(
    texts: Sequence[str], labels: Sequence[str], *, kind: Kind, c: float, folds: int
) -> tuple[list[str], np.ndarray, float | None]:
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    pipeline = build_pipeline(kind, c, calibration_folds=min(3, folds - 1) if folds > 2 else 2)
    temperature = None
    if kind == "svc":
        decision = cross_val_predict(pipeline, list(texts), list(labels), cv=cv, method="decision_function")
        scores = _two_columns(decision)
        temperature = fit_temperature(scores, labels)
        proba = softmax(scores, temperature)
    else:
        proba = cross_val_predict(pipeline, list(texts), list(labels), cv=cv, method="predict_proba")
    classes = sorted(set(labels))
    return [classes[i] for i in proba.argmax(axis=1)], proba, temperature


def out_of_fold_proba(
    texts: Sequence[str], labels: Sequence[str], *, kind: Kind = "lr", c: float = 100.0, folds: int = 5
) -> tuple[list[str], np.ndarray]:
    """Predicted labels and class probabilities of a stratified cross-validation (seed 0)."""
    predicted, proba, _ = _out_of_fold(texts, labels, kind=kind, c=c, folds=folds)
    return predicted, proba


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

        For a linear SVM (kind ``svc``) they are the softmax of its scores times the model's
        temperature. For logistic regression and the SVM the features and the softmax are computed
        directly: the same figures without the per-call overhead of scikit-learn's pipeline (a third
        of the time for one complaint; see docs/classifier.md).
        """
        clf = self.pipeline.named_steps["clf"]
        union = self.pipeline.named_steps["features"]
        linear = isinstance(clf, LogisticRegression | LinearSVC)
        temperature = float(self.meta.get("temperature") or 1.0)
        if not linear or union.transformer_weights or len(clf.classes_) < 3:
            if isinstance(clf, LinearSVC):
                return softmax(_two_columns(self.pipeline.decision_function(list(texts))), temperature)
            return np.asarray(self.pipeline.predict_proba(list(texts)))
        features = scipy.sparse.hstack(
            [vectorizer.transform(texts) for _, vectorizer in union.transformer_list], format="csr"
        )
        scores = np.asarray(features @ clf.coef_.T, dtype=np.float64) + clf.intercept_
        return softmax(scores, temperature if isinstance(clf, LinearSVC) else 1.0)

    @property
    def score_kind(self) -> Score:
        """What the calibration maps: ``margin`` (version 3), ``top`` (earlier stored versions)."""
        return "margin" if self.meta.get("score") == "margin" else "top"

    def confidence(self, score: np.ndarray) -> np.ndarray:
        """Calibrated confidence of scores (:attr:`score_kind`; unchanged for a model trained without)."""
        return _interp(np.asarray(score, dtype=float), self.meta.get("calibration"))

    def confidence_of(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated confidence of the best category, per row of class probabilities."""
        return self.confidence(top_score(proba, self.score_kind))

    def predict_many(self, texts: Sequence[str]) -> list[Classification]:
        if not texts:
            return []
        proba = self.proba(list(texts))
        classes = [str(c) for c in self.pipeline.classes_]
        best = proba.argmax(axis=1)
        confidence = self.confidence_of(proba)
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
    if isinstance(clf, LogisticRegression | LinearSVC):
        clf.coef_ = clf.coef_.astype(np.float32)


def train(
    examples: Iterable[Example],
    *,
    kind: Kind = DEFAULT_KIND,
    c: float | None = None,
    triage_share: float = DEFAULT_TRIAGE_SHARE,
    folds: int = 5,
    score: Score = DEFAULT_SCORE,
) -> TrainedModel:
    """Fit on all examples; the triage threshold comes from a stratified cross-validation of them.

    ``c`` defaults to :data:`DEFAULT_C` of the kind.
    """
    c = DEFAULT_C[kind] if c is None else c
    rows = list(examples)
    texts = [e.text for e in rows]
    labels = [e.label for e in rows]
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two labels")
    started = time.perf_counter()
    n_folds = _folds(labels, folds)
    cv_metrics: dict[str, Any] | None = None
    temperature: float | None = None
    if n_folds >= 2 and (kind != "svm" or n_folds >= 3):
        predicted, proba, temperature = _out_of_fold(texts, labels, kind=kind, c=c, folds=n_folds)
        raw = top_score(proba, score)
        correct = [p == t for p, t in zip(predicted, labels, strict=True)]
        calibration = fit_calibration(raw, correct)
        confidences = _interp(raw, calibration).tolist()
        threshold = choose_threshold(confidences, triage_share)
        oof = [Classification(p, conf, "cv") for p, conf in zip(predicted, confidences, strict=True)]
        figures = evaluate(_Fixed(oof), rows, threshold)
        cv_metrics = {
            "folds": n_folds,
            **{k: figures[k] for k in ("accuracy", "macro_f1", "triage_rate", "auto_precision")},
            "ece_uncalibrated": expected_calibration_error(proba.max(axis=1), correct),
        }
    else:
        threshold = 0.0  # too few examples per label to estimate one: triage nothing
        calibration = None
        temperature = 1.0 if kind == "svc" else None
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
        "score": score,
        "temperature": temperature,
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
