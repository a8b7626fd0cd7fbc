"""After a probe multirun: one figure with a line per configuration, like Figure 7."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback


def combine(sweep_dir: Path) -> Path | None:
    """Read every probe.csv under `sweep_dir` and draw them together into probes.png."""
    from resnet_exp.probe.figures import per_layer, save

    lines = {}
    for path in sorted(sweep_dir.glob("*/probe.csv")):
        with path.open() as fh:
            lines[path.parent.name] = list(csv.DictReader(fh))
    if len(lines) < 2:
        return None
    return save(per_layer(lines, f"{len(lines)} probes in {sweep_dir}"), sweep_dir / "probes.png")


class CombineProbes(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        written = combine(Path(config.hydra.sweep.dir))
        if written is not None:
            print(f"combined figure: {written}")
