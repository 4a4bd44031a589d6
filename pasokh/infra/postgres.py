"""A private PostgreSQL 15+ cluster on a loopback port, the store of FerretDB's PostgreSQL backend.

Opt-in (``PASOKH_LOCAL_MONGO=ferretdb-postgresql``, see docs/infrastructure.md). The binaries come
from the system (Debian package ``postgresql``); nothing is downloaded. The cluster trusts local
TCP connections from the role ``ferret``, listens on 127.0.0.1 only and has no Unix socket.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pasokh.infra.errors import InfraError
from pasokh.infra.process import ManagedProcess, free_port

MIN_MAJOR = 15
ROLE = "ferret"
DATABASE = "ferretdb"
# FerretDB v1 takes several pool connections per operation under load and hangs for good when its
# pool is exhausted (every PostgreSQL connection idle, every client waiting). Under the pipeline
# benchmark (intake, router and notifier batching, ~85 client connections with
# PASOKH_MONGO__MAX_POOL_SIZE=40 per process) it opened 550 PostgreSQL connections; with a pool of 400
# it hung at 50 complaints/s. So the pool is far larger than that peak, and the server allows a few
# more connections for psql and autovacuum (each slot costs ~20 kB of shared memory; an idle backend
# a few MB of memory).
POOL_MAX_CONNS = 1500
MAX_CONNECTIONS = 1600
_INSTALL_HINT = "install PostgreSQL 15 or newer (Debian: apt-get install postgresql)"
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian's versioned installations: <root>/<major>/bin


@dataclass(frozen=True)
class PostgresBinaries:
    """A PostgreSQL installation's ``bin`` directory and its major version."""

    bindir: Path
    major: int

    def tool(self, name: str) -> str:
        """The path of one program (``postgres``, ``initdb``, ``pg_isready``, ``psql``)."""
        return str(self.bindir / name)


def _major(bindir: Path) -> int | None:
    try:
        result = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\(PostgreSQL\) (\d+)", result.stdout)
    return int(found.group(1)) if found else None


def find_postgres() -> PostgresBinaries:
    """The newest PostgreSQL >= 15: ``pg_config --bindir`` first, then ``/usr/lib/postgresql/*/bin``."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        try:
            result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(Path(result.stdout.strip()))
        except (OSError, subprocess.TimeoutExpired):
            pass
    if DEBIAN_ROOT.is_dir():
        versions = [d for d in DEBIAN_ROOT.iterdir() if d.name.isdigit()]
        candidates += [d / "bin" for d in sorted(versions, key=lambda d: int(d.name), reverse=True)]
    seen: list[str] = []
    for bindir in candidates:
        if not all((bindir / tool).is_file() for tool in ("postgres", "initdb", "pg_isready", "psql")):
            seen.append(f"{bindir}: incomplete")
            continue
        major = _major(bindir)
        if major is not None and major >= MIN_MAJOR:
            return PostgresBinaries(bindir, major)
        seen.append(f"{bindir}: version {major}")
    raise InfraError(
        f"finding PostgreSQL {MIN_MAJOR}+ (pg_config --bindir, /usr/lib/postgresql/*/bin) "
        "for PASOKH_LOCAL_MONGO=ferretdb-postgresql",
        "; ".join([*seen, _INSTALL_HINT]),
    )


def _postgres_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when we are root (PostgreSQL refuses root), else
    None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise InfraError(
            "finding the `postgres` system user (PostgreSQL refuses to run as root)",
            "the Debian package postgresql creates it; or run as a user other than root",
        ) from None


def _reachable(path: Path, account: pwd.struct_passwd) -> bool:
    """True when ``account`` may enter every directory from ``/`` down to ``path``."""
    for directory in (path, *path.parents):
        st = directory.stat()
        if st.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid == account.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _socket_fits(directory: Path) -> bool:
    """Whether PostgreSQL's socket in ``directory`` fits a Unix socket path (107 bytes on Linux)."""
    return len(f"{directory}/.s.PGSQL.65535".encode()) <= 107


