"""deploy/: the kustomize base and production overlay render, and what they render is valid and sound.

Rendering uses ``kubectl kustomize`` when kubectl is on PATH (it embeds kustomize), otherwise a
kustomize built once from the Go module proxy (tests/support/gotools.py). Built-in kinds are
validated strictly (unknown fields are errors) against the Kubernetes JSON schemas bundled in the
PyPI package kubernetes-validate. The Prometheus Operator's ServiceMonitor and PrometheusRule are
validated, as strictly, against the CRDs shipped in the operator's Go module (fetched with
``go mod download`` into Go's module cache). Strimzi's Kafka, KafkaNodePool and KafkaTopic are
validated, as strictly, against the CRDs that Strimzi's own generator (``io.strimzi:crd-generator``)
writes from Strimzi's model classes (``io.strimzi:api``), both from Maven Central, generated once
into the Pasokh cache (tests/support/strimzi.py); the tests below check what a schema cannot say.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.contracts import topics
from tests.support.gotools import go_tool
from tests.support.strimzi import strimzi_crds

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = {"base": DEPLOY / "base", "production": DEPLOY / "overlays" / "production"}
KUBERNETES_VERSION = "1.33.0"
CUSTOM_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "ServiceMonitor", "PrometheusRule"}
# The Go module that carries the Prometheus Operator's CRDs (example/prometheus-operator-crd/).
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
SERVICES = {"intake": 8000, "router": 8001, "notifier": 8002}


@pytest.fixture(scope="module")
def render() -> Any:
    """``render(directory)`` → the list of documents kustomize builds from it."""
    kubectl = shutil.which("kubectl")
    command = [kubectl, "kustomize"] if kubectl else [str(go_tool("kustomize")), "build"]

    def run(directory: Path) -> list[dict[str, Any]]:
        result = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return run


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest, render: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = render(OVERLAYS[request.param])
    return docs


def _strict(node: Any) -> Any:
    """An OpenAPI schema of a CRD where objects with declared properties refuse undeclared ones."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            if not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
    elif isinstance(node, list):
        node = [_strict(v) for v in node]
    return node


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) → a validator for each served version of the Prometheus Operator's CRDs."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("`go` is not on PATH: it fetches the Prometheus Operator's CRDs")
    result = subprocess.run(
        [go, "mod", "download", "-json", PROMETHEUS_OPERATOR], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    directory = Path(json.loads(result.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    validators: dict[tuple[str, str], Any] = {}
    for name in ("servicemonitors", "prometheusrules"):
        crd = yaml.safe_load((directory / f"monitoring.coreos.com_{name}.yaml").read_text())
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            validators[key] = jsonschema.Draft7Validator(schema)
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in validators
    return validators


@pytest.fixture(scope="module")
def strimzi_schemas() -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) → a validator for Strimzi's Kafka, KafkaNodePool and KafkaTopic CRDs."""
    validators: dict[tuple[str, str], Any] = {}
    for path in strimzi_crds().values():
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            validators[key] = jsonschema.Draft7Validator(schema)
    assert {kind for _, kind in validators} == {"Kafka", "KafkaNodePool", "KafkaTopic"}
    return validators


def _crd_errors(validators: dict[tuple[str, str], Any], doc: dict[str, Any]) -> list[str]:
    validator = validators[(doc["apiVersion"], doc["kind"])]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def _of(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_built_in_resource_is_valid(rendered: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in rendered}

    for doc in rendered:
        if doc["kind"] not in CUSTOM_KINDS:
            _validate(doc)
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "StatefulSet",
        "ConfigMap",
    } <= kinds
    assert (
        kinds
        - {
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "StatefulSet",
            "ConfigMap",
            "Job",
            "Namespace",
        }
        == CUSTOM_KINDS
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("containerPort: 8001", 'containerPort: "eight thousand"'),  # wrong type
        ("  replicas: 1\n  selector:", "  replica: 1\n  selector:"),  # unknown field
        ("minAvailable: 1", "minAvailable: [1]"),
    ],
)
def test_a_broken_manifest_is_rejected(render: Any, tmp_path: Path, old: str, new: str) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    path = next(p for p in (copy / "base").glob("*.yaml") if old in p.read_text())
    path.write_text(path.read_text().replace(old, new, 1))
    docs = render(copy / "base")
    errors = []

    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            try:
                _validate(doc)
            except kubernetes_validate.ValidationError as exc:
                errors.append(exc)

    assert len(errors) == 1


def test_no_secret_is_defined_only_referenced(rendered: list[dict[str, Any]]) -> None:
    text = json.dumps(rendered)
    references = {
        (var["valueFrom"]["secretKeyRef"]["name"], var["name"])
        for d in _of(rendered, "Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
        for var in c.get("env", [])
        if "valueFrom" in var
    }

    assert not _of(rendered, "Secret")
    assert "pasokh-dev-only-secret-key" not in text
    assert ("pasokh-secrets", "PASOKH_SECRET_KEY") in references
    assert ("pasokh-secrets", "PASOKH_SECRET_KEYS_PREVIOUS") in references  # a key rotation's old keys
    assert ("pasokh-secrets", "PASOKH_MONGO__URI") in references
    for d in _of(rendered, "Deployment").values():
        for c in d["spec"]["template"]["spec"]["containers"]:
            for var in c.get("env", []):
                secretish = any(w in var["name"] for w in ("SECRET", "KEY", "PASSWORD", "MONGO__URI"))
                assert not (secretish and "value" in var), f"{var['name']} is given in clear"


def test_services_have_probes_resources_and_pdbs(rendered: list[dict[str, Any]]) -> None:
    deployments = _of(rendered, "Deployment")
    services = _of(rendered, "Service")
    pdbs = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in _of(rendered, "PodDisruptionBudget").values()
    }

    assert set(deployments) == {f"pasokh-{n}" for n in SERVICES}
    for name, port in SERVICES.items():
        pod = deployments[f"pasokh-{name}"]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["args"] == [name]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        env = {v["name"]: v.get("value") for v in container["env"]}
        assert env[f"PASOKH_{name.upper()}__PORT"] == str(port)
        assert env[f"PASOKH_{name.upper()}__HOST"] == "0.0.0.0"
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        assert f"pasokh-{name}" in pdbs
        service = services[f"pasokh-{name}"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["port"] == port
    pods = [d["spec"]["template"]["spec"] for k in ("StatefulSet", "Job") for d in _of(rendered, k).values()]
    for pod in pods:
        for container in pod["containers"] + pod.get("initContainers", []):
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}, container["name"]
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, container["name"]


def test_hpas_scale_intake_by_cpu_and_workers_up_to_the_partition_count(
    rendered: list[dict[str, Any]],
) -> None:
    hpas = _of(rendered, "HorizontalPodAutoscaler")
    partitions = {
        t["spec"]["topicName"]: t["spec"]["partitions"] for t in _of(rendered, "KafkaTopic").values()
    }
    config = _of(rendered, "ConfigMap")["pasokh-config"]["data"]
    reads = {"router": [topics.SUBMITTED, topics.EVENTS], "notifier": [topics.EVENTS]}

    intake = hpas["pasokh-intake"]["spec"]
    assert intake["metrics"][0]["resource"]["name"] == "cpu"
    assert intake["scaleTargetRef"]["name"] == "pasokh-intake"
    assert intake["minReplicas"] >= 2
    for worker, consumed in reads.items():
        spec = hpas[f"pasokh-{worker}"]["spec"]
        assert spec["scaleTargetRef"]["name"] == f"pasokh-{worker}"
        assert spec["maxReplicas"] == min(partitions[t] for t in consumed), worker
    assert int(config["PASOKH_KAFKA__TOPIC_PARTITIONS"]) == partitions[topics.SUBMITTED]


def test_kafka_is_strimzi_kraft_with_pasokh_s_topics(rendered: list[dict[str, Any]]) -> None:
    (kafka,) = _of(rendered, "Kafka").values()
    (pool,) = _of(rendered, "KafkaNodePool").values()
    topic_resources = _of(rendered, "KafkaTopic").values()
    config = _of(rendered, "ConfigMap")["pasokh-config"]["data"]
    replicas = pool["spec"]["replicas"]

    assert kafka["apiVersion"] == pool["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    assert "zookeeper" not in kafka["spec"]
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert config["PASOKH_KAFKA__BOOTSTRAP_SERVERS"] == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    assert sorted(t["spec"]["topicName"] for t in topic_resources) == sorted(topics.ALL)
    min_isr = kafka["spec"]["kafka"]["config"]["min.insync.replicas"]
    for topic in topic_resources:
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["replicas"] == replicas
        assert topic["spec"]["config"]["min.insync.replicas"] == min_isr
    assert int(config["PASOKH_KAFKA__REPLICATION_FACTOR"]) == replicas
    assert min_isr == (2 if replicas >= 3 else 1)


def test_mongodb_is_a_replica_set_behind_a_headless_service(rendered: list[dict[str, Any]]) -> None:
    mongo = _of(rendered, "StatefulSet")["mongo"]
    service = _of(rendered, "Service")[mongo["spec"]["serviceName"]]
    (container,) = mongo["spec"]["template"]["spec"]["containers"]
    (init,) = _of(rendered, "Job")["mongo-init-replica-set"]["spec"]["template"]["spec"]["containers"]

    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= mongo["spec"]["template"]["metadata"]["labels"].items()
    assert "--replSet=rs0" in container["args"]
    assert {v["name"]: v.get("value") for v in init["env"]}["MONGO_MEMBERS"] == str(mongo["spec"]["replicas"])


def test_network_policies_deny_by_default_and_let_prometheus_scrape(rendered: list[dict[str, Any]]) -> None:
    policies = _of(rendered, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    scrape = policies["pasokh-metrics"]["spec"]

    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert {p["port"] for p in scrape["ingress"][0]["ports"]} == set(SERVICES.values())
    (kafka,) = _of(rendered, "Kafka").values()
    (peer,) = kafka["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    for deployment in _of(rendered, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert peer["podSelector"]["matchLabels"].items() <= labels.items()  # may reach Kafka


def test_service_monitor_scrapes_the_three_services(rendered: list[dict[str, Any]]) -> None:
    (monitor,) = _of(rendered, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    scraped = {
        name for name, s in _of(rendered, "Service").items() if selector <= s["metadata"]["labels"].items()
    }
    (endpoint,) = monitor["spec"]["endpoints"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert scraped == {f"pasokh-{n}" for n in SERVICES}
    assert endpoint["path"] == "/metrics"
    assert all(
        s["spec"]["ports"][0]["name"] == endpoint["port"]
        for n, s in _of(rendered, "Service").items()
        if n in scraped
    )


def test_alert_rules_and_dashboard_are_the_compose_ones(rendered: list[dict[str, Any]]) -> None:
    (rule,) = _of(rendered, "PrometheusRule").values()
    dashboard = _of(rendered, "ConfigMap")["pasokh-grafana-dashboard"]
    monitoring = DEPLOY / "monitoring"
    rules = yaml.safe_load((monitoring / "prometheus" / "rules" / "pasokh.rules.yml").read_text())
    dashboard_file = monitoring / "grafana" / "dashboards" / "pasokh-overview.json"

    assert rule["spec"] == rules, "run deploy/monitoring/render_prometheusrule.py"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["pasokh-overview.json"]) == json.loads(dashboard_file.read_text())


def test_prometheus_operator_resources_match_their_crds(
    rendered: list[dict[str, Any]], crd_schemas: dict[tuple[str, str], Any]
) -> None:
    checked = [d for d in rendered if d["kind"] in {"ServiceMonitor", "PrometheusRule"}]

    assert len(checked) == 2
    for doc in checked:
        assert _crd_errors(crd_schemas, doc) == [], doc["kind"]


def test_a_misspelt_service_monitor_field_is_rejected(
    rendered: list[dict[str, Any]], crd_schemas: dict[tuple[str, str], Any]
) -> None:
    (monitor,) = _of(rendered, "ServiceMonitor").values()
    broken = json.loads(json.dumps(monitor))
    broken["spec"]["endpoints"][0]["pth"] = broken["spec"]["endpoints"][0].pop("path")
    (rule,) = _of(rendered, "PrometheusRule").values()
    bad_rule = json.loads(json.dumps(rule))
    bad_rule["spec"]["groups"][0]["rules"][0]["for"] = 120  # a duration is a string like "2m"

    assert any("pth" in e for e in _crd_errors(crd_schemas, broken))
    assert _crd_errors(crd_schemas, bad_rule)


def test_strimzi_resources_match_their_crds(
    rendered: list[dict[str, Any]], strimzi_schemas: dict[tuple[str, str], Any]
) -> None:
    checked = [d for d in rendered if d["kind"] in {"Kafka", "KafkaNodePool", "KafkaTopic"}]

    assert len(checked) == 2 + len(topics.ALL)
    for doc in checked:
        assert _crd_errors(strimzi_schemas, doc) == [], (doc["kind"], doc["metadata"]["name"])


def test_a_misspelt_or_mistyped_strimzi_field_is_rejected(
    rendered: list[dict[str, Any]], strimzi_schemas: dict[tuple[str, str], Any]
) -> None:
    (kafka,) = _of(rendered, "Kafka").values()
    misspelt = json.loads(json.dumps(kafka))
    misspelt["spec"]["kafka"]["listners"] = misspelt["spec"]["kafka"].pop("listeners")
    (pool,) = _of(rendered, "KafkaNodePool").values()
    bad_role = json.loads(json.dumps(pool))
    bad_role["spec"]["roles"] = ["broker", "zookeeper"]  # KRaft roles are broker and controller
    topic = next(iter(_of(rendered, "KafkaTopic").values()))
    bad_topic = json.loads(json.dumps(topic))
    bad_topic["spec"]["partitions"] = "six"

    assert any("listners" in e for e in _crd_errors(strimzi_schemas, misspelt))
    assert any("zookeeper" in e for e in _crd_errors(strimzi_schemas, bad_role))
    assert any("six" in e for e in _crd_errors(strimzi_schemas, bad_topic))
