"""Metrics sinks: metrics.jsonl (one JSON object per logged step) and TensorBoard scalars."""

from __future__ import annotations

import json
import math
from pathlib import Path

TB_TAGS = {
    "train_error": "train/error",
    "train_loss": "train/loss",
    "lr": "train/lr",
    "images_per_s": "perf/images_per_s",
    "test_error": "test/error",
    "test_loss": "test/loss",
    "val_error": "val/error",
    "val_loss": "val/loss",
}


def truncate_jsonl(path: Path, after_step: int) -> None:
    """Drop lines logged after `after_step` (written after the checkpoint we resume from), so a
    resumed run has no duplicated steps."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= after_step:
                keep.append(line)
        except json.JSONDecodeError:
            break  # a torn last line from a crash: everything after it is untrusted
    path.write_text("".join(f"{line}\n" for line in keep))


class MetricsWriter:
    """Writes every record to metrics.jsonl and TensorBoard. `start_step` > 0 means resume."""

    def __init__(self, run_dir: Path, start_step: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        truncate_jsonl(self.path, start_step)
        self.file = open(self.path, "a")
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events at or after it in earlier event files: no duplicated curve
            # segments when a run resumes from an older checkpoint, or restarts from scratch
            # after dying before its first checkpoint (start_step 0: purge from step 1).
            self.tb = SummaryWriter(str(run_dir), purge_step=start_step + 1)

    def write(self, record: dict) -> None:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        self.file.write(json.dumps(clean) + "\n")
        self.file.flush()
        if self.tb is not None:
            for key, tag in TB_TAGS.items():
                v = record.get(key)
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(tag, v, record["step"])
            if record.get("kind") == "signal":  # signal/stage1_grad_norm, signal/dead_features
                for key, v in record.items():
                    if key not in ("kind", "step") and isinstance(v, (int, float)):
                        self.tb.add_scalar(f"signal/{key}", v, record["step"])

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """The TensorBoard hparams dashboard entry: this run's config and final errors."""
        if self.tb is None:
            return
        from torch.utils.tensorboard.summary import hparams as hp_summary

        metrics = {f"hparam/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
        hp = {
            k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()
        }
        for s in hp_summary(hp, metrics):
            self.tb.file_writer.add_summary(s)
        for k, v in metrics.items():
            self.tb.add_scalar(k, v)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()
