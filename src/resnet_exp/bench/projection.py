"""How long a sweep of the measured nets would take at paper scale, from the measured step times.

A run is `iterations` training steps plus an evaluation of the 10k test images every
`eval_every` steps. Steps are timed by the bench; evaluation is estimated from FLOPs (a forward
pass is about a third of a training step per image), which overestimates it a little, since
evaluation runs at a larger batch with no backward pass. Start-up, checkpoints and logging
are not counted (seconds per run against the minutes of training).
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_exp.bench.measure import Measurement
from resnet_exp.bench.settings import CIFAR_TEST_SIZE, PAPER_EVAL_EVERY


@dataclass(frozen=True)
class RunProjection:
    net: str
    ms_per_step: float
    train_s: float
    eval_s: float

    @property
    def total_s(self) -> float:
        return self.train_s + self.eval_s


def evaluations(iterations: int, eval_every: int) -> int:
    # The loop evaluates every eval_every steps and at the last step, once if they coincide.
    return iterations // eval_every + (iterations % eval_every != 0)


def project_run(
    m: Measurement,
    iterations: int,
    eval_every: int = PAPER_EVAL_EVERY,
    test_size: int = CIFAR_TEST_SIZE,
    eval_subset: int | None = None,
) -> RunProjection:
    step_s = m.ms_per_step / 1000.0
    per_process_images_per_s = m.batch_size / step_s
    n = evaluations(iterations, eval_every)
    # eval_subset: every evaluation but the last uses that many images; the last uses all.
    eval_images = test_size + (n - 1) * min(eval_subset or test_size, test_size)
    forward_share = m.forward_flops_per_image / m.train_flops_per_image
    eval_s = eval_images * forward_share / per_process_images_per_s
    return RunProjection(m.net, m.ms_per_step, iterations * step_s, eval_s)


def schedule(durations: list[float], workers: int) -> float:
    """When the last of the runs ends, started in order, each on the first worker to come free
    (what Hydra's joblib launcher does with its n_jobs workers)."""
    free = [0.0] * max(1, workers)
    for d in durations:
        i = free.index(min(free))
        free[i] += d
    return max(free)


def project_sweep(
    results: list[Measurement],
    iterations: int,
    eval_every: int = PAPER_EVAL_EVERY,
    eval_subset: int | None = None,
    order: list[str] | None = None,
) -> dict | None:
    """The resnet-exp rows' runs, one after another (K = 1) or K at a time (measured with
    --processes K), in the sweep's job order (`order`: net names; default as measured), each
    run starting on the first of the K workers to come free."""
    rows = [m for m in results if m.path == "resnet-exp"]
    if not rows:
        return None
    if order:
        rank = {name: i for i, name in enumerate(order)}
        rows = sorted(rows, key=lambda m: rank.get(m.net, len(rank)))
    processes = rows[0].processes
    runs = [project_run(m, iterations, eval_every, CIFAR_TEST_SIZE, eval_subset) for m in rows]
    total_s = schedule([r.total_s for r in runs], processes)
    return {
        "iterations": iterations,
        "eval_every": eval_every,
        "eval_subset": eval_subset,
        "test_size": CIFAR_TEST_SIZE,
        "processes": processes,
        "nets": [m.net for m in rows],
        "runs": [
            {
                "net": r.net,
                "ms_per_step": r.ms_per_step,
                "train_s": r.train_s,
                "eval_s_estimate": r.eval_s,
                "total_s": r.total_s,
            }
            for r in runs
        ],
        "sweep_s": total_s,
    }
