"""The verdict: does the degradation result of He et al. (Fig. 6) show up in these runs?"""

from __future__ import annotations

from dataclasses import dataclass, field

from .collect import Cell, Run, mean_std


@dataclass
class Trend:
    """Mean final training error per completed depth of one block type."""

    block: str
    depths: list[int]
    errors: list[float]  # fractions, same order as depths

    @property
    def judgeable(self) -> bool:
        return len(self.depths) >= 2

    @property
    def rises(self) -> bool:
        """Deepest completed depth trains worse than the shallowest."""
        return self.errors[-1] > self.errors[0]

    @property
    def falls(self) -> bool:
        return self.errors[-1] < self.errors[0]

    @property
    def monotone_rise(self) -> bool:
        return all(a < b for a, b in zip(self.errors, self.errors[1:], strict=False))

    @property
    def monotone_fall(self) -> bool:
        return all(a > b for a, b in zip(self.errors, self.errors[1:], strict=False))


@dataclass
class Verdict:
    """Structured verdict; booleans are None where the runs cannot answer the question."""

    dataset: str | None
    plain: Trend | None
    residual: Trend | None
    plain_degrades: bool | None
    plain_monotone: bool | None  # strictly rising over all completed depths
    residual_improves: bool | None
    residual_monotone: bool | None  # strictly falling over all completed depths
    compare_depth: int | None  # deepest depth with completed plain and residual runs
    residual_beats_plain: bool | None  # lower training error there
    lines: list[str] = field(default_factory=list)  # the findings, in words
    excluded: list[str] = field(default_factory=list)  # one line per run not averaged in
    cautions: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """Plain text for the terminal."""
        out = list(self.lines)
        out += [f"Caution: {c}" for c in self.cautions]
        out += [f"not included: {e}" for e in self.excluded]
        return "\n".join(out) + "\n"

    def to_markdown(self) -> str:
        """verdict.md."""
        out = ["# Verdict", ""]
        out += [f"{line}\n" for line in self.lines]
        if self.cautions:
            out += ["## Cautions", ""] + [f"- {c}" for c in self.cautions] + [""]
        if self.excluded:
            out += ["## Runs not included in any mean", ""]
            out += [f"- not included: {e}" for e in self.excluded] + [""]
        return "\n".join(out)


def describe_excluded(run: Run) -> str:
    """Why a run is not averaged in, e.g. `plain-56 s1 diverged at iteration 812`."""
    of = f" of {run.iterations}" if run.iterations else ""
    at = f"iteration {run.iteration}{of}" if run.iteration is not None else "an unknown iteration"
    if run.status == "diverged":
        return f"{run.short} diverged at iteration {run.diverged_at or run.iteration or '?'}"
    if run.status == "failed":
        why = f": {run.error}" if run.error else ""
        return f"{run.short} failed at {at}{why}"
    if run.status == "running":
        return f"{run.short} still running (at {at})"
    if run.status == "interrupted":
        return f"{run.short} interrupted at {at}"
    if not run.has_summary:
        return f"{run.short} has no summary.json yet (status unknown, last logged step {run.iteration})"
    return f"{run.short} has status {run.status!r} (at {at})"


def trend(cells: list[Cell], block: str) -> Trend | None:
    """The block's training-error trend over depths that have a completed run; None if no runs."""
    mine = sorted((c for c in cells if c.block == block), key=lambda c: c.depth)
    if not mine:
        return None
    depths, errors = [], []
    for c in mine:
        stats = mean_std([r.train_error for r in c.completed if r.train_error is not None])
        if stats:
            depths.append(c.depth)
            errors.append(stats[0])
    return Trend(block, depths, errors)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _ordering(t: Trend, rising: bool) -> str:
    """`(monotone over 20<32<44<56)` or the per-depth numbers when the order is broken."""
    if len(t.depths) > 2 and (t.monotone_rise if rising else t.monotone_fall):
        return f" (monotone over {'<'.join(str(d) for d in t.depths)})"
    if len(t.depths) > 2:
        each = ", ".join(f"{d}: {_pct(e)}" for d, e in zip(t.depths, t.errors, strict=True))
        return f" (not monotone: {each})"
    return ""


