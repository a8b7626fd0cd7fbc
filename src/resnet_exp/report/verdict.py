"""The verdict: does the degradation result of He et al. (Fig. 6) show up in these runs?

Each claim (plain nets degrade with depth, residual nets improve with depth, residual beats plain
at a depth) gets one of three conclusions: holds, does not hold (the opposite holds), or
inconclusive. A difference counts only when Welch's 95% interval over seeds excludes zero, so a
gap inside the seed noise, or resting on one seed per cell, is never called a result. Only runs of
one setting (same result identity but for block, depth and seed) are compared: see collect.Group.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from resnet_exp.naming import dataset_key

from .collect import FINAL_WINDOW_FRACTION, Cell, Run, mean_std
from .stats import HOLDS, INCONCLUSIVE, LEVEL, OPPOSITE, Difference, welch

TEST_NAME = f"Welch's t-test, two-sided {LEVEL:.0%} interval of the difference of seed means"
WINDOW_TEXT = (
    f"final training error = mean over the last {FINAL_WINDOW_FRACTION:.0%} of each run's "
    "iterations at its final learning rate (the last logging window where the curve cannot give it)"
)


@dataclass
class Comparison:
    """Cell b against cell a: is b's mean error on the expected side of a's?"""

    a: str  # `plain-20`
    b: str  # `plain-56`
    measure: str  # train_error | test_error
    expected_sign: int  # +1: b should be higher; -1: b should be lower
    result: Difference
    seeds_a: list[int | None]
    seeds_b: list[int | None]

    @property
    def conclusion(self) -> str:
        return self.result.conclusion(self.expected_sign)

    def seed_by_seed(self) -> tuple[int, int]:
        """(seeds in which b lies on the expected side of a, seeds run in both cells). A
        description of consistency, not a test: the conclusion stays Welch's."""
        a = {s: v for s, v in zip(self.seeds_a, self.result.a, strict=True) if s is not None}
        b = {s: v for s, v in zip(self.seeds_b, self.result.b, strict=True) if s is not None}
        shared = [s for s in a if s in b]
        return sum((b[s] - a[s]) * self.expected_sign > 0 for s in shared), len(shared)

    def evidence(self) -> str:
        """`+30.4 points (95% interval +25.1 to +35.7; 4 vs 4 seeds)` or the one-seed caveat."""
        r = self.result
        text = f"{_pts(r.diff)} points"
        if r.one_seed:
            return (
                f"{text}, resting on {_seed_count(r.a)} vs {_seed_count(r.b)}: "
                "one seed cannot tell noise from effect"
            )
        lo, hi = r.ci
        inside = ", inside the seed noise" if self.conclusion == INCONCLUSIVE else ""
        agree, shared = self.seed_by_seed()
        side = "higher" if self.expected_sign > 0 else "lower"
        per_seed = f"; seed by seed, {self.b} {side} in {agree} of {shared}" if shared > 1 else ""
        return (
            f"{text}{inside} ({LEVEL:.0%} interval {_pts(lo)} to {_pts(hi)}; "
            f"{len(r.a)} vs {len(r.b)} seeds{per_seed})"
        )

    def to_json(self) -> dict:
        r = self.result
        return {
            "a": self.a,
            "b": self.b,
            "measure": self.measure,
            "expected": "b higher" if self.expected_sign > 0 else "b lower",
            "conclusion": self.conclusion,
            "mean_a": r.mean_a,
            "mean_b": r.mean_b,
            "difference": r.diff,
            "ci95": list(r.ci) if r.ci else None,
            "p_value": r.p_value,
            "df": r.df,
            "test": "welch_t" if not r.one_seed else "none: one seed",
            "seeds_a": self.seeds_a,
            "seeds_b": self.seeds_b,
            "seed_by_seed": dict(zip(("expected_side", "seeds"), self.seed_by_seed(), strict=True)),
        }


