"""Print, per seed, residual-56's training error minus residual-20's over the course of training
(mean over the 500 iterations up to each mark, from the runs' metrics.jsonl): when the gap that
ends a run is decided. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/laptop_trials/gap_over_iterations.py
"""

import json
import statistics
from pathlib import Path

R = Path("docs/results")
SETTINGS = [
    ("`degradation_laptop` (lr 0.05, drops at 3000/4500)", R / "degradation_laptop/runs", 6000),
    ("`iterations=12000` (lr 0.1, drops at 6000/9000)", R / "laptop_trials/runs/trial_long12k", 12000),
]


def curve(path: Path) -> dict[int, float]:
    rows = (json.loads(line) for line in path.read_text().splitlines())
    return {r["step"]: r["train_error"] for r in rows if r["kind"] == "train"}


def gaps(folder: Path, marks: list[int]) -> dict[int, list[float]]:
    out = {}
    for seed in range(10):
        a = list(folder.glob(f"residual-20_*_s{seed}_*/metrics.jsonl"))
        b = list(folder.glob(f"residual-56_*_s{seed}_*/metrics.jsonl"))
        if not (a and b):
            continue
        ca, cb = curve(a[0]), curve(b[0])
        row = []
        for m in marks:
            steps = [k for k in ca if m - 500 < k <= m and k in cb]
            row.append(100 * statistics.fmean(cb[k] - ca[k] for k in steps))
        out[seed] = row
    return out


for label, folder, total in SETTINGS:
    marks = list(range(total // 6, total + 1, total // 6 // 2))
    table = gaps(folder, marks)
    print(f"\n{label}: residual-56 minus residual-20, training error (points)\n")
    print("| seed | " + " | ".join(str(m) for m in marks) + " |")
    print("|---|" + "---|" * len(marks))
    for seed, row in table.items():
        print(f"| {seed} | " + " | ".join(f"{g:+.1f}" for g in row) + " |")
