"""Where obtained infrastructure is kept between runs (``~/.cache/pasokh``), filled atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    """``$PASOKH_CACHE_DIR``, else ``$XDG_CACHE_HOME/pasokh``, else ``~/.cache/pasokh``."""
    if explicit := os.environ.get("PASOKH_CACHE_DIR"):
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "pasokh"


def build_once(name: str, build: Callable[[Path], None]) -> Path:
    """The cache entry ``name``; built by ``build(tmpdir)`` and renamed into place if missing.

    A build that fails or is interrupted leaves no entry behind, so the next run builds again
    rather than trusting half a download.
    """
    target = cache_root() / name
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(work)
        try:
            work.rename(target)
        except OSError:
            if not target.is_dir():  # another process may have won the race; its entry is as good
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