@dataclass
class Half:
    """One half of the result: plain nets degrade, or residual nets improve, with depth."""

    key: str  # plain_degrades | residual_improves
    block: str
    expected_sign: int  # +1: error rises with depth; -1: falls
    depths: list[int]  # depths with at least one completed seed
    means: list[float]
    missing: dict[int, str]  # depth -> why it has no completed seed
    excluded: list[str]  # `plain-56: 1 of 3 seeds diverged, excluded from the mean`
    endpoints: Comparison | None
    steps: list[Comparison]

    @property
    def conclusion(self) -> str:
        if self.endpoints is None:
            return INCONCLUSIVE
        return self.endpoints.conclusion

    @property
    def monotone(self) -> bool | None:
        """True only when every step between adjacent depths holds on its own."""
        if len(self.steps) < 2:
            return None
        return all(s.conclusion == HOLDS for s in self.steps)

    def to_json(self) -> dict:
        return {
            "claim": f"{self.block} nets {'degrade' if self.expected_sign > 0 else 'improve'} with depth",
            "conclusion": self.conclusion,
            "depths": self.depths,
            "mean_train_error": self.means,
            "endpoints": self.endpoints.to_json() if self.endpoints else None,
            "steps": [s.to_json() for s in self.steps],
            "monotone": self.monotone,
            "missing_depths": {str(d): why for d, why in self.missing.items()},
            "excluded": self.excluded,
        }


# Against chance (1 - 1/classes): a cell "trains" when every completed seed ends at least
# TRAINS_BELOW under chance, "stays at chance" when every one ends within AT_CHANCE of it. A
# degradation sweep never comes near either line; a 1000-layer net after a few hundred steps can.
TRAINS_BELOW = 0.10
AT_CHANCE = 0.03
# A net that does not train is said to have died when at least this fraction of its classifier's
# input maps was all zero at the end. In deep_laptop's runs (docs/results/deep_laptop): the
# preact nets 0.8-2.4%, residual-110 17-29%, plain-110 31-40%, residual-1202 99.8-99.9% (the
# paper's init); but nets that do train can have most maps dead too (residual-1202 with
# zero-started branches: 62-71%, docs/results/deep_laptop/zero_residual), so the bar is high.
DEAD_NOTE = 0.95


@dataclass
class Trainability:
    """One (block, depth) cell against chance."""

    label: str
    chance: float
    state: str  # trains | at_chance | barely | diverged | unfinished
    errors: list[float]  # completed seeds' final training errors
    seeds: list[int | None]
    diverged: list[str]  # `s0 at iteration 2`
    # Completed seeds' last recorded fraction of dead feature maps at the classifier (only runs
    # that recorded one): says *why* a net that does not train guesses.
    dead: list[float] = field(default_factory=list)

    def dead_note(self) -> str:
        """'; at its last signal record 99.8-99.9% of the feature maps its classifier reads were
        zero at every pixel (...)', where a net that does not train ended with DEAD_NOTE or more
        of them dead."""
        if self.state == "trains" or not self.dead or max(self.dead) < DEAD_NOTE:
            return ""
        # One decimal, trailing zeros dropped: 99.8% must not read as 100%.
        lo, hi = (
            f"{v * 100:.1f}".rstrip("0").rstrip(".") for v in (min(self.dead), max(self.dead))
        )
        amount = f"{lo}%" if lo == hi else f"{lo}-{hi}%"
        return (
            f"; at its last signal record {amount} of the feature maps its classifier reads were "
            "zero at every pixel (dead ReLUs: its classifier sees almost nothing of the image)"
        )

    def sentence(self) -> str:
        n = len(self.errors)
        if self.state == "diverged":
            return (
                f"{self.label}: does not train: the loss became non-finite in "
                f"{_count(len(self.diverged), 'seed')} ({', '.join(self.diverged)})."
            )
        if self.state == "unfinished":
            return f"{self.label}: no completed seed to judge."
        mean = sum(self.errors) / n
        spread = _distance_from_chance(sorted(self.chance - e for e in self.errors))
        word = {
            "trains": "trains",
            "at_chance": "stays at chance",
            "barely": f"below chance, but not by {TRAINS_BELOW * 100:.0f} points in every seed",
        }[self.state]
        extra = f"; {_count(len(self.diverged), 'seed')} diverged" if self.diverged else ""
        return (
            f"{self.label}: {word}: {_pct(mean)} ({_seed_count(self.errors)}), {spread}{extra}"
            f"{self.dead_note()}."
        )

    def to_json(self) -> dict:
        return {
            "cell": self.label,
            "chance": self.chance,
            "state": self.state,
            "train_errors": self.errors,
            "seeds": self.seeds,
            "diverged": self.diverged,
            "dead_features": self.dead,
        }


