"""docker-compose.yml, checked without Docker.

The official Compose loader (compose-go, wrapped by tools/composecheck and built once with Go into
the cache) must accept the file with its eight services and reject broken copies of it; every file
it mounts must exist, Prometheus must scrape each Pasokh service where it listens and Grafana must get
the dashboard Prometheus' data source; and every
PASOKH_* variable a service container gets (from the Dockerfile's ENV and the compose environment)
must be a field of the settings class that service reads, with the value landing in that field.
Without Go these tests fail: they never skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from intake.settings import IntakeSettings
from notifier.settings import NotifierSettings
from pasokh.infra.cache import build_once
from router.settings import RouterSettings
from services.settings import PasokhSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
TOOL_DIR = REPO / "tools" / "composecheck"
TOOL_SOURCES = ("go.mod", "go.sum", "main.go")

SERVICES = {"kafka", "mongo", "topics", "intake", "router", "notifier", "prometheus", "grafana"}
# The settings class each `pasokh <command>` reads.
SETTINGS_BY_COMMAND: dict[str, type[PasokhSettings]] = {
    "intake": IntakeSettings,
    "router": RouterSettings,
    "notifier": NotifierSettings,
    "topics": PasokhSettings,
}
# Which group of its settings holds each web service's host and port.
HTTP_GROUP = {"intake": "intake", "router": "router", "notifier": "notifier"}


def _cache_name() -> str:
    """``composecheck-<compose-go version>-<hash of the tool's sources>``: a new entry on any change."""
    go_mod = (TOOL_DIR / "go.mod").read_text()
    found = re.search(r"github\.com/compose-spec/compose-go/v2 (v\S+)", go_mod)
    assert found, "tools/composecheck/go.mod does not require github.com/compose-spec/compose-go/v2"
    digest = hashlib.sha256()
    for name in TOOL_SOURCES:
        digest.update(name.encode() + b"\0" + (TOOL_DIR / name).read_bytes() + b"\0")
    return f"composecheck-{found.group(1)}-{digest.hexdigest()[:12]}"


