"""Print, per seed, residual-56's training error minus residual-20's over the course of training
(mean over the 500 iterations up to each mark, from the runs' metrics.jsonl): when the gap that
ends a run is decided. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/laptop_trials/gap_over_iterations.py
"""

import json
import statistics
from pathlib import Path

from resnet_exp.report.collect import find_run_dirs, load_runs

R = Path("docs/results")
# (label, iterations, folders): one setting may be spread over several folders (the
# 12000-iteration trial and the presets that train the same way).
SETTINGS = [
    ("`degradation_laptop` (lr 0.05, drops at 3000/4500)", 6000, R / "degradation_laptop/runs"),
    (
        "`degradation_laptop_warmup` (the same + warm-up, lr 0.01 until error < 80%)",
        6000,
        R / "degradation_laptop_warmup/runs",
    ),
    (
        "`iterations=12000` (lr 0.1, drops at 6000/9000) = `degradation_laptop_long`",
        12000,
        R / "laptop_trials/runs/trial_long12k",
        R / "degradation_laptop_long/runs",
    ),
    (
        "`degradation_laptop_long` + `optim.warmup=true` (seed 3 only, stopped early)",
        12000,
        R / "laptop_trials/runs/trial_warmup12k",
    ),
]


def curve(path: Path) -> dict[int, float]:
    rows = (json.loads(line) for line in path.read_text().splitlines())
    return {r["step"]: r["train_error"] for r in rows if r["kind"] == "train"}


def gaps(folders: list[Path], marks: list[int]) -> dict[int, list[float | None]]:
    """Per seed run at both depths: the gap at each mark (None where a run logged nothing)."""
    runs, _ = load_runs([d for f in folders if f.is_dir() for d in find_run_dirs(f)])
    paths = {(r.block, r.depth, r.seed): r.path / "metrics.jsonl" for r in runs}
    out: dict[int, list[float | None]] = {}
    for seed in sorted({s for _, _, s in paths if s is not None}):
        a, b = paths.get(("residual", 20, seed)), paths.get(("residual", 56, seed))
        if a is None or b is None:
            continue
        ca, cb = curve(a), curve(b)
        row: list[float | None] = []
        for m in marks:
            steps = [k for k in ca if m - 500 < k <= m and k in cb]
            row.append(100 * statistics.fmean(cb[k] - ca[k] for k in steps) if steps else None)
        out[seed] = row
    return out


for label, total, *folders in SETTINGS:
    marks = list(range(total // 6, total + 1, total // 6 // 2))
    table = gaps(folders, marks)
    print(f"\n{label}: residual-56 minus residual-20, training error (points)\n")
    print("| seed | " + " | ".join(str(m) for m in marks) + " |")
    print("|---|" + "---|" * len(marks))
    for seed, row in table.items():
        print(f"| {seed} | " + " | ".join("-" if g is None else f"{g:+.1f}" for g in row) + " |")