def trainability(cell: Cell) -> Trainability | None:
    """Where the cell's runs end against chance; None when the class count is unknown."""
    classes = {r.num_classes for r in cell.runs if r.num_classes}
    if len(classes) != 1:
        return None
    chance = 1 - 1 / classes.pop()
    errors, seeds = _values(cell, "train_error")
    diverged = [
        f"s{r.seed} at iteration {r.diverged_iteration or '?'}"
        for r in cell.runs
        if r.status == "diverged"
    ]
    if not errors:
        state = "diverged" if diverged else "unfinished"
    elif all(chance - e >= TRAINS_BELOW for e in errors):
        state = "trains"
    elif all(abs(chance - e) <= AT_CHANCE for e in errors):
        state = "at_chance"
    else:
        state = "barely"
    dead = [r.dead_features for r in cell.completed if r.dead_features is not None]
    return Trainability(cell.label, chance, state, errors, seeds, diverged, dead)


def trainability_headline(cells: list[Trainability]) -> str:
    good = [c.label for c in cells if c.state == "trains"]
    bad = [c for c in cells if c.state not in ("trains", "unfinished")]
    words = {"diverged": "diverged", "at_chance": "at chance", "barely": "barely below chance"}
    text = f"Not every net trains (chance: {_pct(cells[0].chance)} training error): " + ", ".join(
        f"{c.label} {words[c.state]}" for c in bad
    )
    if good:
        text += f"; {', '.join(good)} train{'s' if len(good) == 1 else ''} ({TRAINS_BELOW * 100:.0f}+ points below chance in every seed)"
    return text + "."


@dataclass
class Verdict:
    """The verdict on one group of like runs."""

    label: str  # what sets this group apart from others in the same report; "" if alone
    setting: dict
    dataset: str | None
    halves: dict[str, Half | None]
    plain_vs_residual: list[Comparison]  # per depth with both, shallowest first
    test_error_residual: Comparison | None  # residual shallowest vs deepest, test error
    lines: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    trainability: list[Trainability] = field(default_factory=list)

    @property
    def plain(self) -> Half | None:
        return self.halves["plain_degrades"]

    @property
    def residual(self) -> Half | None:
        return self.halves["residual_improves"]

    @property
    def both_halves_hold(self) -> bool:
        return all(h is not None and h.conclusion == HOLDS for h in self.halves.values())

    def to_text(self) -> str:
        out = list(self.lines)
        out += [f"not included: {e}" for e in self.excluded]
        return "\n".join(out) + "\n"

    def to_markdown(self, heading: str = "# Verdict") -> str:
        out = [heading, ""]
        out += [f"{line}\n" for line in self.lines]
        if self.excluded:
            out += ["Runs not included in any mean:", ""]
            out += [f"- not included: {e}" for e in self.excluded] + [""]
        return "\n".join(out)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "setting": self.setting,
            "dataset": self.dataset,
            "both_halves_hold": self.both_halves_hold,
            "halves": {k: (h.to_json() if h else None) for k, h in self.halves.items()},
            "plain_vs_residual": [c.to_json() for c in self.plain_vs_residual],
            "residual_test_error": (
                self.test_error_residual.to_json() if self.test_error_residual else None
            ),
            "excluded": self.excluded,
            "trainability": [t.to_json() for t in self.trainability],
            "train_error_windows": self.windows,
            "sentences": self.lines,
        }


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _pts(x: float) -> str:
    return f"{x * 100:+.1f}"


def _seed_count(values: list[float]) -> str:
    return f"{len(values)} seed{'s' if len(values) != 1 else ''}"


def describe_excluded(run: Run) -> str:
    """Why a run is not averaged in, e.g. `plain-56 s1 diverged at iteration 812`."""
    of = f" of {run.iterations}" if run.iterations else ""
    at = f"iteration {run.iteration}{of}" if run.iteration is not None else "an unknown iteration"
    if run.status == "diverged":
        return f"{run.short} diverged at iteration {run.diverged_iteration or '?'}"
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


def _values(cell: Cell, measure: str) -> tuple[list[float], list[int | None]]:
    runs = [r for r in cell.completed if getattr(r, measure) is not None]
    return [getattr(r, measure) for r in runs], [r.seed for r in runs]


def compare(a: Cell, b: Cell, expected_sign: int, measure: str = "train_error") -> Comparison:
    va, sa = _values(a, measure)
    vb, sb = _values(b, measure)
    return Comparison(a.label, b.label, measure, expected_sign, welch(va, vb), sa, sb)


def _status_counts(runs: list[Run]) -> str:
    counts = Counter("unfinished" if r.status in ("running", "unknown") else r.status for r in runs)
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _excluded_from_mean(cell: Cell) -> str:
    """`plain-56: 1 of 3 seeds diverged, excluded from the mean`."""
    kinds = _status_counts(cell.excluded)
    n, total = len(cell.excluded), len(cell.runs)
    if len({r.status for r in cell.excluded}) == 1:
        return (
            f"{cell.label}: {n} of {total} seeds {kinds.split(' ', 1)[1]}, excluded from the mean"
        )
    return f"{cell.label}: {n} of {total} seeds excluded from the mean ({kinds})"


