"""What a result was made with: the versions of Python and of the packages it depends on,
the commit of the source tree, the time (UTC). Recorded beside every run and checkpoint."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ._version import __version__


@lru_cache(maxsize=1)
def versions() -> dict:
    """Versions of Python and of the packages a result depends on (those installed)."""
    out = {"python": platform.python_version(), "rl_rosetta_layer": __version__}
    for pkg in ("numpy", "scipy", "threadpoolctl", "torch", "ray"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the working tree this package runs from, or '' outside git."""
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def now_utc() -> str:
    """The current time, UTC, ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
