"""`pasokh up` as a child process, the way a person runs it, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pasokh.infra.process import free_port


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class PasokhUp:
    """Runs ``pasokh up`` with the given environment; output goes to ``log``."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.log = workdir / "up.log"
        self.ports = {name: free_port() for name in ("intake", "router", "notifier")}
        base = {k: v for k, v in os.environ.items() if not k.startswith("PASOKH_")}
        self.env = {
            **base,
            "PASOKH_DATA_DIR": str(workdir / "var"),
            **{f"PASOKH_{name.upper()}__PORT": str(port) for name, port in self.ports.items()},
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.child_pids: list[int] = []

    def url(self, service: str) -> str:
        """Base URL of ``service``."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, timeout: float = 240.0) -> PasokhUp:
        """Start and wait for the line ``ready``."""
        pasokh = str(Path(sys.executable).with_name("pasokh"))
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [pasokh, "up"],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"pasokh up exited with {self.proc.returncode}:\n{self.output()[-6000:]}"
                )
            if "\nready\n" in self.output():
                self.child_pids = _children(self.proc.pid)
                return self
            time.sleep(0.2)
        raise AssertionError(f"pasokh up not ready after {timeout}s:\n{self.output()[-6000:]}")

    def output(self) -> str:
        """Everything ``pasokh up`` and its services printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90.0) -> int:
        """Send ``sig`` and wait for the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
