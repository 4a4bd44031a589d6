"""Child processes that start on a free loopback port, are awaited until ready, and stop cleanly."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from pasokh.infra.errors import InfraError

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when ``port`` on 127.0.0.1 can be bound by a server (connections of a killed server that
    linger in TIME_WAIT do not count: servers bind with SO_REUSEADDR, as the JVM does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM when the process that started it dies, even by SIGKILL,
    # so a crashed `pasokh up` or test run leaves no broker behind.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class ManagedProcess:
    """One child in its own process group, its output in a log file or the parent's terminal."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: int | None = None,
        group: int | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        # Run as another uid/gid (root starting PostgreSQL, which refuses to run as root), with no
        # supplementary groups of ours. Python switches ids before preexec_fn runs, so the
        # parent-death signal set there survives the switch.
        self.user = user
        self.group = group
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's pid once started."""
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        """Start the child; its output goes to ``log_path`` (or this terminal when None)."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT if self._log else None,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                user=self.user,
                group=self.group,
                extra_groups=[] if self.user is not None else None,
            )
        except OSError as exc:
            raise InfraError(f"starting {self.name} ({self.argv[0]})", str(exc)) from exc

    def alive(self) -> bool:
        """True while the child runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the child's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll ``ready`` until it is true. If the child exits or time runs out, stop it and raise
        :class:`InfraError` naming ``what`` with the end of the child's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                problem = f"{self.name} exited with code {code}"
                break
            try:
                if ready():
                    return
            except Exception:  # not ready yet; the readiness probe's own errors are expected
                pass
            time.sleep(0.25)
        else:
            problem = f"{self.name} not ready after {timeout:.0f}s"
        tail = self.log_tail()
        self.stop(timeout=10)
        raise InfraError(what, f"{problem}\n{tail}")

    def stop(self, timeout: float = 20.0) -> None:
        """``stop_signal`` (SIGTERM unless set) to the child's process group, then SIGKILL after
        ``timeout`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(10)
        # Anything the child left in its group goes too.
        self._signal(signal.SIGKILL)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the child's process group at once (crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
