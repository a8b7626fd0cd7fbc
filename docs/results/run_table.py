"""Print a per-run table of committed runs: status, final training error as the report measures
it (mean over the last 10% of iterations), test error, the run's own wall time and images/s, and
the CPU it ran on. No number is typed by hand.

Run from the repository root, with the folders (or run directories) to read:
  .venv/bin/python docs/results/run_table.py docs/results/degradation_cpu_long/runs \
      docs/results/laptop_trials/runs/trial_long12k
--dead adds the last signal record's fraction of dead feature maps at the classifier.
"""

import json
import sys
from pathlib import Path

from resnet_exp.report.collect import find_run_dirs, load_runs

DEAD = "--dead" in sys.argv[1:]
RUNS = [Path(a) for a in sys.argv[1:] if a != "--dead"]
if not RUNS:
    sys.exit("usage: run_table.py FOLDER [FOLDER ...]")


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


runs, _ = load_runs([d for folder in RUNS for d in find_run_dirs(folder)])
print(
    "| seed | net | status | iterations | train error, last 10% (%) | test error (%) | "
    + ("dead maps at the classifier, end (%) | " if DEAD else "")
    + "wall (min) | eval share | precision | images/s | CPU | folder |"
)
print("|---" * (13 if DEAD else 12) + "|")
for r in sorted(runs, key=lambda r: (r.seed, r.block, -r.depth)):
    s = json.loads((r.path / "summary.json").read_text())
    cpu = s["provenance"].get("cpu") or "AMD EPYC (not recorded)"
    wall = f"{s['wall_time_s'] / 60:.1f}" if s.get("wall_time_s") else "-"
    done = r.status == "completed"
    # Runs recorded before precision=auto trained in fp32 unless their config said bf16.
    precision = s.get("precision") or (s.get("config") or {}).get("precision", "fp32")
    share = (
        f"{100 * s['eval_time_s'] / s['wall_time_s']:.1f}%"
        if s.get("eval_time_s") and s.get("wall_time_s")
        else "-"
    )
    print(
        f"| {r.seed} | {r.block}-{r.depth} | {r.status} | {r.iteration} / {r.iterations} | "
        f"{pct(r.train_error) if done else '-'} | {pct(r.test_error) if done else '-'} | "
        + (f"{pct(r.dead_features)} | " if DEAD else "")
        + f"{wall} | {share} | {precision} | {s.get('images_per_s') or '-'} | {cpu} | {r.path.parent.parent.name}/{r.path.parent.name} |"
    )
