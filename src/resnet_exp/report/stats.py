"""Is a difference between two cells' seed means larger than its noise? Welch's t at 95%."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

LEVEL = 0.95  # two-sided confidence level of every interval the verdict states

HOLDS, OPPOSITE, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class Difference:
    """mean(b) - mean(a) over seeds, with Welch's interval when both sides have 2+ seeds."""

    a: list[float]
    b: list[float]
    diff: float
    ci: tuple[float, float] | None  # LEVEL interval of the difference; None with one seed
    p_value: float | None  # two-sided Welch's t-test; None with one seed
    df: float | None  # Welch-Satterthwaite degrees of freedom

    @property
    def mean_a(self) -> float:
        return statistics.fmean(self.a)

    @property
    def mean_b(self) -> float:
        return statistics.fmean(self.b)

    @property
    def one_seed(self) -> bool:
        return self.ci is None

    def conclusion(self, expected_sign: int) -> str:
        """HOLDS when the interval lies wholly on the expected side of zero, OPPOSITE when it lies
        wholly on the other side, INCONCLUSIVE when it straddles zero or there is one seed."""
        if self.ci is None:
            return INCONCLUSIVE
        lo, hi = self.ci
        if lo > 0 or hi < 0:
            return HOLDS if (lo > 0) == (expected_sign > 0) else OPPOSITE
        return INCONCLUSIVE


def welch(a: list[float], b: list[float]) -> Difference:
    """Welch's unequal-variance comparison of two samples (errors of seeds of two cells)."""
    from scipy import stats  # imported late: only the report needs it

    if not a or not b:
        raise ValueError("welch() needs at least one value on each side")
    diff = statistics.fmean(b) - statistics.fmean(a)  # = mean_b - mean_a
    if len(a) < 2 or len(b) < 2:
        return Difference(list(a), list(b), diff, None, None, None)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:  # identical seeds on both sides: the difference is exact
        return Difference(list(a), list(b), diff, (diff, diff), 0.0 if diff else 1.0, math.inf)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return Difference(list(a), list(b), diff, (diff - half, diff + half), p, df)