def half(cells: list[Cell], block: str, expected_sign: int) -> Half | None:
    """The block's trend over depth; None when there are no runs of that block at all."""
    mine = sorted((c for c in cells if c.block == block), key=lambda c: c.depth)
    if not mine:
        return None
    usable = [c for c in mine if _values(c, "train_error")[0]]
    missing = {
        c.depth: f"no completed seed ({_status_counts(c.runs)})" for c in mine if c not in usable
    }
    excluded = [_excluded_from_mean(c) for c in usable if c.excluded]
    means = [mean_std(_values(c, "train_error")[0])[0] for c in usable]
    endpoints = compare(usable[0], usable[-1], expected_sign) if len(usable) >= 2 else None
    steps = [compare(x, y, expected_sign) for x, y in zip(usable, usable[1:], strict=False)]
    return Half(
        key=f"{block}_{'degrades' if expected_sign > 0 else 'improves'}",
        block=block,
        expected_sign=expected_sign,
        depths=[c.depth for c in usable],
        means=means,
        missing=missing,
        excluded=excluded,
        endpoints=endpoints,
        steps=steps,
    )


_CLAIMS = {"plain": "Plain nets degrade with depth", "residual": "Residual nets improve with depth"}


def half_sentence(h: Half | None, block: str) -> str:
    claim = _CLAIMS[block]
    if h is None:
        return f"{claim}: inconclusive, no {block} runs."
    gaps = "".join(f" Depth {d} is left out: {why}." for d, why in h.missing.items())
    gaps += "".join(f" {e}." for e in h.excluded)
    if h.endpoints is None:
        have = (
            f"only depth {h.depths[0]} has a completed run ({_pct(h.means[0])})"
            if h.depths
            else "no depth has a completed run"
        )
        return f"{claim}: inconclusive, {have}.{gaps}"
    c = h.endpoints
    head = {
        HOLDS: "holds",
        OPPOSITE: "does NOT hold, the opposite holds",
        INCONCLUSIVE: "inconclusive",
    }
    per_depth = ", ".join(f"{d}: {_pct(m)}" for d, m in zip(h.depths, h.means, strict=True))
    text = (
        f"{claim}: {head[c.conclusion]}. Training error {_pct(h.means[0])} at depth "
        f"{h.depths[0]} -> {_pct(h.means[-1])} at depth {h.depths[-1]}, {c.evidence()}."
    )
    if len(h.depths) > 2:
        steps = ", ".join(
            f"{s.a.split('-')[-1]}->{s.b.split('-')[-1]} {s.conclusion}" for s in h.steps
        )
        order = "<" if h.expected_sign > 0 else ">"
        mono = (
            f" Monotone over {order.join(str(d) for d in h.depths)}: every step holds."
            if h.monotone
            else f" Not shown to be monotone: steps {steps}."
        )
        text += f" Per depth: {per_depth}.{mono}"
    return text + gaps


def pair_sentence(c: Comparison) -> str:
    depth = c.a.split("-")[-1]
    head = {
        HOLDS: "residual trains better",
        OPPOSITE: "residual trains WORSE (the opposite holds)",
        INCONCLUSIVE: "inconclusive",
    }[c.conclusion]
    mb, ma = c.result.mean_b, c.result.mean_a
    return (
        f"At depth {depth}, residual vs plain: {head}. Training error {_pct(mb)} vs {_pct(ma)}, "
        f"{c.evidence()}."
    )


def _distance_from_chance(below: list[float]) -> str:
    """'16.0 to 20.0 points below chance', or with a seed above chance '0.5 points above to 1.0
    below chance' (never a negative distance below). `below`: chance - error, sorted."""
    lo, hi = below[0] * 100, below[-1] * 100
    if len(below) == 1 or f"{lo:.1f}" == f"{hi:.1f}":
        return f"{abs(lo):.1f} points {'above' if lo < 0 else 'below'} chance"
    if lo >= 0:
        return f"{lo:.1f} to {hi:.1f} points below chance"
    if hi <= 0:
        return f"{-hi:.1f} to {-lo:.1f} points above chance"
    return f"{-lo:.1f} points above to {hi:.1f} below chance"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def test_sentence(c: Comparison) -> str:
    """Residual test error from the shallowest to the deepest net: which way the seed mean
    moved, then what the test says (or why one seed cannot say)."""
    mb, ma = c.result.mean_b, c.result.mean_a
    depth = c.b.split("-")[-1]
    way = "lower" if mb < ma else "higher" if mb > ma else "unchanged"
    text = f"Residual test error {c.a} -> {c.b}: {_pct(ma)} -> {_pct(mb)}, {way} at depth {depth}"
    if c.result.one_seed:
        return f"{text} ({c.evidence()})."
    return f"{text} in the seed mean; by the test, {c.conclusion}: {c.evidence()}."


