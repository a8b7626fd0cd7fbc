"""Keep every command's record in a sweep folder.

Hydra writes `multirun.yaml` (the command's overrides and the composed config) into the sweep
folder each time a multirun starts, so a second command into the same folder (more seeds, the
missing depths, a resume) replaces the first command's record. Before that happens, the old
file is renamed after the time it was written: `multirun.yaml` stays the latest command's, and
`multirun-<UTC time>.yaml` are the earlier ones. Each run's own `summary.json` records its
command and config as well; this keeps the sweep-level record of how the folder was filled.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback


def keep_earlier_record(sweep_dir: Path) -> Path | None:
    """Rename an existing multirun.yaml to multirun-<its write time, UTC>.yaml; return the new
    path, or None where there was nothing to keep. Never overwrites an earlier kept record."""
    current = sweep_dir / "multirun.yaml"
    if not current.is_file():
        return None
    written = datetime.fromtimestamp(current.stat().st_mtime, tz=timezone.utc)
    stem = f"multirun-{written:%Y-%m-%dT%H-%M-%S}"
    kept, n = sweep_dir / f"{stem}.yaml", 1
    while kept.exists():  # two commands within one second
        kept, n = sweep_dir / f"{stem}-{n}.yaml", n + 1
    current.rename(kept)
    return kept


class KeepSweepRecords(Callback):
    """Hydra callback of every command with multirun sweeps (conf/train.yaml, which probe.yaml
    extends; conf/lesion.yaml; conf/landscape.yaml): runs once per multirun command, before the
    sweeper writes its multirun.yaml."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        keep_earlier_record(Path(config.hydra.sweep.dir))