def _trend_line(t: Trend | None, name: str, word: str) -> str:
    """One sentence about one block type; `word` is what the paper expects (degrade / improve)."""
    if t is None:
        return f"No {name} runs: can't judge how {name} nets change with depth."
    if not t.depths:
        return f"{name.capitalize()} nets: no completed run yet, can't judge a depth trend."
    if not t.judgeable:
        return (
            f"{name.capitalize()} nets: only depth {t.depths[0]} has a completed run "
            f"(training error {_pct(t.errors[0])}), can't judge a depth trend."
        )
    span = (
        f"training error {_pct(t.errors[0])} at depth {t.depths[0]} -> "
        f"{_pct(t.errors[-1])} at depth {t.depths[-1]}"
    )
    expected = t.rises if name == "plain" else t.falls
    if expected:
        return f"{name.capitalize()} nets {word} with depth: {span}{_ordering(t, name == 'plain')}."
    if t.errors[-1] == t.errors[0]:
        return f"{name.capitalize()} nets: training error is flat with depth: {span}."
    return (
        f"{name.capitalize()} nets do NOT {word} with depth at this scale: "
        f"{span}{_ordering(t, name != 'plain')}."
    )


def _seed_range(cell: Cell) -> tuple[float, float] | None:
    vals = [r.train_error for r in cell.completed if r.train_error is not None]
    return (min(vals), max(vals)) if len(vals) >= 2 else None


def _noise_caution(cells: list[Cell], t: Trend | None) -> str | None:
    """Warn when the seeds at the shallowest and deepest depth overlap: the trend may be noise."""
    if t is None or not t.judgeable:
        return None
    by_depth = {c.depth: c for c in cells if c.block == t.block}
    lo, hi = _seed_range(by_depth[t.depths[0]]), _seed_range(by_depth[t.depths[-1]])
    if lo and hi and lo[0] <= hi[1] and hi[0] <= lo[1]:
        return (
            f"{t.block} training errors at depth {t.depths[0]} ({_pct(lo[0])}-{_pct(lo[1])}) and "
            f"{t.depths[-1]} ({_pct(hi[0])}-{_pct(hi[1])}) overlap across seeds."
        )
    return None


def _mixed_configs(cells: list[Cell]) -> list[str]:
    """Seeds of one cell should differ only in seed; say so when they don't."""
    out = []
    for c in cells:
        for attr in ("width", "shortcut", "init", "iterations"):
            values = {getattr(r, attr) for r in c.runs if getattr(r, attr) is not None}
            if len(values) > 1:
                shown = ", ".join(sorted(str(v) for v in values))
                out.append(f"{c.label} mixes runs with different {attr} ({shown}).")
    return out


def judge(cells: list[Cell], problems: list[str] | None = None) -> Verdict:
    """Build the verdict from cells; `problems` are run dirs that could not be loaded at all."""
    runs = [r for c in cells for r in c.runs]
    names = sorted({r.dataset for r in runs if r.dataset})
    dataset = names[0] if len(names) == 1 else None
    plain, residual = trend(cells, "plain"), trend(cells, "residual")
    n_done = sum(r.completed for r in runs)
    lines = [
        f"Dataset: {dataset or 'unknown'}; {len(runs)} runs in {len(cells)} (block, depth) cells, "
        f"{n_done} completed. Means are over completed seeds only."
    ]
    lines.append(_trend_line(plain, "plain", "degrade"))
    lines.append(_trend_line(residual, "residual", "improve"))

    # Plain vs residual at the deepest depth both have completed.
    common = sorted(set(plain.depths if plain else []) & set(residual.depths if residual else []))
    compare_depth = common[-1] if common else None
    beats = None
    if compare_depth is None:
        lines.append(
            "No depth has completed runs of both plain and residual nets: can't compare them."
        )
    else:
        p = plain.errors[plain.depths.index(compare_depth)]
        r = residual.errors[residual.depths.index(compare_depth)]
        beats = r < p
        gap = abs(p - r) * 100
        how = (
            f"residual is {gap:.1f} points lower"
            if beats
            else f"residual is NOT lower ({gap:.1f} points higher)"
        )
        if r == p:
            how = "they are equal"
        lines.append(
            f"At depth {compare_depth} (deepest with both), training error residual {_pct(r)} "
            f"vs plain {_pct(p)}: {how}."
        )

    cautions = [c for c in (_noise_caution(cells, plain), _noise_caution(cells, residual)) if c]
    cautions += _mixed_configs(cells)
    excluded = [describe_excluded(r) for c in cells for r in c.excluded]
    excluded += [f"{p} (could not be loaded)" for p in problems or []]
    return Verdict(
        dataset=dataset,
        plain=plain,
        residual=residual,
        plain_degrades=plain.rises if plain and plain.judgeable else None,
        plain_monotone=plain.monotone_rise if plain and plain.judgeable else None,
        residual_improves=residual.falls if residual and residual.judgeable else None,
        residual_monotone=residual.monotone_fall if residual and residual.judgeable else None,
        compare_depth=compare_depth,
        residual_beats_plain=beats,
        lines=lines,
        excluded=excluded,
        cautions=cautions,
    )
