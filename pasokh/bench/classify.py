"""``pasokh bench classify``: classification latency per complaint, as the router runs it.

Run: ``pasokh bench classify [--data FILE.jsonl] [--rounds 5] [--model DIR] [--json]``.

One complaint at a time (the router classifies each message as it comes), through the classifier
the router builds (:func:`router.bootstrap.build_classifier`: the model, the city's rules and the
emergency detector), over every text of a JSONL file, several rounds after a warm-up round. No
Kafka or MongoDB involved: this is the CPU cost of classifying only.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from router.bootstrap import build_classifier
from router.model import read_jsonl
from router.settings import RouterSettings
from services.taxonomy import load_taxonomy


def measure(
    texts: list[str], *, rounds: int, model_dir: Path | None = None, batch: int = 0
) -> dict[str, Any]:
    """Per-complaint latency percentiles in milliseconds over ``rounds`` passes on ``texts``.

    With ``batch`` > 0, also the CPU time per complaint when classified ``batch`` at a time
    (``classify_many``, as a router handling messages in batches can).
    """
    settings = RouterSettings()
    if model_dir is not None:
        settings.classifier.model_dir = model_dir
    taxonomy = load_taxonomy(settings.taxonomy_file)
    classifier = build_classifier(settings, taxonomy)
    for text in texts:  # warm-up: first calls pay for lazy imports and caches
        classifier.classify(text)
    samples, cpu_samples = [], []
    for _ in range(rounds):
        for text in texts:
            started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
            classifier.classify(text)
            cpu_samples.append(time.thread_time_ns() - cpu_started)
            samples.append(time.perf_counter_ns() - started)
    ms = np.array(samples) / 1e6
    cpu_ms = np.array(cpu_samples) / 1e6
    batched: dict[str, Any] = {}
    if batch > 0:
        chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
        cpu_started = time.thread_time_ns()
        for _ in range(rounds):
            for chunk in chunks:
                classifier.classify_many(chunk)
        per_complaint = (time.thread_time_ns() - cpu_started) / 1e6 / (rounds * len(texts))
        batched = {"batch": batch, "batched_cpu_ms_per_complaint": round(per_complaint, 3)}
    return {
        "classifier": classifier.name,
        "complaints": len(texts),
        "rounds": rounds,
        "measured": len(samples),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 3),
        # CPU time of this thread only: what one complaint costs when the core is not shared.
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
        "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 3),
        "per_second_one_core": round(1000 / float(ms.mean()), 1),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        **batched,
    }


def main(data: Path, *, rounds: int, model_dir: Path | None, as_json: bool, batch: int = 0) -> dict[str, Any]:
    """Run the benchmark and print the figures (and one JSON line with ``as_json``)."""
    texts = [example.text for example in read_jsonl(data)]
    figures = measure(texts, rounds=rounds, model_dir=model_dir, batch=batch)
    print(
        f"{figures['classifier']}: {figures['measured']} classifications "
        f"({figures['complaints']} complaints x {rounds} rounds), one at a time\n"
        f"p50 {figures['p50_ms']} ms  p90 {figures['p90_ms']} ms  p99 {figures['p99_ms']} ms  "
        f"max {figures['max_ms']} ms  ({figures['per_second_one_core']}/s on one core)\n"
        f"CPU time per complaint: p50 {figures['cpu_p50_ms']} ms  p99 {figures['cpu_p99_ms']} ms\n"
        f"{figures['cpus']} CPUs, load average {figures['load_average_1m']} (other work on the machine "
        "inflates the tail)"
    )
    if batch > 0:
        print(f"in batches of {batch}: {figures['batched_cpu_ms_per_complaint']} ms CPU per complaint")
    if as_json:
        print(json.dumps(figures))
    return figures
