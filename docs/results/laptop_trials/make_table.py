"""Print the trials table of README.md from the runs' summary.json files (so no number is typed by hand).

Run from the repository root: python docs/results/laptop_trials/make_table.py docs/results/laptop_trials/runs
"""

import glob
import json
import sys

root = sys.argv[1]
TRIALS = [
    ("none: the preset itself", "baseline", "docs/results/degradation_cpu/runs", "*_s0"),
    ("`batch_size=128 iterations=1500` (same images, paper's batch)", "b128", None, None),
    ("`optim.lr=0.05`", "lr05", None, None),
    ("`init.zero_residual=true`", "zg", None, None),
    ("`init.zero_residual=true optim.lr=0.05`", "zg_lr05", None, None),
    ("`data.train_subset=10000` (19 epochs of 10k images)", "sub10k", None, None),
    ("`data.train_subset=5000` (38 epochs of 5k images)", "sub5k", None, None),
    ("`iterations=12000` (4x longer, 15 epochs)", "long12k", None, "*_s0_*"),
    ("`iterations=12000`, seed 1", "long12k", None, "*_s1_*"),
]
print(
    "| change to `experiment=degradation_cpu` (seed 0 unless named) | runs | residual-20 train / test | residual-32 train / test | residual-56 train / test | 56 minus 20, train (points) |"
)
print("|---|---|---|---|---|---|")
for label, key, base, pat in TRIALS:
    folder = base or f"{root}/trial_{key}"
    cells, train = [], {}
    for depth in (20, 32, 56):
        found = glob.glob(f"{folder}/residual-{depth}_{pat or '*'}/summary.json")
        if not found:
            cells.append("-")
            continue
        s = json.load(open(found[0]))
        if s["status"] != "completed":
            cells.append(f"({s['status']})")
            continue
        train[depth] = s["train_error"]
        cells.append(f"{100 * s['train_error']:.1f} / {100 * s['test_error']:.1f}")
    gap = f"{100 * (train[56] - train[20]):+.1f}" if 20 in train and 56 in train else "-"
    shown = (
        "[degradation_cpu](../degradation_cpu/runs/)"
        if base
        else f"[trial_{key}](runs/trial_{key}/)"
    )
    if cells != ["-"] * 3:
        print(f"| {label} | {shown} | {' | '.join(cells)} | {gap} |")

# The end-of-run training error is one 50-batch window. For the long runs also print the mean over
# the whole last quarter (lr 0.001, 60 windows, 192k augmented images): far less sampling noise.
print()
print("| `iterations=12000` run | mean train error over iterations 9001-12000 (%) |")
print("|---|---|")
for path in sorted(glob.glob(f"{root}/trial_long12k/*/metrics.jsonl")):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    last = [r["train_error"] for r in rows if r.get("kind") == "train" and r["step"] > 9000]
    if last and max(r["step"] for r in rows if r.get("kind") == "train") == 12000:
        run = path.split("/")[-2]
        print(f"| {run.split('_data=')[0]} | {100 * sum(last) / len(last):.1f} |")