class PostgresServer:
    """A cluster in ``data_dir/pgdata``, or, when we are root and the ``postgres`` user cannot reach
    ``data_dir`` (under /root, pytest's 0700 temporary directories), in a temporary directory under
    /tmp that :meth:`stop` removes. The server's log is ``data_dir/postgres.log`` either way."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.port = 0
        self.cluster_dir: Path | None = None
        self.process: ManagedProcess | None = None
        self._binaries: PostgresBinaries | None = None
        self._temporary: Path | None = None

    @property
    def ferretdb_url(self) -> str:
        """The URL FerretDB's ``-postgresql-url`` takes (pool larger than all clients' pools)."""
        if self.cluster_dir is not None and _socket_fits(self.cluster_dir):
            # A Unix-domain socket: each of FerretDB's PostgreSQL round trips costs less kernel time.
            return (
                f"postgres://{ROLE}@/{DATABASE}?host={self.cluster_dir}&port={self.port}"
                f"&pool_max_conns={POOL_MAX_CONNS}"
            )
        return f"postgres://{ROLE}@127.0.0.1:{self.port}/{DATABASE}?pool_max_conns={POOL_MAX_CONNS}"

    def start(self, *, timeout: float = 60.0) -> None:
        """initdb once, start, wait for ``pg_isready``, create FerretDB's database and triggers."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        binaries = self._binaries = find_postgres()
        account = _postgres_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if account is not None and not _reachable(self.data_dir, account):
            self._temporary = Path(tempfile.mkdtemp(prefix="pasokh-postgres-", dir="/tmp"))
            os.chown(self._temporary, account.pw_uid, account.pw_gid)
            cluster = self._temporary / "pgdata"
        else:
            cluster = self.data_dir / "pgdata"
        cluster.mkdir(mode=0o700, exist_ok=True)
        if account is not None:
            os.chown(cluster, account.pw_uid, account.pw_gid)
        self.cluster_dir = cluster
        if not (cluster / "PG_VERSION").exists():
            self._initdb(binaries, cluster, account)
        self.port = free_port()
        self.process = ManagedProcess(
            "postgres",
            [
                binaries.tool("postgres"),
                "-D",
                str(cluster),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={cluster if _socket_fits(cluster) else ''}",
                "-c",
                "shared_buffers=128MB",
                # FerretDB's statements take the field name as a parameter (_jsonb->$1 @> $2): a
                # cached generic plan cannot use the GIN index of any field and reads the table.
                "-c",
                "plan_cache_mode=force_custom_plan",
                "-c",
                f"max_connections={MAX_CONNECTIONS}",
            ],
            log_path=self.data_dir / "postgres.log",
            cwd=cluster,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            stop_signal=signal.SIGINT,  # "fast" shutdown: ends sessions, checkpoints, exits
        )
        self.process.start()
        self.process.wait_until(self._ready, timeout=timeout, what=f"starting PostgreSQL {binaries.major}")
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", database="postgres") != "1":
            self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
        trigger = resources.files("pasokh.infra").joinpath("postgres_gin_trigger.sql").read_text()
        self.psql(trigger, step="installing the GIN index event trigger (postgres_gin_trigger.sql)")

    def _initdb(self, binaries: PostgresBinaries, cluster: Path, account: pwd.struct_passwd | None) -> None:
        step = "initializing the PostgreSQL cluster (initdb)"
        try:
            result = subprocess.run(
                [
                    binaries.tool("initdb"),
                    "-D",
                    str(cluster),
                    "-U",
                    ROLE,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                    "--no-sync",  # a local development cluster; skip initdb's fsync of every file
                ],
                cwd=cluster,
                capture_output=True,
                text=True,
                timeout=300,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(step, "timed out after 300s") from exc
        if result.returncode != 0:
            raise InfraError(step, (result.stdout + result.stderr)[-4000:])

    def _ready(self) -> bool:
        assert self._binaries is not None
        probe = [self._binaries.tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, timeout=10).returncode == 0

    def psql(self, sql: str, *, database: str = DATABASE, step: str | None = None) -> str:
        """Run ``sql`` (one or more statements) with psql, stop at the first error; the output of
        the last statement, unaligned and without headers."""
        assert self._binaries is not None, "start() first"
        argv = [
            self._binaries.tool("psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            ROLE,
            "-d",
            database,
            "-f",
            "-",
        ]
        step = step or f"running SQL in PostgreSQL ({sql.strip().splitlines()[0][:60]})"
        try:
            result = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise InfraError(step, "psql timed out after 60s") from exc
        if result.returncode != 0:
            raise InfraError(step, (result.stdout + result.stderr)[-4000:])
        return result.stdout.strip()

    def stop(self) -> None:
        """SIGINT (fast shutdown), SIGKILL after 30 s; then remove a temporary cluster."""
        if self.process is not None:
            self.process.stop(timeout=30)
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
