"""The learning-rate schedule as a pure function of the iteration (trivial to resume)."""

from __future__ import annotations

from bisect import bisect_right


def lr_at(
    iteration: int,
    base_lr: float,
    milestones: tuple[int, ...],
    gamma: float = 0.1,
    warming_up: bool = False,
    warmup_lr: float = 0.01,
) -> float:
    """lr for the step that starts after `iteration` completed steps.

    The lr is multiplied by gamma at each milestone passed (paper: /10 at 32k and 48k). While
    `warming_up` (paper's ResNet-110: until training error < 80%) it is `warmup_lr` instead.
    """
    if warming_up:
        return warmup_lr
    # Rounded so logs show 0.01, not 0.010000000000000002.
    return float(f"{base_lr * gamma ** bisect_right(sorted(milestones), iteration):.12g}")
