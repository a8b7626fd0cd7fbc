"""Where a number came from: code version, packages, device, command line."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("resnet-exp", "torch", "torchvision", "hydra-core", "omegaconf", "numpy", "tensorboard")


def git_state(folder: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=5
            )
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    return {
        "git_commit": commit,
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None,
    }


@functools.cache
def code_version() -> dict:
    """The package's own checkout (editable install) first, else the working directory's.

    Read once per process: the code a sweep runs is the code it loaded at its start, even if the
    checkout moves on while the sweep is running.
    """
    state = git_state(Path(__file__).resolve().parent)
    return state if state["git_commit"] else git_state(Path.cwd())


def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    import torch

    out["torch"] = torch.__version__  # the build tag (+cu132, +cpu) matters for numbers
    return out


def cpu_model() -> str:
    """The CPU's model name (timings differ several-fold between CPUs: record it with them)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(device: str, seed: int) -> dict:
    """Recorded in summary.json and the checkpoint of every run."""
    return {
        **code_version(),
        "versions": versions(),
        "device": device,
        "seed": seed,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "host": socket.gethostname(),
        "pid": os.getpid(),  # the process training the run (the one to signal)
        **({"slurm_job_id": os.environ["SLURM_JOB_ID"]} if "SLURM_JOB_ID" in os.environ else {}),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "started_at": now(),
    }
