"""Command-line tools published as Go modules, installed once with ``go install`` into the cache.

The module proxy is one of the registries this project may use; ``go install pkg@version`` builds
outside any module, from the versions that module's own go.sum pins. Each tool and version is its own
cache entry (``go-<binary>-<version>``), so a warm run costs nothing; Go's build cache makes a rebuild
after a version bump quick too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pasokh.infra.cache import build_once
from pasokh.infra.errors import InfraError


def go_install(package: str, version: str, binary: str, *, timeout: float = 1800) -> Path:
    """The path of ``binary`` built by ``go install package@version`` (cached)."""

    def build(work: Path) -> None:
        go = shutil.which("go")
        step = f"go install {package}@{version}"
        if go is None:
            raise InfraError(step, "install Go 1.24 or newer (`make` does it with apt)")
        env = {**os.environ, "GOBIN": str(work), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
        try:
            result = subprocess.run(
                [go, "install", "-trimpath", f"{package}@{version}"],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(step, f"timed out after {timeout:.0f}s") from exc
        if result.returncode != 0:
            raise InfraError(step, (result.stdout + result.stderr)[-4000:])
        if not (work / binary).is_file():
            raise InfraError(step, f"no {binary} in {work} after a successful build")

    return build_once(f"go-{binary}-{version}", build) / binary
