"""Shared helpers: tiny configs, the real CLI in a subprocess, generated datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A net and a run small enough for a 2-core CPU: depth 8, 4 base filters, a few iterations.
# device=cpu: the exactness tests compare bits, which CUDA kernels do not promise.
TINY = [
    "device=cpu",
    "data=synthetic",
    "depth=8",
    "width=4",
    "batch_size=16",
    "iterations=12",
    "log_every=4",
    "eval_every=6",
    "checkpoint_every=4",
    "progress=false",
    "data.synthetic_train_size=128",
    "data.synthetic_test_size=64",
    "eval_batch_size=64",
]


def cli_env(cwd: Path, env: dict | None = None) -> dict:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "RESNET_EXP_CACHE": str(cwd / ".cache"),
        **(env or {}),
    }


def run_cli(
    args: list[str], cwd: Path, timeout: int = 180, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `resnet-exp ARGS` as a user would, in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "resnet_exp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(cwd, env),
    )


def start_cli(args: list[str], cwd: Path, **popen: object) -> subprocess.Popen:
    """Start `resnet-exp ARGS` in `cwd` without waiting, to signal it while it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "resnet_exp", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(cwd),
        **popen,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def only_run_dir(root: Path) -> Path:
    runs = [p.parent for p in root.rglob("summary.json")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture
def tiny() -> list[str]:
    return list(TINY)
