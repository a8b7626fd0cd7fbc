"""Print the search table (issue 10): every laptop setting tried for both halves, per seed, with
the final training error as the report measures it (mean over the last 10% of iterations) and the
runs' own wall times. No number is typed by hand.

Run from the repository root: .venv/bin/python docs/results/laptop_trials/make_search_table.py
"""

import json
from collections.abc import Iterable
from pathlib import Path

from resnet_exp.report.collect import Run, find_run_dirs, load_runs

R = Path("docs/results")
SETTINGS = [
    ("`degradation_cpu`: lr 0.1, 3000 it., depths 20-56", R / "degradation_cpu/runs"),
    ("+ `batch_size=128 iterations=1500`", R / "laptop_trials/runs/trial_b128"),
    ("+ `optim.lr=0.05`", R / "laptop_trials/runs/trial_lr05"),
    ("+ `init.zero_residual=true`", R / "laptop_trials/runs/trial_zg"),
    ("+ `init.zero_residual=true optim.lr=0.05`", R / "laptop_trials/runs/trial_zg_lr05"),
    ("+ `data.train_subset=10000`", R / "laptop_trials/runs/trial_sub10k"),
    ("+ `data.train_subset=5000`", R / "laptop_trials/runs/trial_sub5k"),
    ("`degradation_laptop`: lr 0.05, 6000 it., depths 20/56", R / "degradation_laptop/runs"),
    (
        "`degradation_laptop_warmup`: `degradation_laptop` + warm-up (lr 0.01 until error < 80%)",
        R / "degradation_laptop_warmup/runs",
    ),
    # One setting (same result identity) in three folders: the 12000-iteration trial, then the
    # presets degradation_cpu_long (all four depths) and degradation_laptop_long (20 and 56).
    (
        "`degradation_laptop_long`: lr 0.1, 12000 it., depths 20/56 (+ trial, `degradation_cpu_long`)",
        R / "laptop_trials/runs/trial_long12k",
        R / "degradation_cpu_long/runs",
        R / "degradation_laptop_long/runs",
    ),
    (
        "four depths, batch 32, lr 0.025, 6000 it., warm-up, bf16 (issue 24)",
        R / "laptop_trials/runs/four_depths_b32",
    ),
    (
        "`degradation_laptop_fig6` at depths 20/56, 3600 it. (drops at 1800/2700), bf16 (issue 24)",
        R / "laptop_trials/runs/two_depths_3600",
    ),
    (
        "`degradation_laptop_fig6_fast`: the flagship at 3000 it. (drops at 1500/2250), "
        "residual branches started at zero, bf16 (issue 24)",
        R / "degradation_laptop_fig6_fast/runs",
    ),
    (
        "the same with the paper's init (`init.zero_residual=false`), residual nets only (issue 24)",
        R / "laptop_trials/runs/fast_paper_init",
    ),
    # Session 20: the paper's init at 3200 steps (about 28 minutes for four depths on a Zen 4),
    # seed 0 only, the flagship's residual pair with one schedule key changed per row.
    (
        "the flagship at 3200 it., residual nets, lr 0.015 (drops at 1600/2400) (issue 24)",
        R / "laptop_trials/runs/s20_lr015",
    ),
    (
        "the flagship at 3200 it., residual nets, lr 0.025 (drops at 1600/2400) (issue 24)",
        R / "laptop_trials/runs/s20_lr025",
    ),
    (
        "the flagship at 3200 it., residual nets, lr 0.1 (drops at 1600/2400) (issue 24)",
        R / "laptop_trials/runs/s20_lr01",
    ),
    (
        "the flagship at 3200 it., residual nets, lr 0.05, late drops (2400/2880) (issue 24)",
        R / "laptop_trials/runs/s20_late_drops",
    ),
    (
        "the flagship at 3200 it., residual nets, lr 0.025, late drops (2400/2880) (issue 24)",
        R / "laptop_trials/runs/s20_late_drops_lr025",
    ),
    (
        "the flagship at 3200 it., residual nets, lr 0.035, late drops (2400/2880) (issue 24)",
        R / "laptop_trials/runs/s20_late_drops_lr035",
    ),
    # Session 21: the same schedule stretched to 4000 steps (drops kept at 75%/90%), seeds 0-5.
    (
        "the same at 4000 it., drops at 3000/3600 (issue 24)",
        R / "laptop_trials/runs/s21_4000_residual",
    ),
]


def _summary(run: Run) -> dict:
    return json.loads(run.path.joinpath("summary.json").read_text())


def _wall(run: Run) -> str:
    s = _summary(run)
    return f"{s['wall_time_s'] / 60:.0f}" if s.get("wall_time_s") else "?"


def _cpu(runs: Iterable[Run]) -> str:
    """The CPU the runs recorded; runs before provenance had a `cpu` field ran on this
    project's AMD EPYC machine (lscpu, noted in the session logs)."""
    names = {_summary(r)["provenance"].get("cpu") or "AMD EPYC (not recorded)" for r in runs}
    return ", ".join(sorted(names))


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


print(
    "| setting | seed | plain-20 | plain-56 | residual-20 | residual-56 | residual 56 minus 20 "
    "(points) | both halves in this seed | run wall minutes (20 / 56) | CPU |"
)
print("|---|---|---|---|---|---|---|---|---|---|")
for label, *folders in SETTINGS:
    runs, _ = load_runs([d for f in folders if f.is_dir() for d in find_run_dirs(f)])
    for seed in sorted({r.seed for r in runs}):
        got = {(r.block, r.depth): r for r in runs if r.seed == seed and r.completed}
        err = {k: r.train_error for k, r in got.items()}
        p20, p56 = err.get(("plain", 20)), err.get(("plain", 56))
        r20, r56 = err.get(("residual", 20)), err.get(("residual", 56))
        gap = f"{100 * (r56 - r20):+.1f}" if r20 is not None and r56 is not None else "-"
        both = "-"
        if None not in (p20, p56, r20, r56):
            both = "yes" if p56 > p20 and r56 < r20 else "no"
        walls = [
            _wall(r)
            for r in (got.get(("residual", 20)), got.get(("residual", 56)))
            if r is not None
        ]
        print(
            f"| {label} | {seed} | {pct(p20)} | {pct(p56)} | {pct(r20)} | {pct(r56)} | {gap} | "
            f"{both} | {' / '.join(walls) or '-'} | {_cpu(got.values())} |"
        )
