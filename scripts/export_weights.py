"""Export finished runs' model weights for analyses (lesion, landscape, probe from=), without
the optimizer state: OUT/<run name>/checkpoint.pt (format as train writes it, `weights_only`
set, so training refuses to resume from it) and summary.json, about 1 MB for a 56-layer net at
width 8 instead of 2.3 MB.

    python scripts/export_weights.py RUN_DIR... --out docs/results/NAME/weights
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from resnet_exp.analyses.runs import open_run
from resnet_exp.train.checkpoint import save_checkpoint


def export(run_dir: Path, out: Path) -> Path:
    run = open_run(run_dir, key="run")  # finished runs only: one line otherwise
    target = out / run.path.name
    target.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        target / "checkpoint.pt",
        {
            "weights_only": True,
            "config": OmegaConf.to_container(run.config),  # as recorded: no override given
            "trainer": {"model": run.weights, "iteration": run.iteration},
        },
    )
    shutil.copy2(run.path / "summary.json", target / "summary.json")
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    for r in a.runs:
        t = export(r, a.out)
        print(f"{t}: {(t / 'checkpoint.pt').stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
