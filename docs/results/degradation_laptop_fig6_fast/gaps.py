"""Print, per seed, each deeper residual net's training error minus residual-20's over the course
of training (mean over the 250 iterations up to each mark, from the runs' metrics.jsonl), for the
folders given: when the residual half is decided. No number is typed by hand.

Run from the repository root:
  .venv/bin/python docs/results/degradation_laptop_fig6_fast/gaps.py FOLDER [FOLDER ...]
"""

import json
import statistics
import sys
from pathlib import Path

from resnet_exp.report.collect import find_run_dirs, load_runs

WINDOW = 250


def curve(path: Path) -> dict[int, float]:
    rows = (json.loads(line) for line in path.read_text().splitlines())
    return {r["step"]: r["train_error"] for r in rows if r["kind"] == "train"}


folders = [Path(a) for a in sys.argv[1:]]
if not folders:
    sys.exit("usage: gaps.py FOLDER [FOLDER ...]")
runs, _ = load_runs([d for f in folders for d in find_run_dirs(f)])
curves = {(r.block, r.depth, r.seed): curve(r.path / "metrics.jsonl") for r in runs}
total = max(r.iterations for r in runs)
marks = list(range(2 * WINDOW, total + 1, 2 * WINDOW))
for depth in (32, 44, 56):
    rows = []
    for seed in sorted({s for b, d, s in curves if b == "residual" and d == depth}):
        a, b = curves.get(("residual", 20, seed)), curves.get(("residual", depth, seed))
        if a is None or b is None:
            continue
        row = []
        for m in marks:
            steps = [k for k in a if m - WINDOW < k <= m and k in b]
            row.append(100 * statistics.fmean(b[k] - a[k] for k in steps) if steps else None)
        rows.append((seed, row))
    if not rows:
        continue
    print(f"\nresidual-{depth} minus residual-20, training error (points)\n")
    print("| seed | " + " | ".join(str(m) for m in marks) + " |")
    print("|---|" + "---|" * len(marks))
    for seed, row in rows:
        print(f"| {seed} | " + " | ".join("-" if g is None else f"{g:+.1f}" for g in row) + " |")
