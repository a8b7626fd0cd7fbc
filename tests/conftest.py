"""Shared helpers: tiny configs, the real CLI in a subprocess, generated datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# One thread per process for the whole suite (set before anything imports torch; the CLI
# subprocesses inherit it). The tests train tiny nets, which gain nothing from a second thread,
# and when anything else shares a 2-core machine OpenMP's waiting threads spin against it: with
# two training runs beside it the default suite took 751 s at OMP_NUM_THREADS=2 and 413 s at 1.
# Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
# A net and a run small enough for a 2-core CPU: depth 8, 4 base filters, a few iterations.
# device=cpu: the exactness tests compare bits, which CUDA kernels do not promise.
TINY = [
    "device=cpu",
    "precision=fp32",  # pinned: bits and tolerances must not depend on the CPU's bf16 flags
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


# --- run directories for the report tests (hand-made, known numbers) ---

PLAIN = {20: 0.10, 32: 0.15, 44: 0.20, 56: 0.25}
RESIDUAL = {20: 0.12, 32: 0.10, 44: 0.08, 56: 0.07}
PARAMS = {20: 272474, 32: 466906, 44: 661338, 56: 855770}


def make_run(
    root: Path,
    block: str,
    depth: int,
    seed: int,
    train_error: float,
    test_error: float | None = None,
    status: str = "completed",
    dataset: str = "synthetic",
    iterations: int = 400,
    iteration: int | None = None,
    summary: bool = True,
    **extra: object,
) -> Path:
    """Write a run dir: metrics.jsonl with curves ending at the given errors, and summary.json."""
    name = f"{block}-{depth}_A_kaiming_normal_s{seed}"
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    reached = iterations if iteration is None else iteration
    test_error = train_error + 0.05 if test_error is None else test_error
    lines = []
    for step in range(100, reached + 1, 100):
        frac = step / reached  # curves fall linearly onto the final value
        lines.append({"kind": "train", "step": step, "train_error": train_error + 0.5 * (1 - frac)})
        lines.append({"kind": "eval", "step": step, "test_error": test_error + 0.4 * (1 - frac)})
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if summary:
        s = {
            "name": name,
            "status": status,
            "block": block,
            "depth": depth,
            "width": 16,
            "shortcut": "A",
            "init": "kaiming_normal",
            "seed": seed,
            "params": PARAMS.get(depth, 1000),
            "dataset": dataset,
            "iterations": iterations,
            "iteration": reached,
            "train_error": train_error,
            "test_error": test_error,
            "train_loss": 1.0,
            "diverged_at": None,
            "error": None,
        }
        s.update(extra)
        (d / "summary.json").write_text(json.dumps(s))
    return d


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/plain and runs/residual: tiny finished train runs, trained once for every analysis
    test (lesion, landscape), which only read them."""
    root = tmp_path_factory.mktemp("trained")
    for block in ("plain", "residual"):
        r = run_cli(["train", *TINY, f"block={block}", f"hydra.run.dir=runs/{block}"], root)
        assert r.returncode == 0, r.stderr
    return root / "runs"
