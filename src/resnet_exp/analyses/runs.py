"""One way to open a trained run for an analysis (probe from=, lesion, landscape): its recorded
config and its checkpoint's model weights, read-only, with one-line errors for a folder that is
not a run, a checkpoint that is not ours, and a run that has not finished."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from resnet_exp.errors import UserError


@dataclass
class TrainedRun:
    path: Path  # the run directory
    config: object  # the run's recorded config (an OmegaConf DictConfig)
    spec: object  # build.RunSpec of that config
    weights: dict  # model state_dict
    iteration: int  # the checkpoint's iteration
    status: str  # from summary.json: completed, interrupted, ...

    @property
    def subject(self) -> str:
        return f"{self.path} at iteration {self.iteration}"


def open_run(
    source: str | Path,
    key: str = "from",
    data=None,
    data_root: str | None = None,
    require_completed: bool = True,
) -> TrainedRun:
    """Open RUN_DIR (or RUN_DIR/checkpoint.pt). `data`: a data config that replaces the recorded
    one, or `data_root`: only its root (the run's images, found elsewhere on this machine).
    Nothing in the run is written."""
    from omegaconf import OmegaConf

    from resnet_exp.build import spec_from_config
    from resnet_exp.train.checkpoint import load_checkpoint

    path = Path(str(source)).expanduser()
    run = path.parent if path.name == "checkpoint.pt" else path
    ckpt = run / "checkpoint.pt"
    if not run.is_dir():
        raise UserError(
            f"{key}={source}: no run there (no such folder); give the directory of a resnet-exp train run"
        )
    if not ckpt.is_file():
        raise UserError(
            f"{key}={source}: no run there (no {ckpt}); give the directory of a resnet-exp train run"
        )
    state = load_checkpoint(ckpt)  # a one-line UserError for anything that is not ours
    if not isinstance(state.get("config"), dict) or "model" not in state.get("trainer", {}):
        raise UserError(f"{key}={source}: {ckpt} holds no config and model weights")
    iteration = int(state["trainer"].get("iteration", 0))
    summary_file = run / "summary.json"
    try:
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    except (OSError, ValueError):
        summary = {}
    status = str(summary.get("status", "unknown"))
    planned = summary.get("iterations")
    if require_completed and (status != "completed" or (planned and iteration < int(planned))):
        have = f"status {status}" + (
            f", checkpoint at iteration {iteration} of {planned}" if planned else ""
        )
        raise UserError(
            f"{key}={source}: the run has not finished ({have}); finish it first "
            f"(re-run its train command, which resumes it) or analyse a finished run"
        )
    recorded = OmegaConf.create(state["config"])
    if data is not None:
        recorded.data = data
    if data_root:
        recorded.data.root = str(data_root)
    return TrainedRun(
        run, recorded, spec_from_config(recorded), state["trainer"]["model"], iteration, status
    )


def expand_runs(source: str | Path, key: str = "from") -> list[Path]:
    """A run directory, or a sweep folder: every run below it that has a checkpoint, sorted."""
    path = Path(str(source)).expanduser()
    if not path.exists():
        raise UserError(
            f"{key}={source}: no run there (no such folder); give a run directory or a sweep folder"
        )
    if (path / "checkpoint.pt").is_file() or path.name == "checkpoint.pt":
        return [path]
    found = sorted(p.parent for p in path.glob("*/checkpoint.pt"))
    if not found:
        raise UserError(
            f"{key}={source}: no run there (no checkpoint.pt in it or in its subfolders); give a "
            "run directory or a sweep folder"
        )
    return found