@pytest.fixture(scope="module")
def composecheck() -> Path:
    """The validator binary, built once with ``go build`` from a copy of tools/composecheck."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("`go` is not on PATH: it builds tools/composecheck (install Go 1.24 or newer)")

    def build(work: Path) -> None:
        source = work / "src"
        source.mkdir()
        for name in TOOL_SOURCES:
            shutil.copy2(TOOL_DIR / name, source / name)
        result = subprocess.run(
            [go, "build", "-trimpath", "-o", str(work / "composecheck"), "."],
            cwd=source,
            env={**os.environ, "CGO_ENABLED": "0"},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if result.returncode != 0:
            pytest.fail(f"building tools/composecheck failed:\n{(result.stdout + result.stderr)[-4000:]}")
        shutil.rmtree(source)

    return build_once(_cache_name(), build) / "composecheck"


def _check(
    binary: Path, path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the validator with the host's environment minus PASOKH_*/COMPOSE_* (plus ``env``)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PASOKH_", "COMPOSE_"))}
    return subprocess.run(
        [str(binary), *args, str(path)],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _project(binary: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = _check(binary, COMPOSE_FILE, "--json", env=env)
    assert result.returncode == 0, result.stderr
    project: dict[str, Any] = json.loads(result.stdout)
    return project


def test_compose_file_validates_with_all_services(composecheck: Path) -> None:
    result = _check(composecheck, COMPOSE_FILE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == sorted(SERVICES)


BREAKAGES = {
    "unknown top-level key": ("\nvolumes:\n", "\nbogus: true\nvolumes:\n", "bogus"),
    "bad depends_on condition": (
        "condition: service_completed_successfully",
        "condition: service_finished",
        "depends_on.topics.condition",
    ),
    "depends_on an undefined service": ("\n  topics:\n    <<:", "\n  topicz:\n    <<:", "topics"),
    "unknown service attribute": ("    command: intake\n", "    comand: intake\n", "comand"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_is_rejected(composecheck: Path, tmp_path: Path, breakage: str) -> None:
    old, new, mentioned = BREAKAGES[breakage]
    original = COMPOSE_FILE.read_text()
    assert old in original, f"the breakage {breakage!r} no longer applies to docker-compose.yml"
    # The unbroken copy at the same place passes, so the rejection is the breakage's doing.
    (tmp_path / "control").mkdir()
    control = tmp_path / "control" / "docker-compose.yml"
    control.write_text(original)
    assert _check(composecheck, control).returncode == 0
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(original.replace(old, new, 1))

    result = _check(composecheck, broken)

    assert result.returncode != 0, result.stdout
    assert mentioned in result.stderr
    assert result.stdout == ""


def _image_environment() -> dict[str, str]:
    """The PASOKH_* variables the Dockerfile sets with ``ENV NAME=value`` lines."""
    found = dict(re.findall(r"^ENV\s+(PASOKH_\w+)=(\S+)\s*$", DOCKERFILE.read_text(), re.MULTILINE))
    assert "PASOKH_DATA_DIR" in found, "the Dockerfile no longer sets PASOKH_DATA_DIR"
    return found


def _field(settings: BaseModel, variable: str) -> Any:
    """The value of the settings field ``PASOKH_A__B`` names (``settings.a.b``); fails if there is none."""
    node: Any = settings
    for part in variable.removeprefix("PASOKH_").lower().split("__"):
        assert isinstance(node, BaseModel) and part in type(node).model_fields, (
            f"{variable} is not a field of {type(settings).__name__}"
        )
        node = getattr(node, part)
    return node


def _as_text(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


HOST_ENVIRONMENTS = {
    "defaults": {},
    "sms over http": {"PASOKH_SMS__PROVIDER": "http", "PASOKH_SMS__URL": "http://sms.example:9000/send"},
    "kavenegar, smsir secondary": {
        "PASOKH_SMS__PROVIDER": "kavenegar",
        "PASOKH_SMS__SECONDARY": "smsir",
        "PASOKH_SMS__KAVENEGAR__API_KEY": "k-secret",
        "PASOKH_SMS__KAVENEGAR__SENDER": "10004346",
        "PASOKH_SMS__SMSIR__API_KEY": "s-secret",
        "PASOKH_SMS__SMSIR__LINE_NUMBER": "30007732000000",
    },
}


@pytest.mark.parametrize("host", sorted(HOST_ENVIRONMENTS))
def test_every_pasokh_variable_lands_in_a_settings_field(
    composecheck: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    host_env = HOST_ENVIRONMENTS[host]
    project = _project(composecheck, host_env)
    image_env = _image_environment()
    seen = set()

    for name, service in project["services"].items():
        if service.get("build") is None:
            continue  # kafka, mongo: not ours
        command = service["command"][0]
        settings_class = SETTINGS_BY_COMMAND[command]
        seen.add(name)
        # A None value is a passthrough of a host variable that is unset: the container does not get it.
        given = {k: v for k, v in service["environment"].items() if v is not None}
        container_env = {**image_env, **given}
        pasokh_env = {k: v for k, v in container_env.items() if k.startswith("PASOKH_")}
        for key in list(os.environ):
            if key.startswith("PASOKH_"):
                monkeypatch.delenv(key)
        for key, value in pasokh_env.items():
            monkeypatch.setenv(key, value)

        settings = settings_class()

        for variable, value in pasokh_env.items():
            assert _as_text(_field(settings, variable)) == value, f"{name}: {variable}"
        assert settings.kafka.bootstrap_servers == "kafka:9092"
        assert settings.mongo.uri == "mongodb://mongo:27017/"
        assert str(settings.data_dir) == "/var/lib/pasokh"
        if command in HTTP_GROUP:
            http = getattr(settings, HTTP_GROUP[command])
            assert http.host == "0.0.0.0", f"{name} must listen on all interfaces in a container"
            probe = " ".join(service["healthcheck"]["test"])
            assert f"http://127.0.0.1:{http.port}/readyz" in probe, f"{name}'s healthcheck misses its port"
        if command == "intake":
            assert isinstance(settings, IntakeSettings)
            assert [p["target"] for p in service["ports"]] == [settings.intake.port]
        if command == "notifier":
            assert isinstance(settings, NotifierSettings)
            assert settings.sms.provider == host_env.get("PASOKH_SMS__PROVIDER", "log")
            expected_url = host_env.get("PASOKH_SMS__URL")
            assert (str(settings.sms.url) if settings.sms.url else None) == expected_url

    assert seen == set(SETTINGS_BY_COMMAND)


def test_every_mounted_file_exists(composecheck: Path) -> None:
    project = _project(composecheck)
    binds = [
        (name, volume)
        for name, service in project["services"].items()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    ]

    assert {name for name, _ in binds} == {"prometheus", "grafana"}
    for name, volume in binds:
        source = Path(volume["source"])
        assert source.is_relative_to(REPO), f"{name} mounts {source} from outside the repository"
        assert source.exists(), f"{name} mounts {source}, which does not exist"
        assert volume.get("read_only") is True, f"{name} may write into the repository at {source}"


def _mounted(project: dict[str, Any], service: str, target: str) -> Path:
    """The repository path that ``service`` sees at ``target`` (a bind mount of it or of a parent)."""
    for volume in project["services"][service]["volumes"]:
        inside = volume["target"].rstrip("/")
        if volume["type"] == "bind" and (target == inside or target.startswith(inside + "/")):
            return Path(volume["source"]) / target[len(inside) :].lstrip("/")
    raise AssertionError(f"{service} has nothing mounted at {target}")


def test_prometheus_scrapes_every_pasokh_service_with_the_rules(composecheck: Path) -> None:
    project = _project(composecheck)
    prometheus = project["services"]["prometheus"]
    config_arg = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = _mounted(project, "prometheus", config_arg.split("=", 1)[1])
    config = yaml.safe_load(config_path.read_text())
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }

    for name in HTTP_GROUP:
        port = {"intake": 8000, "router": 8001, "notifier": 8002}[name]
        assert targets[f"pasokh-{name}"] == [f"{name}:{port}"]
        environment = project["services"][name]["environment"]
        assert environment[f"PASOKH_{name.upper()}__PORT"] == str(port)
    rule_files = [p for pattern in config["rule_files"] for p in config_path.parent.glob(pattern)]
    assert [p.name for p in rule_files] == ["pasokh.rules.yml"]


def test_grafana_is_provisioned_with_the_dashboard_and_data_source(composecheck: Path) -> None:
    project = _project(composecheck)
    provisioning = _mounted(project, "grafana", "/etc/grafana/provisioning")
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "pasokh.yml").read_text())["providers"]
    dashboards = _mounted(project, "grafana", provider["options"]["path"])
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    dashboard = json.loads((dashboards / "pasokh-overview.json").read_text())

    assert source["url"] == "http://prometheus:9090"
    assert dashboard["templating"]["list"][0]["current"]["value"] == source["uid"]
    titles = " ".join(p["title"] for p in dashboard["panels"] if p["type"] == "row")
    for section in ("Flow", "Latency", "SLA", "SMS", "Kafka"):
        assert section in titles
