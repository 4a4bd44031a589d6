"""Command-line tools the tests need, built once from the Go module proxy (pasokh.infra.gotools).

The binary lands in the Pasokh cache (``~/.cache/pasokh/go-<name>-<version>/``), so only the first run
on a machine pays for the build. Without Go the calling test fails with the step named: it never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pasokh.infra.errors import InfraError
from pasokh.infra.gotools import go_install

# name → (package to `go install`, version). Versions are pinned: a bump is a reviewed change.
TOOLS = {
    "promtool": ("github.com/prometheus/prometheus/cmd/promtool", "v0.316.0"),
    "kustomize": ("sigs.k8s.io/kustomize/kustomize/v5", "v5.8.1"),
}


def go_tool(name: str) -> Path:
    """The path of tool ``name`` (a key of :data:`TOOLS`), built with ``go install`` if not cached."""
    package, version = TOOLS[name]
    try:
        return go_install(package, version, name)
    except InfraError as exc:
        pytest.fail(str(exc))
