"""Estimate one seed's whole-sweep wall time from measured per-run wall times.

A Hydra joblib sweep with n_jobs=2 hands the jobs to two workers in sweep order, each worker
taking the next job when its current one ends (greedy list scheduling). Given each net's measured
wall time (runs trained two at a time on one CPU model, so the times already include sharing the
machine), this replays that schedule. It is an estimate: a run's speed depends on which run shares
the machine with it. Checked against the two sweeps that were timed whole: replaying
degradation_laptop_long's order (plain-56, plain-20, residual-56, residual-20) with each seed's own
run times gives 73.4 and 79.6 min for seeds 2 and 3, against 1:13:42 and 1:19:51 measured.

    python docs/results/degradation_cpu_long/sweep_time_estimate.py \
        docs/results/degradation_cpu_long/runs docs/results/degradation_laptop_long/runs \
        --cpu "Intel(R) Xeon(R) Processor"
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from omegaconf import OmegaConf

from resnet_exp.report.collect import find_run_dirs, load_runs

PRESET = Path(__file__).resolve().parents[3] / "conf/experiment/degradation_cpu_long.yaml"


def sweep_order(preset: Path) -> list[str]:
    """Nets in the order the preset's sweep launches them, read from its sweeper params (Hydra's
    basic sweeper takes the product with the first parameter outermost: plain-56, plain-44, ...)."""
    params = OmegaConf.load(preset).hydra.sweeper.params
    return [f"{b}-{d}" for b in str(params.block).split(",") for d in str(params.depth).split(",")]


def wall_minutes_by_net(folders: list[Path], cpu: str) -> dict[str, list[float]]:
    """Wall minutes of every completed run on `cpu`, grouped by net name (e.g. plain-56)."""
    runs, _ = load_runs([d for folder in folders for d in find_run_dirs(folder)])
    times: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        # Run holds what the report needs; the wall time and CPU are only in summary.json.
        summary = json.loads((run.path / "summary.json").read_text())
        if run.status == "completed" and summary["provenance"].get("cpu") == cpu:
            times[run.label].append(summary["wall_time_s"] / 60)
    return dict(times)


def greedy_makespan(durations: list[float], workers: int) -> float:
    """Finish time of jobs handed in order to whichever worker frees first."""
    free_at = [0.0] * workers
    for duration in durations:
        first_free = min(range(workers), key=lambda w: free_at[w])
        free_at[first_free] += duration
    return max(free_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--cpu", required=True, help="provenance.cpu of the runs to use")
    parser.add_argument("--order", help="nets in sweep order (default: the preset's sweep)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    times = wall_minutes_by_net(args.folders, args.cpu)
    order = args.order.split(",") if args.order else sweep_order(PRESET)
    missing = [net for net in order if net not in times]
    if missing:
        raise SystemExit(f"no completed run on {args.cpu!r} for: {', '.join(missing)}")
    print(f"CPU: {args.cpu}; per-net wall minutes (mean of the runs, two at a time):")
    for net in order:
        each = ", ".join(f"{t:.1f}" for t in times[net])
        print(f"  {net}: {statistics.mean(times[net]):.1f}  (runs: {each})")
    durations = [statistics.mean(times[net]) for net in order]
    makespan = greedy_makespan(durations, args.workers)
    print(f"sum of run times: {sum(durations):.1f} min")
    print(f"estimated sweep, {args.workers} at a time in this order: {makespan:.1f} min")


if __name__ == "__main__":
    main()
