"""Strimzi's CRDs (Kafka, KafkaNodePool, KafkaTopic), generated once from Strimzi's jars on Maven Central.

Strimzi publishes no CRD files to a package registry, but it does publish the two things its own build
makes them from: the model classes (``io.strimzi:api``) and its generator
(``io.strimzi:crd-generator``, main class ``io.strimzi.crdgenerator.CrdGenerator``). Maven fetches
both with their dependencies (into ``~/.m2``), one Java run writes the CRDs, and the YAML files are
kept in the Pasokh cache (``~/.cache/pasokh/strimzi-crds-<version>/``), so a warm machine neither
downloads nor runs Java again. Without ``mvn`` or ``java``, or offline on a cold cache, the calling
test fails with the step named: it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pasokh.infra.cache import build_once

# Pinned: a bump is a reviewed change (the CRDs of the operator version the cluster runs).
STRIMZI_VERSION = "0.45.0"
API_VERSION = "v1beta2"
# CRD file name → the model class Strimzi's build generates it from (api/pom.xml of Strimzi).
CLASSES = {
    "kafka.yaml": "io.strimzi.api.kafka.model.kafka.Kafka",
    "kafkanodepool.yaml": "io.strimzi.api.kafka.model.nodepool.KafkaNodePool",
    "kafkatopic.yaml": "io.strimzi.api.kafka.model.topic.KafkaTopic",
}
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.pasokh</groupId>
  <artifactId>strimzi-crds</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>@V@</version></dependency>
    <dependency>
      <groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>@V@</version>
    </dependency>
  </dependencies>
</project>
"""


def _run(step: str, command: list[str], timeout: float) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{step}: timed out after {timeout:.0f}s")
    if result.returncode != 0:
        pytest.fail(f"{step} failed:\n{(result.stdout + result.stderr)[-4000:]}")


def _tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: {why} (apt-get install maven openjdk-17-jre-headless)")
    return path


def _generate(work: Path) -> None:
    mvn = _tool("mvn", "it downloads Strimzi's api and crd-generator jars from Maven Central")
    java = _tool("java", "it runs Strimzi's CrdGenerator")
    (work / "pom.xml").write_text(_POM.replace("@V@", STRIMZI_VERSION))
    lib = work / "lib"
    _run(
        f"downloading io.strimzi:api and io.strimzi:crd-generator {STRIMZI_VERSION} from Maven Central",
        [mvn, "-B", "-q", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={lib}", "-DincludeScope=runtime"],
        900,
    )  # fmt: skip
    _run(
        f"generating Strimzi {STRIMZI_VERSION} CRDs (io.strimzi.crdgenerator.CrdGenerator)",
        [java, "-Xmx512m", "-cp", f"{lib}/*", "io.strimzi.crdgenerator.CrdGenerator", "--yaml",
         "--api-versions", API_VERSION, "--storage-version", API_VERSION,
         *(f"{cls}={work / name}" for name, cls in CLASSES.items())],
        300,
    )  # fmt: skip
    for name in CLASSES:
        if not (work / name).is_file():
            pytest.fail(f"Strimzi's CrdGenerator wrote no {name}")
    shutil.rmtree(lib)  # the jars stay in ~/.m2; the cache entry needs only the CRDs


def strimzi_crds() -> dict[str, Path]:
    """CRD file name (a key of :data:`CLASSES`) → the generated CRD, built once into the cache."""
    directory = build_once(f"strimzi-crds-{STRIMZI_VERSION}", _generate)
    return {name: directory / name for name in CLASSES}
