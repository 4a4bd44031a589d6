"""Every service's /metrics after real traffic: the issue's metrics are there, no label is personal.

Complaints with phone numbers and free text go in over HTTP (several channels, a routed one, an unclear
one, bad requests, unknown tracking codes), flow through Kafka to the router and the notifier, and an
SMS comes out; then the three services' /metrics pages are scraped and every label of every sample is
checked (tests/support/metric_labels.py).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.metric_labels import why_not
from tests.support.sms_server import SmsCapture
from tests.support.system import PasokhUp

PHONE = "09351234567"
TEXTS = [
    "چراغ‌های کوچه ما سه شب است خاموش است، شماره من 09351234567",
    "the bin outside number 12 has not been emptied for a week",
    "یک چیزی",
]


def _scrape(system: PasokhUp, service: str) -> dict[str, list[Any]]:
    response = httpx.get(f"{system.url(service)}/metrics", timeout=10)
    assert response.status_code == 200
    families: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.text):
        families.setdefault(family.name, []).extend(family.samples)
    return families


def _value(samples: list[Any], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_after_real_traffic_are_complete_and_impersonal(system: PasokhUp, sms: SmsCapture) -> None:
    intake = system.url("intake")
    codes = []
    for text, channel in zip(TEXTS, ("web", "app", "web"), strict=True):
        response = httpx.post(
            f"{intake}/v1/complaints",
            json={"text": text, "phone": PHONE, "channel": channel, "district": "3"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        codes.append(response.json()["tracking_code"])
    assert httpx.get(f"{intake}/v1/complaints/{codes[0]}", timeout=10).status_code == 200
    assert httpx.get(f"{intake}/v1/complaints/0000000000", timeout=10).status_code == 404
    assert httpx.post(f"{intake}/v1/complaints", json={"text": PHONE}, timeout=10).status_code == 422
    assert httpx.get(f"{intake}/no/such/{PHONE}", timeout=10).status_code == 404
    sms.wait_for(codes[0].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")), timeout=60)

    # Once everything is consumed and committed, each worker's lag gauge (refreshed every 5 s) reads 0
    # on every partition it owns: highwater and committed offset agree, no off-by-one.
    scraped: dict[str, dict[str, list[Any]]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        scraped = {s: _scrape(system, s) for s in ("intake", "router", "notifier")}
        lags = [scraped[s].get("pasokh_kafka_consumer_lag", []) for s in ("router", "notifier")]
        if all(lags) and all(sample.value == 0 for samples in lags for sample in samples):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"consumer lag not back to 0: {lags}")

    problems = [
        f"{service}: {sample.name}: {reason}"
        for service, families in scraped.items()
        for samples in families.values()
        for sample in samples
        for name, value in sample.labels.items()
        if (reason := why_not(name, value))
    ]
    assert not problems, "\n".join(problems)
    everything = repr(scraped)
    for secret in (PHONE, "9351234567", *codes):
        assert secret not in everything

    intake_samples = [s for samples in scraped["intake"].values() for s in samples]
    router_samples = [s for samples in scraped["router"].values() for s in samples]
    notifier_samples = [s for samples in scraped["notifier"].values() for s in samples]
    assert _value(intake_samples, "pasokh_complaints_submitted_total", channel="web") >= 2
    assert _value(intake_samples, "pasokh_complaints_submitted_total", channel="app") >= 1
    assert (
        _value(
            intake_samples, "pasokh_http_requests_total", route="/v1/complaints/{tracking_code}", status="404"
        )
        >= 1
    )
    assert _value(intake_samples, "pasokh_http_requests_total", route="unmatched", status="404") >= 1
    assert (
        _value(router_samples, "pasokh_complaints_decided_total", status="routed", category="lighting") >= 1
    )
    assert _value(router_samples, "pasokh_classifier_confidence_count") >= 3
    assert _value(router_samples, "pasokh_submitted_to_decided_seconds_count") >= 3
    assert _value(notifier_samples, "pasokh_sms_total", outcome="sent") >= 1
    assert _value(notifier_samples, "pasokh_decided_to_sms_seconds_count", template="routed") >= 1
    for service, group in (("router", "pasokh-router"), ("notifier", "pasokh-notifier")):
        lag = [s for s in scraped[service]["pasokh_kafka_consumer_lag"] if s.labels["group"] == group]
        assert lag, f"{service} exposes no consumer lag"
    for service in scraped:
        assert "process_resident_memory_bytes" in scraped[service], service
