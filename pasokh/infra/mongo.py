"""A MongoDB-wire server on a loopback port: ``mongod`` when installed, else FerretDB on PostgreSQL
when PostgreSQL is installed, else FerretDB on SQLite; ``PASOKH_LOCAL_MONGO`` can choose one.

FerretDB is built once with Go from the module proxy (its own ``cmd/ferretdb`` panics when built
from the module zip, FerretDB issue #2982, so a small wrapper module embeds it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from pasokh.infra.cache import build_once
from pasokh.infra.errors import InfraError
from pasokh.infra.postgres import PostgresServer, find_postgres
from pasokh.infra.process import ManagedProcess, free_port, port_is_free

FERRETDB_VERSION = "v1.24.2"
_SOURCES = ("main.go", "go.mod", "go.sum")
_PACKAGE = resources.files("pasokh.infra") / "ferretdb"

BACKEND_ENV = "PASOKH_LOCAL_MONGO"
# auto: mongod if it is on PATH, else FerretDB on PostgreSQL if PostgreSQL is installed (`make` installs
# it), else FerretDB on SQLite, which is one to three orders of magnitude slower at updates.
BACKENDS = ("auto", "ferretdb-sqlite", "ferretdb-postgresql", "mongod")


def backend_from_env() -> str:
    """``$PASOKH_LOCAL_MONGO`` (``auto`` when unset or empty); an unknown value is an InfraError."""
    value = os.environ.get(BACKEND_ENV, "").strip() or "auto"
    if value not in BACKENDS:
        raise InfraError(
            f"reading {BACKEND_ENV}", f"unknown value {value!r}; expected one of {', '.join(BACKENDS)}"
        )
    return value


def ferretdb_cache_name() -> str:
    """The cache entry of the FerretDB binary: the version and a hash of our wrapper's sources, so a
    change to main.go, go.mod or go.sum builds a new binary."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + _PACKAGE.joinpath(name).read_bytes())
    return f"ferretdb-{FERRETDB_VERSION}-{digest.hexdigest()[:10]}"


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
        for name in _SOURCES:
            (source / name).write_bytes(_PACKAGE.joinpath(name).read_bytes())
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

    return build_once(ferretdb_cache_name(), build) / "ferretdb"


def _auto_kind() -> str:
    if shutil.which("mongod"):
        return "mongod"
    try:
        find_postgres()
    except InfraError:
        return "ferretdb"
    return "ferretdb-postgresql"


class MongoServer:
    """One of: ``mongod`` (real MongoDB, data in ``data_dir``); FerretDB on SQLite (files in
    ``data_dir``; kind ``ferretdb``); FerretDB on a private PostgreSQL cluster (in
    ``data_dir/postgresql``, see :class:`PostgresServer`; kind ``ferretdb-postgresql``).

    ``backend`` is one of :data:`BACKENDS`, by default ``$PASOKH_LOCAL_MONGO`` (``auto``).
    """

    def __init__(self, data_dir: Path, backend: str | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = 0
        if backend is None:
            backend = backend_from_env()
        elif backend not in BACKENDS:
            raise InfraError("choosing the MongoDB-wire server", f"unknown backend {backend!r}")
        self.backend = backend
        if backend == "auto":
            self.kind = _auto_kind()
        else:
            self.kind = {"ferretdb-sqlite": "ferretdb"}.get(backend, backend)
        self.process: ManagedProcess | None = None
        self.postgres: PostgresServer | None = None

    @property
    def uri(self) -> str:
        """The ``mongodb://`` URI of the running server."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, *, timeout: float = 60.0) -> None:
        """Install if needed, start, and wait until it answers ``ping``."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _port(self) -> int:
        # A restart (crash tests) keeps the port the services were given, when it is free again.
        return self.port if self.port and port_is_free(self.port) else free_port()

    def _start(self, timeout: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.kind == "mongod":
            mongod = shutil.which("mongod")
            if mongod is None:
                raise InfraError(f"finding `mongod` on PATH ({BACKEND_ENV}=mongod)", "install MongoDB")
            self.port = self._port()
            argv = [
                mongod,
                "--dbpath",
                str(self.data_dir),
                "--port",
                str(self.port),
                "--bind_ip",
                "127.0.0.1",
            ]
        elif self.kind == "ferretdb-postgresql":
            ferretdb = install_ferretdb()  # before PostgreSQL: a failed build leaves nothing running
            self.postgres = PostgresServer(self.data_dir / "postgresql")
            self.postgres.start(timeout=timeout)
            self.port = self._port()
            argv = [
                str(ferretdb),
                f"-listen-addr=127.0.0.1:{self.port}",
                "-handler=postgresql",
                f"-postgresql-url={self.postgres.ferretdb_url}",
            ]
        else:
            ferretdb = install_ferretdb()
            self.port = self._port()
            argv = [
                str(ferretdb),
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

    def restart(self, *, timeout: float = 60.0) -> None:
        """Restart the wire server on the same port (crash tests); PostgreSQL below it keeps running."""
        if self.process is None:
            raise InfraError("restarting the MongoDB-wire server", "it was never started")
        self.process.stop(timeout=15)
        self.process.start()
        self.process.wait_until(self._answers, timeout=timeout, what=f"restarting {self.kind}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a timeout); FerretDB before its PostgreSQL."""
        if self.process is not None:
            self.process.stop(timeout=15)
        if self.postgres is not None:
            self.postgres.stop()
