"""How a depth gap develops during training (a report's `gaps.md`).

Per seed, each deeper net's training error minus the shallowest net's of the same block, over
the run. Why a report needs it: a laptop run stops long before the paper's 64k iterations, and
whether a gap is still closing at the end or settled long before says whether a longer run
could change the verdict (a residual-56 that overtakes residual-20 only in the last twelfth
is a different result from one that has been ahead for half the run).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .collect import Cell, Curve, block_rank

# Twelve windows: as many as the flagship's test evaluations, and each one covers enough logged
# training windows (10 at 6000 iterations, logged every 50) to average out most batch noise.
MARKS = 12


def marks_for(iterations: int, count: int = MARKS) -> list[int]:
    """`count` evenly spaced iterations ending at `iterations`: the end of each window."""
    count = max(1, min(count, iterations))
    return [round(iterations * i / count) for i in range(1, count + 1)]


def gap_at_marks(
    shallow: Curve, deep: Curve, marks: list[int], window: int | None = None
) -> list[float | None]:
    """Per mark m, the mean of deep minus shallow over the steps both runs logged in
    (m - window, m]; without `window`, since the previous mark, so that the windows tile the run
    (each logged value is the error over the iterations since the last log). Each logged step
    counts once: the trainer logs at a fixed interval, so this equals weighting by iterations
    except around a resume or a last step off the grid. None where the two logged no common
    step in a window."""
    a, b = dict(shallow), dict(deep)
    out: list[float | None] = []
    prev = 0
    for m in marks:
        start = prev if window is None else m - window
        diffs = [b[k] - a[k] for k in a if start < k <= m and k in b]
        out.append(statistics.fmean(diffs) if diffs else None)
        prev = m
    return out


@dataclass
class GapTable:
    """One block's deeper net against its shallowest: gaps (fractions) per seed, per mark."""

    block: str
    shallow: int
    deep: int
    marks: list[int]
    seeds: dict[int, list[float | None]]

    @property
    def mean(self) -> list[float | None]:
        """Per mark, the mean over all seeds; None where a seed has no value, so that every
        number in the `mean of N` row is a mean of N."""
        cols = zip(*self.seeds.values(), strict=True) if self.seeds else []
        return [None if None in col else statistics.fmean(col) for col in cols]


def gap_tables(cells: list[Cell], count: int = MARKS) -> list[GapTable]:
    """For every block with completed runs at two or more depths: each deeper depth against the
    shallowest, on the seeds both completed. Unfinished runs are left out, as in every mean."""
    by_block: dict[str, dict[int, dict[int, Curve]]] = {}
    iterations: dict[str, int] = {}
    logged: dict[str, int] = {}
    for cell in cells:
        for r in cell.completed:
            if r.seed is None or not r.train_curve:
                continue
            by_block.setdefault(r.block, {}).setdefault(r.depth, {})[r.seed] = r.train_curve
            planned = r.iterations or r.train_curve[-1][0]
            iterations[r.block] = max(iterations.get(r.block, 0), planned)
            # Never more windows than logged points: a short run logged 6 times gets 6 columns,
            # not 12 with every other one empty.
            logged[r.block] = max(logged.get(r.block, 0), len(r.train_curve))
    tables = []
    for block in sorted(by_block, key=block_rank):
        depths = sorted(by_block[block])
        if len(depths) < 2:
            continue
        marks = marks_for(iterations[block], min(count, logged[block]))
        base = by_block[block][depths[0]]
        for depth in depths[1:]:
            deep = by_block[block][depth]
            seeds = {s: gap_at_marks(base[s], deep[s], marks) for s in sorted(base) if s in deep}
            if seeds:
                tables.append(GapTable(block, depths[0], depth, marks, seeds))
    return tables


def _fmt(gap: float | None) -> str:
    return "-" if gap is None else f"{100 * gap:+.1f}"


def to_markdown(tables: list[GapTable], setting: str = "") -> str:
    """All tables as one Markdown page, with what the numbers are."""
    title = "# Depth gaps over training" + (f": {setting}" if setting else "")
    lines = [
        title,
        "",
        "Each deeper net's training error minus the shallowest net's of the same block and seed, "
        "in points: the run is cut into equal parts (twelfths, or one per logged point on runs "
        "logged fewer times), and each number is the mean over the training windows logged in "
        "one part, up to the iteration named. Negative: the deeper net trains better. Completed "
        "runs only; the mean row shows - where a seed has no value. The "
        "last column is not the verdict's final error (the last 10% of the iterations, at the "
        "final learning rate): read the verdict for the result and this page for when it "
        "appeared, and whether it was still moving at the end.",
    ]
    if not tables:
        lines += ["", "No block has completed runs at two depths with a common seed."]
    for t in tables:
        lines += [
            "",
            f"## {t.block}-{t.deep} minus {t.block}-{t.shallow}",
            "",
            "| seed | " + " | ".join(str(m) for m in t.marks) + " |",
            "|---|" + "---:|" * len(t.marks),
        ]
        lines += [f"| {s} | " + " | ".join(map(_fmt, row)) + " |" for s, row in t.seeds.items()]
        if len(t.seeds) > 1:
            lines.append(f"| mean of {len(t.seeds)} | " + " | ".join(map(_fmt, t.mean)) + " |")
    return "\n".join(lines) + "\n"
