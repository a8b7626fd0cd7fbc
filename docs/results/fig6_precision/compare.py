"""Print the flagship's nets side by side in bf16 and fp32 (issue 24, item 6): per net and seed,
the final training error as the report measures it (mean over the last 10% of iterations) and
the test error in each precision, their difference, and per seed each half of the result in
each precision. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/fig6_precision/compare.py
With no options it compares the 6000-step preset degradation_laptop_fig6 (this folder's
README); --bf16, --fp32 and --depths compare other runs, e.g. the 4000-step flagship at depths
20 and 56 (docs/results/degradation_laptop_fig6_4k/README.md gives the command).
"""

import argparse
import json
from pathlib import Path

from resnet_exp.report.collect import Run, find_run_dirs, load_runs

R = Path("docs/results")
SEEDS = (0, 1)
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--bf16", nargs="+", type=Path, default=[R / "degradation_laptop_fig6/runs"])
# fp32 by default: the depth-32/44 nets run for this comparison, and the depth-20/56 nets of
# degradation_laptop_warmup (the same nets: same result identity, pinned to fp32).
parser.add_argument(
    "--fp32",
    nargs="+",
    type=Path,
    default=[R / "fig6_precision/runs_fp32", R / "degradation_laptop_warmup/runs"],
)
parser.add_argument("--depths", default="20,32,44,56", help="comma-separated, shallowest first")
args = parser.parse_args()
BF16, FP32 = args.bf16, args.fp32
DEPTHS = tuple(int(d) for d in args.depths.split(","))


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
listed = " / ".join(str(d) for d in DEPTHS)
deep, shallow = DEPTHS[-1], DEPTHS[0]
print(
    f"| seed | precision | plain {listed} (%) | plain worse at every step | "
    f"plain {deep} minus {shallow} | residual {listed} (%) | residual {deep} minus {shallow} "
    "| both halves |"
)
print("|---|---|---|---|---|---|---|---|")
for seed in SEEDS:
    for label, runs in (("bf16", bf16), ("fp32", fp32)):
        p = [runs[("plain", d, seed)].train_error for d in DEPTHS]
        r = [runs[("residual", d, seed)].train_error for d in DEPTHS]
        steps = all(b > a for a, b in zip(p, p[1:], strict=False))
        both = p[-1] > p[0] and r[-1] < r[0]
        print(
            f"| {seed} | {label} | {' / '.join(pct(x) for x in p)} | {'yes' if steps else 'no'} | "
            f"{100 * (p[-1] - p[0]):+.1f} | {' / '.join(pct(x) for x in r)} | "
            f"{100 * (r[-1] - r[0]):+.1f} | {'yes' if both else 'no'} |"
        )
