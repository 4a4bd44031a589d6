"""router.serving: the trained model the router runs, with the city's rules and the emergency detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from router.emergency import EmergencyDetector
from router.model import (
    Example,
    TrainedModel,
    default_eval_file,
    default_model_dir,
    read_jsonl,
    softmax,
    train,
)
from router.rules import Rules
from router.serving import BUILTIN_VERSION, HINT_WEIGHT, ServingClassifier
from services.taxonomy import Taxonomy, load_taxonomy

LIGHTS = "چراغ‌های کوچه ما سه شب است خاموش است"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="module")
def shipped() -> TrainedModel:
    return TrainedModel.load(default_model_dir())


def serving(
    model: TrainedModel, taxonomy: Taxonomy, *, rules: Rules | None = None, threshold: float | None = None
) -> ServingClassifier:
    return ServingClassifier(
        model,
        taxonomy=taxonomy,
        rules=rules or Rules([]),
        emergency=EmergencyDetector.load(),
        threshold=threshold,
    )


def test_shipped_model_classifies_and_names_its_version(shipped: TrainedModel, taxonomy: Taxonomy) -> None:
    result = serving(shipped, taxonomy).classify(LIGHTS)
    assert result.category == "lighting" and result.confidence > 0.9
    assert result.classifier == f"{shipped.name}@{BUILTIN_VERSION}"
    assert (result.priority, result.emergency, result.rules, result.hazards) == (None, False, (), ())


def test_threshold_is_the_models_unless_configured(shipped: TrainedModel, taxonomy: Taxonomy) -> None:
    assert serving(shipped, taxonomy).threshold == shipped.threshold
    assert serving(shipped, taxonomy, threshold=0.42).threshold == 0.42


def test_the_citizens_category_decides_between_close_candidates(
    shipped: TrainedModel, taxonomy: Taxonomy
) -> None:
    classifier = serving(shipped, taxonomy)
    vague = "سلام، لطفاً کسی به کوچه ما سر بزند"
    # Too vague for the model: whatever its best guess, it is not confident enough to route it.
    best = classifier.classify(vague)
    assert best.confidence < classifier.threshold
    # A close runner-up (within the hint's weight of the best) wins when the citizen picked it.
    proba = shipped.proba([vague])[0]
    first, second = np.argsort(-proba)[:2]
    assert shipped.labels[first] == best.category and proba[first] - proba[second] < HINT_WEIGHT
    runner_up = shipped.labels[second]
    assert classifier.classify(vague, hint=runner_up).category == runner_up
    # A confident model keeps its answer; a hint that is not a category changes nothing.
    assert classifier.classify(LIGHTS, hint="waste").category == "lighting"
    assert classifier.classify(vague, hint="no-such-category") == classifier.classify(vague)


def test_a_rule_forces_category_and_priority(
    shipped: TrainedModel, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\nname = "lamp-posts-are-traffic"\nphrases = ["تیر چراغ"]\ncategory = "traffic"\n'
        '[[rule]]\nname = "hospital"\nphrases = ["بیمارستان"]\npriority = "high"\n',
        encoding="utf-8",
    )
    classifier = serving(shipped, taxonomy, rules=Rules.load(path, categories=set(taxonomy.categories)))
    forced = classifier.classify("تیر چراغ جلوی بیمارستان خاموش است")
    assert (forced.category, forced.confidence, forced.priority) == ("traffic", 1.0, "high")
    assert forced.rules == ("lamp-posts-are-traffic", "hospital")
    assert classifier.classify(LIGHTS).rules == ()


def test_emergency_is_flagged_whatever_the_category(shipped: TrainedModel, taxonomy: Taxonomy) -> None:
    classifier = serving(shipped, taxonomy)
    result = classifier.classify("چراغ کوچه خاموشه و سیم برقش روی زمین افتاده")
    assert result.emergency and result.hazards == ("power-line",)
    assert not classifier.classify(LIGHTS).emergency


def test_swap_changes_model_and_version(shipped: TrainedModel, taxonomy: Taxonomy) -> None:
    classifier = serving(shipped, taxonomy)
    roads = [Example(f"چاله بزرگ در خیابان {i} آسفالت خراب", "roads") for i in range(6)]
    lights = [Example(f"چراغ کوچه {i} خاموش است لامپ سوخته", "lighting") for i in range(6)]
    small = train(roads + lights, folds=3)
    classifier.swap(small, "20260101T000000-abcdef")
    result = classifier.classify("آسفالت خیابان چاله دارد")
    assert result.classifier == f"{small.name}@20260101T000000-abcdef"
    assert classifier.version == "20260101T000000-abcdef"
    assert result.category == "roads"


def test_a_label_the_city_does_not_have_goes_to_the_fallback(taxonomy: Taxonomy) -> None:
    water = [Example(f"لوله آب {i} ترکیده", "water") for i in range(6)]
    power = [Example(f"برق محله {i} قطع شده", "power") for i in range(6)]
    result = serving(train(water + power, folds=3), taxonomy).classify("لوله آب ترکیده")
    assert (result.category, result.confidence) == (taxonomy.fallback_category, 0.0)


def test_fast_probabilities_equal_the_pipelines(shipped: TrainedModel) -> None:
    texts = [e.text for e in read_jsonl(default_eval_file())[:50]]
    # The shipped linear SVM: the softmax of the pipeline's scores times the model's temperature.
    expected = softmax(shipped.pipeline.decision_function(texts), shipped.meta["temperature"])
    assert np.allclose(shipped.proba(texts), expected, atol=1e-9)


def test_classify_many_answers_as_one_by_one(shipped: TrainedModel, taxonomy: Taxonomy) -> None:
    classifier = serving(shipped, taxonomy, rules=Rules.load(categories=set(taxonomy.categories)))
    texts = [e.text for e in read_jsonl(default_eval_file())[::9]] + ["رشوه خواست", "بوی گاز میاد"]
    hints = [None, "waste", "no-such-category"] * (len(texts) // 3) + [None] * (len(texts) % 3)
    together = classifier.classify_many(texts, hints)
    assert together == [classifier.classify(t, hint=h) for t, h in zip(texts, hints, strict=True)]
    assert classifier.classify_many([]) == []
