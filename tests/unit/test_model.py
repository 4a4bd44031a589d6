"""router.model: train on any label set, save and load, and measure exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from router.classifier import Classification
from router.model import (
    Example,
    TrainedModel,
    choose_threshold,
    default_model_dir,
    evaluate,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    read_jsonl,
    read_seed,
    softmax,
    top_score,
    train,
)

ROOT = Path(__file__).resolve().parents[2]
PASOKH = Path(sys.executable).parent / "pasokh"

# Three made-up labels with their own vocabulary, Persian and English, six examples each.
SYNTHETIC = [
    *(
        Example(t, "water")
        for t in [
            "لوله آب ترکیده و آب در کوچه جاری است",
            "آب شرب قطع شده از صبح",
            "فشار آب خیلی کم است",
            "water pipe burst in our street",
            "no water since morning",
            "آب لوله کشی بو میده",
        ]
    ),
    *(
        Example(t, "power")
        for t in [
            "برق محله قطع شده",
            "کابل برق روی زمین افتاده",
            "تیر برق کج شده و خطرناکه",
            "power cut in the whole block",
            "the electricity cable is down",
            "برق خونه ها نوسان داره",
        ]
    ),
    *(
        Example(t, "bus")
        for t in [
            "اتوبوس خط ده دیر میاد",
            "راننده اتوبوس بی ادبی کرد",
            "ایستگاه اتوبوس سقف نداره",
            "the bus never comes on time",
            "bus driver was rude",
            "اتوبوس ها خیلی شلوغن",
        ]
    ),
]


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train(SYNTHETIC, folds=3)


def test_trains_on_any_label_set(model: TrainedModel) -> None:
    assert model.labels == ["bus", "power", "water"]
    assert model.meta["n_examples"] == 18
    assert model.meta["cross_validation"]["folds"] == 3
    assert 0.0 <= model.threshold <= 1.0
    assert model.predict("قطعی برق در خیابان").category == "power"
    assert model.predict("the bus is late again").category == "bus"
    result = model.predict("آب قطع است")
    assert result.category == "water"
    assert result.classifier == "tfidf-svc-3"
    assert 1 / 3 < result.confidence <= 1.0


def test_save_load_round_trip_predicts_the_same(model: TrainedModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["bus", "power", "water"]
    assert meta["libraries"]["scikit-learn"]
    loaded = TrainedModel.load(tmp_path / "m")
    texts = [e.text for e in SYNTHETIC] + ["چیزی کاملا بی ربط", "something unrelated", ""]
    assert loaded.predict_many(texts) == model.predict_many(texts)
    assert loaded.threshold == model.threshold


def test_one_label_is_refused() -> None:
    with pytest.raises(ValueError, match="two labels"):
        train([Example("a", "x"), Example("b", "x")])


class _Canned:
    """Returns fixed predictions, one per text, so evaluate() can be checked by hand."""

    def __init__(self, predictions: Sequence[tuple[str, float]]) -> None:
        self._predictions = predictions

    def predict_many(self, texts: Sequence[str]) -> list[Classification]:
        assert len(texts) == len(self._predictions)
        return [Classification(c, p, "canned") for c, p in self._predictions]


def test_evaluate_figures_by_hand() -> None:
    examples = [Example(str(i), label) for i, label in enumerate(["a", "a", "a", "b", "b", "c"])]
    # truth:  a    a    a    b    b    c
    # guess:  a    a    b    b    c    c     conf: .9 .4 .8 .3 .6 .95
    canned = _Canned([("a", 0.9), ("a", 0.4), ("b", 0.8), ("b", 0.3), ("c", 0.6), ("c", 0.95)])
    figures = evaluate(canned, examples, threshold=0.5)
    assert figures["n"] == 6
    assert figures["accuracy"] == pytest.approx(4 / 6)
    # a: P 2/2, R 2/3, F1 0.8 ; b: P 1/2, R 1/2, F1 0.5 ; c: P 1/2, R 1/1, F1 2/3
    assert figures["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert figures["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert figures["per_class"]["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert figures["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert figures["confusion"] == {
        "a": {"a": 2, "b": 1, "c": 0},
        "b": {"a": 0, "b": 1, "c": 1},
        "c": {"a": 0, "b": 0, "c": 1},
    }
    # Below 0.5: the 0.4 (right) and the 0.3 (right) go to triage; of the other four, 2 are right.
    assert figures["triage_rate"] == pytest.approx(2 / 6)
    assert figures["auto_precision"] == pytest.approx(2 / 4)
    # At the threshold counts as automatic.
    assert evaluate(canned, examples, threshold=0.4)["triage_rate"] == pytest.approx(1 / 6)
    assert evaluate(canned, examples, threshold=1.0)["auto_precision"] is None
    # Each confidence in a bin of its own: the mean of |confidence - right|.
    gaps = [0.1, 0.6, 0.8, 0.7, 0.6, 0.05]
    assert figures["calibration_error"] == pytest.approx(sum(gaps) / 6, abs=1e-4)


def test_threshold_triages_at_most_the_share() -> None:
    confidences = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    # 15 % of 10 allows one: below 0.2 only the 0.1; a higher threshold would take the 0.2 too.
    assert choose_threshold(confidences, 0.15) == 0.2
    assert choose_threshold(confidences, 0.0) == 0.1
    assert choose_threshold(confidences, 0.3) == 0.4


def test_default_model_is_shipped() -> None:
    meta = json.loads((default_model_dir() / "model.json").read_text(encoding="utf-8"))
    # Trained on the whole shipped corpus: both files, every line.
    names = ("seed.jsonl", "seed_more.jsonl", "seed_extra.jsonl")
    corpus = [read_jsonl(ROOT / "router" / "data" / name) for name in names]
    assert meta["n_examples"] == sum(map(len, corpus)) == len(read_seed())
    assert len(meta["labels"]) == 17
    assert 0.0 < meta["threshold"] < 1.0
    size = sum(f.stat().st_size for f in default_model_dir().iterdir())
    assert size < 5_000_000


def test_cli_eval_json_with_default_model() -> None:
    done = subprocess.run(
        [str(PASOKH), "eval", "--data", str(ROOT / "router" / "data" / "eval.jsonl"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("n", "accuracy", "macro_f1", "per_class", "triage_rate", "auto_precision"):
        assert key in figures
    assert figures["n"] == 425
    assert len(figures["per_class"]) == 17
    # The shipped model must beat chance (1/17) by far; the report gives its exact figures.
    assert figures["macro_f1"] > 0.6
    assert 0.0 <= figures["triage_rate"] <= 0.5


def test_calibration_maps_confidence_to_the_cross_validated_hit_rate() -> None:
    # Out-of-fold: below 0.5 the model was right 1 time in 4, above it always.
    raw = [0.2, 0.3, 0.35, 0.45, 0.6, 0.7, 0.8, 0.9]
    correct = [True, False, False, False, True, True, True, True]
    calibration = fit_calibration(raw, correct)
    model = TrainedModel(pipeline=None, meta={"calibration": calibration})  # type: ignore[arg-type]
    mapped = model.confidence(np.array(raw))
    assert list(mapped) == sorted(mapped)  # monotone: the order of certainty is kept
    assert mapped[0] == pytest.approx(0.25) and mapped[-1] == pytest.approx(1.0)
    assert list(TrainedModel(None, {}).confidence(np.array(raw))) == raw  # type: ignore[arg-type]


def test_expected_calibration_error_by_hand() -> None:
    # Two bins: 0.95 confident and always right (gap 0.05), 0.55 confident and right half the time.
    confidence = [0.95, 0.95, 0.55, 0.55]
    assert expected_calibration_error(confidence, [True, True, True, False]) == pytest.approx(0.05)
    assert expected_calibration_error([0.5, 0.5], [True, False]) == 0.0


def test_trained_model_stores_its_calibration(model: TrainedModel) -> None:
    calibration = model.meta["calibration"]
    assert calibration["x"] == sorted(calibration["x"]) and calibration["y"] == sorted(calibration["y"])
    assert "ece_uncalibrated" in model.meta["cross_validation"]
    # The calibrated score is the margin of the best category over the runner-up.
    assert model.meta["score"] == model.score_kind == "margin"
    first, second = sorted(model.proba(["آب قطع است"])[0])[::-1][:2]
    assert model.predict("آب قطع است").confidence == pytest.approx(
        float(model.confidence(np.array([first - second]))[0])
    )


def test_models_stored_before_version_3_calibrate_the_top_probability(model: TrainedModel) -> None:
    older = TrainedModel(model.pipeline, {k: v for k, v in model.meta.items() if k != "score"})
    assert older.score_kind == "top"
    top = model.proba(["آب قطع است"]).max()
    assert older.predict("آب قطع است").confidence == pytest.approx(
        float(older.confidence(np.array([top]))[0])
    )


def test_svm_probabilities_are_the_softmax_of_its_temperature_scaled_scores(model: TrainedModel) -> None:
    assert model.meta["kind"] == "svc" and model.meta["temperature"] > 0
    texts = [e.text for e in SYNTHETIC] + ["something unrelated", ""]
    expected = softmax(model.pipeline.decision_function(texts), model.meta["temperature"])
    assert np.allclose(model.proba(texts), expected, atol=1e-6)  # the fast path, float32 weights
    assert np.allclose(model.proba(texts).sum(axis=1), 1.0)
    # Two labels: the SVM gives one score per complaint; the softmax of ±score/2 is its sigmoid.
    binary = train([e for e in SYNTHETIC if e.label != "bus"], folds=3)
    score = binary.pipeline.decision_function(["برق قطع است"])[0]
    expected_power = 1 / (1 + np.exp(binary.meta["temperature"] * score))
    assert binary.proba(["برق قطع است"])[0][0] == pytest.approx(expected_power)
    assert binary.predict("برق قطع است").category == "power"


def test_temperature_fits_how_often_the_best_score_is_right() -> None:
    # The first class's score leads by 1 and is right 3 times in 4: the softmax must give it 0.75,
    # so e^T / (e^T + 1) = 0.75, T = ln 3.
    scores = np.array([[1.0, 0.0]] * 4)
    assert fit_temperature(scores, ["a", "a", "a", "b"]) == pytest.approx(np.log(3), abs=1e-3)


def test_top_score_and_margin_by_hand() -> None:
    proba = np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25]])
    assert top_score(proba, "top") == pytest.approx([0.6, 0.4])
    assert top_score(proba, "margin") == pytest.approx([0.3, 0.05])


def test_calibration_has_no_ties_so_the_threshold_triages_the_share_it_was_chosen_for() -> None:
    # 100 distinct scores: the 5 lowest wrong, the next 20 right 3 times in 4 (a flat stretch where
    # isotonic regression makes one wide step: all 20 would share one confidence), the rest right.
    raw = np.linspace(0.01, 1.0, 100)
    correct = [False] * 5 + [i % 4 != 3 for i in range(20)] + [True] * 75
    calibration = fit_calibration(raw, correct)
    assert all(a < b for a, b in zip(calibration["x"], calibration["x"][1:], strict=False))
    assert all(a < b for a, b in zip(calibration["y"], calibration["y"][1:], strict=False))
    mapped = TrainedModel(None, {"calibration": calibration}).confidence(raw)  # type: ignore[arg-type]
    assert list(mapped) == sorted(mapped)
    threshold = choose_threshold(list(mapped), 0.15)
    assert sum(c < threshold for c in mapped) == 15
    # The plain isotonic staircase puts the 6th–25th on one step: the threshold triages only 5.
    iso = IsotonicRegression(out_of_bounds="clip").fit(raw, correct).predict(raw)
    assert sum(c < choose_threshold(list(iso), 0.15) for c in iso) == 5
