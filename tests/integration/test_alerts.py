"""The Prometheus alert rules pass ``promtool check rules`` and their unit tests (``promtool test rules``);
the Prometheus configuration passes ``promtool check config`` and the dashboard's queries parse.

promtool is built once from the Go module proxy and cached (tests/support/gotools.py). A broken copy
of the rules must be refused, so these tests can fail; and every alert the issue asks for must exist
and be unit-tested.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.gotools import go_tool

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "monitoring" / "prometheus"
RULES = PROMETHEUS / "rules" / "pasokh.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "pasokh.rules.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = REPO / "deploy" / "monitoring" / "grafana" / "dashboards" / "pasokh-overview.json"
# lag growing, SLA breaches, SMS failures, dead letters, a service down
REQUIRED_ALERTS = {
    "PasokhConsumerLagGrowing",
    "PasokhSlaBreaches",
    "PasokhSmsFailureRate",
    "PasokhDeadLetters",
    "PasokhServiceDown",
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return go_tool("promtool")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


def _alerts(path: Path) -> set[str]:
    return {rule["alert"] for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]}


def test_rules_pass_promtool_check(promtool: Path) -> None:
    result = _run(promtool, "check", "rules", RULES)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts(RULES))} rules found" in result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool: Path) -> None:
    result = _run(promtool, "test", "rules", RULE_TESTS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_required_alert_exists_and_is_unit_tested() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}

    assert REQUIRED_ALERTS <= _alerts(RULES)
    assert _alerts(RULES) <= tested, "an alert without a unit test that shows it firing"


def test_a_wrong_expectation_fails_the_rule_tests(promtool: Path, tmp_path: Path) -> None:
    # The same tests against rules whose SMS threshold is lowered past the healthy provider's rate:
    # the expected single alert becomes two, and promtool must say so.
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "pasokh.rules.yml").write_text(RULES.read_text().replace("> 0.1\n", "> -1\n", 1))
    (tmp_path / "tests").mkdir()
    copy = tmp_path / "tests" / "pasokh.rules.test.yml"
    copy.write_text(RULE_TESTS.read_text())

    result = _run(promtool, "test", "rules", copy)

    assert result.returncode != 0, result.stdout
    assert "PasokhSmsFailureRate" in result.stdout + result.stderr


def test_a_broken_rule_fails_promtool_check(promtool: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(RULES.read_text().replace("rate(pasokh_sms_total", "rate(pasokh_sms_total{", 1))

    result = _run(promtool, "check", "rules", broken)

    assert result.returncode != 0, result.stdout


def test_prometheus_config_passes_promtool_check(promtool: Path) -> None:
    # `check config` also loads the rule files the configuration names, relative to it.
    result = _run(promtool, "check", "config", PROMETHEUS_CONFIG)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "pasokh.rules.yml" in result.stdout + result.stderr


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_dashboard_query_is_valid_promql(promtool: Path, tmp_path: Path) -> None:
    # promtool parses the expressions of recording rules: one rule per panel query.
    expressions = _dashboard_expressions()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": e.replace("$__rate_interval", "5m")}
                    for i, e in enumerate(expressions)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))

    result = _run(promtool, "check", "rules", path)

    assert len(expressions) >= 20
    assert result.returncode == 0, result.stdout + result.stderr
