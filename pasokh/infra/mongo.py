"""A MongoDB-wire server on a loopback port: ``mongod`` when installed, else FerretDB on SQLite.

FerretDB is built once with Go from the module proxy (its own ``cmd/ferretdb`` panics when built
from the module zip, FerretDB issue #2982, so a small wrapper module embeds it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from pasokh.infra.cache import build_once
from pasokh.infra.errors import InfraError
from pasokh.infra.process import ManagedProcess, free_port

FERRETDB_VERSION = "v1.24.2"
_SOURCES = ("main.go", "go.mod", "go.sum")


def install_ferretdb() -> Path:
    """The path of the FerretDB binary, built once with Go into the cache."""

    def build(work: Path) -> None:
        go = shutil.which("go")
        step = f"building FerretDB {FERRETDB_VERSION} with Go (go build)"
        if go is None:
            raise InfraError(
                "finding `go` on PATH (it builds FerretDB from the Go module proxy)",
                "install Go 1.24 or newer, or put mongod on PATH",
            )
        source = work / "src"
        source.mkdir()
        package = resources.files("pasokh.infra") / "ferretdb"
        for name in _SOURCES:
            (source / name).write_bytes(package.joinpath(name).read_bytes())
        env = {**os.environ, "CGO_ENABLED": "0"}
        try:
            result = subprocess.run(
                [go, "build", "-trimpath", "-o", str(work / "ferretdb"), "."],
                cwd=source,
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(step, "timed out after 1800s") from exc
        if result.returncode != 0:
            raise InfraError(step, (result.stdout + result.stderr)[-4000:])
        shutil.rmtree(source)

    return build_once(f"ferretdb-{FERRETDB_VERSION}", build) / "ferretdb"


class MongoServer:
    """``mongod`` if it is on PATH (real MongoDB), otherwise FerretDB with SQLite files in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.port = 0
        self.kind = "mongod" if shutil.which("mongod") else "ferretdb"
        self.process: ManagedProcess | None = None

    @property
    def uri(self) -> str:
        """The ``mongodb://`` URI of the running server."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, *, timeout: float = 60.0) -> None:
        """Install if needed, start, and wait until it answers ``ping``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        if self.kind == "mongod":
            argv = [
                shutil.which("mongod") or "mongod",
                "--dbpath",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--bind_ip",
                "127.0.0.1",
            ]
        else:
            argv = [
                str(install_ferretdb()),
                f"-listen-addr=127.0.0.1:{self.port}",
                f"-sqlite-url=file:{self.data_dir}/",
            ]
        self.process = ManagedProcess(self.kind, argv, log_path=self.data_dir / f"{self.kind}.log")
        self.process.start()
        self.process.wait_until(self._answers, timeout=timeout, what=f"starting {self.kind}")

    def _answers(self) -> bool:
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]]
        with MongoClient(self.uri, serverSelectionTimeoutMS=1000) as client:
            client.admin.command("ping")
        return True

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a timeout)."""
        if self.process is not None:
            self.process.stop(timeout=15)
