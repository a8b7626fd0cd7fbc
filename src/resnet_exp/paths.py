"""Filesystem checks shared by the CLI and the runner."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_writable_dir(path: Path) -> None:
    """Create `path` if needed and prove a file can be written there (raises OSError if not).

    Creating and removing a probe file is the only check that works for root, read-only mounts
    and paths under a regular file alike (os.access says yes to root everywhere).
    """
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".write-test{os.getpid()}"
    probe.write_text("")
    probe.unlink()
