"""Failures to obtain or start the local infrastructure are clear errors naming the step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pasokh.infra.errors import InfraError
from pasokh.infra.kafka import KAFKA_VERSION
from pasokh.infra.local import LocalInfra
from pasokh.infra.mongo import MongoServer, ferretdb_cache_name
from pasokh.infra.postgres import PostgresServer
from services.settings import KafkaSettings, MongoSettings, PasokhSettings


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PASOKH_CACHE_DIR", str(cache))
    return cache


def test_missing_maven_names_the_step(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))

    with pytest.raises(
        InfraError, match=r"finding `mvn` on PATH \(it downloads Kafka's jars from Maven Central\)"
    ):
        LocalInfra(
            PasokhSettings(kafka=KafkaSettings(), mongo=MongoSettings()), tmp_path / "var", log=False
        ).start()

    assert not (empty_cache / f"kafka-{KAFKA_VERSION}").exists(), (
        "a failed download must leave no cache entry"
    )


def test_a_server_that_dies_at_start_is_reported_with_its_log(empty_cache: Path, tmp_path: Path) -> None:
    # A FerretDB "binary" in the cache that fails like a broken build would.
    fake = empty_cache / ferretdb_cache_name() / "ferretdb"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 'sqlite: unable to open database' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = MongoServer(tmp_path / "mongo", backend="ferretdb-sqlite")

    with pytest.raises(InfraError) as failure:
        server.start(timeout=20)

    message = str(failure.value)
    assert "starting ferretdb failed" in message
    assert "exited with code 3" in message and "unable to open database" in message


def test_an_unknown_local_mongo_backend_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASOKH_LOCAL_MONGO", "ferretdb-mysql")

    with pytest.raises(InfraError, match=r"reading PASOKH_LOCAL_MONGO failed:\n.*'ferretdb-mysql'"):
        MongoServer(tmp_path / "mongo")


def test_missing_postgresql_names_the_step_and_the_package(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    monkeypatch.setattr("pasokh.infra.postgres.DEBIAN_ROOT", tmp_path / "no-postgresql")

    with pytest.raises(InfraError, match=r"(?s)finding PostgreSQL 15\+ .*apt-get install postgresql"):
        PostgresServer(tmp_path / "pg").start()


def test_pasokh_up_fails_loudly_when_infrastructure_cannot_start(empty_cache: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASOKH_")}
    env.update(PASOKH_CACHE_DIR=str(empty_cache), PASOKH_DATA_DIR=str(tmp_path / "var"), PATH=str(tmp_path))
    pasokh = Path(sys.executable).with_name("pasokh")

    result = subprocess.run([str(pasokh), "up"], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert "pasokh up: finding `mvn` on PATH" in result.stdout
    assert "ready" not in result.stdout.split()