def headline(v: Verdict) -> str:
    plain, residual = v.plain, v.residual
    pc = plain.conclusion if plain else INCONCLUSIVE
    rc = residual.conclusion if residual else INCONCLUSIVE
    if v.both_halves_hold:
        return (
            "Both halves hold: plain nets degrade with depth and residual nets improve with depth "
            "(each beyond its seed noise)."
        )
    return f"Not both halves: the plain half is {_word(pc)}, the residual half is {_word(rc)}."


def _word(conclusion: str) -> str:
    return {HOLDS: "shown", OPPOSITE: "contradicted", INCONCLUSIVE: "inconclusive"}[conclusion]


def judge(
    cells: list[Cell],
    problems: list[str] | None = None,
    label: str = "",
    setting: dict | None = None,
) -> Verdict:
    """The verdict on one group of like runs (cells of one setting); `problems` are run dirs that
    could not be loaded at all."""
    runs = [r for c in cells for r in c.runs]
    names = sorted({r.dataset for r in runs if r.dataset})
    same = len({dataset_key(n) for n in names}) == 1
    dataset = " = ".join(names) if same else None
    halves = {
        "plain_degrades": half(cells, "plain", +1),
        "residual_improves": half(cells, "residual", -1),
    }
    by_key = {(c.block, c.depth): c for c in cells}
    pairs = [
        compare(by_key[("plain", d)], by_key[("residual", d)], -1)
        for d in sorted({c.depth for c in cells})
        if ("plain", d) in by_key
        and ("residual", d) in by_key
        and _values(by_key[("plain", d)], "train_error")[0]
        and _values(by_key[("residual", d)], "train_error")[0]
    ]
    res = halves["residual_improves"]
    test_cmp = None
    if res and len(res.depths) >= 2:
        lo, hi = by_key[("residual", res.depths[0])], by_key[("residual", res.depths[-1])]
        if _values(lo, "test_error")[0] and _values(hi, "test_error")[0]:
            test_cmp = compare(lo, hi, -1, "test_error")
    windows = sorted({r.train_error_window.split(" (")[0] for r in runs if r.completed})
    v = Verdict(label, setting or {}, dataset, halves, pairs, test_cmp, windows=windows)

    n_done = sum(r.completed for r in runs)
    seeds = Counter(len(c.completed) for c in cells)
    per_cell = ", ".join(
        f"{n} seed{'s' if n != 1 else ''} in {k} cell{'s' if k != 1 else ''}"
        for n, k in sorted(seeds.items())
    )
    v.trainability = [t for c in cells if (t := trainability(c)) is not None]
    untrained = any(t.state not in ("trains", "unfinished") for t in v.trainability)
    if untrained:
        # A net that does not train at all is the first thing to say (1000+ layers, a short
        # budget); the depth trends below then compare what did train.
        v.lines.append(trainability_headline(v.trainability))
    v.lines.append(headline(v))
    v.lines.append(
        f"Dataset: {dataset or 'unknown'}; {_count(len(runs), 'run')} in "
        f"{_count(len(cells), '(block, depth) cell')}, "
        f"{n_done} completed ({per_cell}). Training error: {WINDOW_TEXT}. Test: {TEST_NAME}."
    )
    v.lines.append(half_sentence(halves["plain_degrades"], "plain"))
    v.lines.append(half_sentence(res, "residual"))
    if test_cmp is not None:
        v.lines.append(test_sentence(test_cmp))
    if pairs:
        v.lines += [pair_sentence(c) for c in pairs]
    else:
        v.lines.append(
            "No depth has completed runs of both plain and residual nets: can't compare them."
        )
    if untrained:
        order = sorted(v.trainability, key=lambda t: (int(t.label.rsplit("-", 1)[1]), t.label))
        v.lines += [t.sentence() for t in order]
    v.excluded = [describe_excluded(r) for c in cells for r in c.excluded]
    v.excluded += [f"{p} (could not be loaded)" for p in problems or []]
    return v
