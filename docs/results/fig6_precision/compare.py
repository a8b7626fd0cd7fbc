"""Print the flagship's nets side by side in bf16 and fp32 (issue 24, item 6): per net and seed,
the final training error as the report measures it (mean over the last 10% of iterations) and
the test error in each precision, their difference, and per seed each half of the result in
each precision. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/fig6_precision/compare.py
"""

import json
from pathlib import Path

from resnet_exp.report.collect import Run, find_run_dirs, load_runs

R = Path("docs/results")
SEEDS = (0, 1)
BF16 = [R / "degradation_laptop_fig6/runs"]
# fp32: the depth-32/44 nets run for this comparison, and the depth-20/56 nets of
# degradation_laptop_warmup (the same nets: same result identity, pinned to fp32).
FP32 = [R / "fig6_precision/runs_fp32", R / "degradation_laptop_warmup/runs"]


def runs_of(folders: list[Path]) -> dict[tuple[str, int, int], Run]:
    runs, _ = load_runs([d for f in folders for d in find_run_dirs(f)])
    return {(r.block, r.depth, r.seed): r for r in runs if r.completed and r.seed in SEEDS}


def cpu(run: Run) -> str:
    summary = json.loads((run.path / "summary.json").read_text())
    return summary["provenance"].get("cpu") or "?"


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


bf16, fp32 = runs_of(BF16), runs_of(FP32)
print(
    "| seed | net | train error bf16 (%) | train error fp32 (%) | fp32 minus bf16 (points) "
    "| test error bf16 (%) | test error fp32 (%) | fp32 run's CPU |"
)
print("|---|---|---|---|---|---|---|---|")
for key in sorted(bf16, key=lambda k: (k[2], k[0], k[1])):
    block, depth, seed = key
    a, b = bf16[key], fp32.get(key)
    if b is None:
        continue
    print(
        f"| {seed} | {block}-{depth} | {pct(a.train_error)} | {pct(b.train_error)} | "
        f"{100 * (b.train_error - a.train_error):+.1f} | {pct(a.test_error)} | "
        f"{pct(b.test_error)} | {cpu(b)} |"
    )

print()
print(
    "| seed | precision | plain 20 / 32 / 44 / 56 (%) | plain worse at every step | "
    "plain 56 minus 20 | residual 20 / 32 / 44 / 56 (%) | residual 56 minus 20 | both halves |"
)
print("|---|---|---|---|---|---|---|---|")
for seed in SEEDS:
    for label, runs in (("bf16", bf16), ("fp32", fp32)):
        p = [runs[("plain", d, seed)].train_error for d in (20, 32, 44, 56)]
        r = [runs[("residual", d, seed)].train_error for d in (20, 32, 44, 56)]
        steps = all(b > a for a, b in zip(p, p[1:], strict=False))
        both = p[3] > p[0] and r[3] < r[0]
        print(
            f"| {seed} | {label} | {' / '.join(pct(x) for x in p)} | {'yes' if steps else 'no'} | "
            f"{100 * (p[3] - p[0]):+.1f} | {' / '.join(pct(x) for x in r)} | "
            f"{100 * (r[3] - r[0]):+.1f} | {'yes' if both else 'no'} |"
        )
