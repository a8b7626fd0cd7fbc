"""Print, per seed, residual-56's training error minus residual-20's over the course of training
(mean over the 500 iterations up to each mark, from the runs' metrics.jsonl): when the gap that
ends a run is decided. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/laptop_trials/gap_over_iterations.py
"""

from pathlib import Path

from resnet_exp.report.collect import find_run_dirs, load_runs
from resnet_exp.report.gaps import gap_at_marks

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


def gaps(folders: list[Path], marks: list[int]) -> dict[int, list[float | None]]:
    """Per seed run at both depths: the gap at each mark (None where a run logged nothing).
    Every run counts, finished or not (the warm-up trial was stopped early)."""
    runs, _ = load_runs([d for f in folders if f.is_dir() for d in find_run_dirs(f)])
    curves = {(r.block, r.depth, r.seed): r.train_curve for r in runs}
    out: dict[int, list[float | None]] = {}
    for seed in sorted({s for _, _, s in curves if s is not None}):
        a, b = curves.get(("residual", 20, seed)), curves.get(("residual", 56, seed))
        if a is not None and b is not None:
            out[seed] = gap_at_marks(a, b, marks, window=500)
    return out


for label, total, *folders in SETTINGS:
    marks = list(range(total // 6, total + 1, total // 6 // 2))
    table = gaps(folders, marks)
    print(f"\n{label}: residual-56 minus residual-20, training error (points)\n")
    print("| seed | " + " | ".join(str(m) for m in marks) + " |")
    print("|---|" + "---|" * len(marks))
    for seed, row in table.items():
        print(
            f"| {seed} | " + " | ".join("-" if g is None else f"{100 * g:+.1f}" for g in row) + " |"
        )
