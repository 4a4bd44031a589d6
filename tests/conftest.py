"""Fixtures shared by every suite. Integration and e2e tests get a real Kafka broker and a real
MongoDB-wire server, started once per test session (or taken from PASOKH_KAFKA__BOOTSTRAP_SERVERS /
PASOKH_MONGO__URI); if either cannot start the session fails, it never skips."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasokh.infra.local import LocalInfra
from services.settings import PasokhSettings


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    """Kafka + MongoDB-wire server for the whole session, topics created."""
    local = LocalInfra(PasokhSettings(), tmp_path_factory.mktemp("infra"), log=False)
    local.start()
    yield local
    local.stop()


@pytest.fixture
def database() -> str:
    """A database of its own for each test, so tests never see each other's records."""
    return f"pasokh_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root directory."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_leaking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's PASOKH_* variables must not change what a unit test sees; integration tests
    # get their servers from the `infra` fixture explicitly.
    for key in list(os.environ):
        if key.startswith("PASOKH_") and key not in ("PASOKH_KAFKA__BOOTSTRAP_SERVERS", "PASOKH_MONGO__URI"):
            monkeypatch.delenv(key)
