"""Find run directories (see docs/run-format.md) and load them into typed records."""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from resnet_exp.naming import dataset_key

# Order used everywhere a status breakdown is shown; unknown = metrics but no summary.json yet.
STATUS_ORDER = ("completed", "running", "interrupted", "diverged", "failed", "unknown")
# Plain first and residual second, as in the paper's Figure 6; any other block type follows.
BLOCK_ORDER = ("plain", "residual", "preact")
# Folders that never hold runs: our own output, TensorBoard output, Hydra's bookkeeping.
_SKIP_DIRS = {"report", "tensorboard", "__pycache__"}
# `{block}-{depth}_{shortcut}_{init}_s{seed}[_key=value...]`; init may itself contain underscores.
_NAME_RE = re.compile(
    r"^(?P<block>[A-Za-z]+)-(?P<depth>\d+)_(?P<shortcut>[^_]+)_(?P<init>.+?)_s(?P<seed>\d+)(?:_|$)"
)

Curve = list[tuple[int, float]]

# The final training error the report judges: the mean over the logged windows in the last 10%
# of the run's iterations that share the final learning rate. One 50-iteration window of augmented
# batches (3200 images at batch 64) has ~0.8 points of sampling noise alone; 10% of a laptop run
# (300-600 iterations, 19k-38k images) brings that to ~0.2-0.3, small against the gaps judged.
FINAL_WINDOW_FRACTION = 0.10


@dataclass
class Run:
    """One run directory: its summary.json fields and its logged curves."""

    path: Path
    name: str
    status: str
    block: str
    depth: int
    seed: int | None = None
    width: int | None = None
    shortcut: str | None = None
    init: str | None = None
    params: int | None = None
    dataset: str | None = None
    num_classes: int | None = None  # chance level: 1 - 1/num_classes
    iterations: int | None = None  # planned
    iteration: int | None = None  # reached
    train_error: float | None = None
    test_error: float | None = None
    train_loss: float | None = None
    # Where train_error comes from: `last 10% of iterations (5401-6000, lr 0.0005)`, or the
    # summary's last logging window when the curve cannot give it.
    train_error_window: str = "last logging window"
    # Everything that changes the result except block, depth and seed (the trainer's result
    # identity); runs are only compared or averaged with runs of the same setting.
    setting: dict = field(default_factory=dict)
    diverged_at: int | None = None
    error: str | None = None
    has_summary: bool = True
    # The last signal record's fraction of all-zero feature maps at the classifier (dead ReLUs).
    dead_features: float | None = None
    train_curve: Curve = field(default_factory=list)  # (step, train_error)
    test_curve: Curve = field(default_factory=list)  # (step, test_error)

    @property
    def label(self) -> str:
        """`plain-56`, the paper's legend name."""
        return f"{self.block}-{self.depth}"

    @property
    def short(self) -> str:
        """`plain-56 s1`, enough to tell seeds of one cell apart."""
        return (
            f"{self.label} s{self.seed}" if self.seed is not None else f"{self.label} ({self.name})"
        )

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def diverged_iteration(self) -> int | None:
        """Where a diverged run stopped: its recorded divergence, else the last iteration."""
        return self.diverged_at or self.iteration

    @property
    def setting_key(self) -> str:
        """The setting as one comparable string (keys sorted)."""
        return json.dumps(self.setting, sort_keys=True, default=str)


@dataclass
class Cell:
    """All runs (seeds) of one (block, depth)."""

    block: str
    depth: int
    runs: list[Run]

    @property
    def label(self) -> str:
        return f"{self.block}-{self.depth}"

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.completed]

    @property
    def excluded(self) -> list[Run]:
        """Runs kept out of every mean: anything not completed."""
        return [r for r in self.runs if not r.completed]


def mean_std(values: list[float]) -> tuple[float, float | None] | None:
    """Mean and sample standard deviation (None for a single value); None for no values."""
    if not values:
        return None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def is_run_dir(path: Path) -> bool:
    """A run directory holds summary.json, or (still starting / crashed early) metrics + .hydra."""
    if (path / "summary.json").is_file():
        return True
    return (path / "metrics.jsonl").is_file() and (path / ".hydra").is_dir()


def find_run_dirs(root: Path) -> list[Path]:
    """Every run directory at or below `root`, sorted; runs do not nest, so stop at the first."""
    if is_run_dir(root):
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        if here != root and is_run_dir(here):
            found.append(here)
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
    return sorted(found)


def read_metrics(path: Path) -> tuple[Curve, Curve, dict[int, float], float | None]:
    """(train curve, test curve, lr per train step, the last signal record's dead-feature
    fraction) from metrics.jsonl; a half-written last line (live run) is skipped, and so is any
    non-finite value."""
    train: dict[int, float] = {}
    test: dict[int, float] = {}
    lrs: dict[int, float] = {}
    dead: dict[int, float] = {}
    if not path.is_file():
        return [], [], {}, None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict):
                continue
            step = _int(rec.get("step"))
            if step is None:
                continue
            if rec.get("kind") == "train" and _num(rec.get("train_error")) is not None:
                train[step] = _num(rec["train_error"])
                if _num(rec.get("lr")) is not None:
                    lrs[step] = _num(rec["lr"])
            elif rec.get("kind") == "eval" and _num(rec.get("test_error")) is not None:
                test[step] = _num(rec["test_error"])
            elif rec.get("kind") == "signal" and _num(rec.get("dead_features")) is not None:
                dead[step] = _num(rec["dead_features"])  # absent in runs before session 16
    last_dead = dead[max(dead)] if dead else None
    return sorted(train.items()), sorted(test.items()), lrs, last_dead


def final_window_error(
    curve: Curve, lrs: dict[int, float], iterations: int | None
) -> tuple[float, str] | None:
    """Mean training error over the last FINAL_WINDOW_FRACTION of the iterations, at the final lr.

    Each logged value covers the iterations since the previous one, so values are weighted by
    the iterations they cover. None when the curve has no point in that window.
    """
    if not curve:
        return None
    last = curve[-1][0]
    span = max(1, round(FINAL_WINDOW_FRACTION * (iterations or last)))
    final_lr = lrs.get(last)
    total = weight = 0.0
    first = None
    prev = 0
    for step, err in curve:
        covered, prev = step - prev, step
        if step <= last - span or (final_lr is not None and lrs.get(step) != final_lr):
            continue
        first = first if first is not None else step - covered + 1
        total += err * covered
        weight += covered
    if not weight:
        return None
    lr = f", lr {final_lr:g}" if final_lr is not None else ""
    pct = round(FINAL_WINDOW_FRACTION * 100)
    return total / weight, f"last {pct}% of iterations ({first}-{last}{lr})"


def load_run(path: Path) -> Run:
    """Load one run directory; raises ValueError when it cannot be placed in a (block, depth) cell."""
    train_curve, test_curve, lrs, dead_features = read_metrics(path / "metrics.jsonl")
    parsed = _NAME_RE.match(path.name)
    from_name = parsed.groupdict() if parsed else {}
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        # No summary yet: everything but the curves comes from the directory name.
        if not from_name:
            raise ValueError("no summary.json and the directory name is not block-depth_..._sN")
        return Run(
            path=path,
            name=path.name,
            status="unknown",
            block=from_name["block"],
            depth=int(from_name["depth"]),
            seed=int(from_name["seed"]),
            shortcut=from_name["shortcut"],
            init=from_name["init"],
            iteration=train_curve[-1][0] if train_curve else None,
            train_error=train_curve[-1][1] if train_curve else None,
            test_error=test_curve[-1][1] if test_curve else None,
            has_summary=False,
            train_curve=train_curve,
            test_curve=test_curve,
        )
    try:
        s = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"summary.json unreadable ({exc})") from exc
    if not isinstance(s, dict):
        raise ValueError("summary.json is not a JSON object")
    block = s.get("block") or from_name.get("block")
    depth = _int(s.get("depth")) or _int(from_name.get("depth"))
    if not block or depth is None:
        raise ValueError("summary.json has no block/depth")
    seed = _int(s.get("seed"))
    iterations = _int(s.get("iterations"))
    train_error, window = _num(s.get("train_error")), "last logging window"
    steady = final_window_error(train_curve, lrs, iterations)
    if steady is not None and str(s.get("status")) == "completed":
        train_error, window = steady
    return Run(
        path=path,
        name=str(s.get("name") or path.name),
        status=str(s.get("status") or "unknown"),
        block=str(block),
        depth=depth,
        seed=seed if seed is not None else _int(from_name.get("seed")),
        width=_int(s.get("width")),
        shortcut=s.get("shortcut"),
        init=s.get("init"),
        params=_int(s.get("params")),
        dataset=s.get("dataset"),
        num_classes=_int(s.get("num_classes")),
        iterations=iterations,
        # summary.json is written when a run starts and ends; while it runs, or after it was
        # killed, its curve tells how far it got.
        iteration=max(
            (
                i
                for i in (_int(s.get("iteration")), train_curve[-1][0] if train_curve else None)
                if i is not None
            ),
            default=None,
        ),
        train_error=train_error,
        train_error_window=window,
        setting=run_setting(s),
        test_error=_num(s.get("test_error")),
        train_loss=_num(s.get("train_loss")),
        diverged_at=_int(s.get("diverged_at")),
        error=s.get("error"),
        dead_features=dead_features,
        train_curve=train_curve,
        test_curve=test_curve,
    )


# Summary fields that stand for the setting when a run recorded no readable config.
_SUMMARY_SETTING_KEYS = (
    "width",
    "shortcut",
    "init",
    "iterations",
    "batch_size",
    "dataset",
    "precision",  # summaries written since precision=auto; older runs trained in fp32
)
# Result-identity keys that a Figure-6 comparison varies on purpose.
_VARIED_KEYS = ("model.depth", "model.block", "loop.seed")


def run_setting(summary: dict) -> dict:
    """The run's result identity (what the trainer checks on resume) less depth, block and seed.

    From the recorded config where it can be read; else from the summary's own fields.
    """
    config = summary.get("config")
    if isinstance(config, dict):
        from resnet_exp.build import identity_of_config  # imports torch: only when needed
        from resnet_exp.errors import UserError

        try:
            identity = identity_of_config(config)
        except UserError:
            identity = None
        if identity is not None:
            setting = {k: v for k, v in identity.items() if k not in _VARIED_KEYS}
            # A plain net has no residual branch, so its identity records init.zero_residual (and
            # init.zero_residual_padded) as false; in a sweep that asked for it, the plain nets
            # still belong with its residual nets (one setting, compared against each other), so
            # the setting takes those keys from the identity a residual net of the sweep has.
            # (identity_of_config has checked the value is a bool.)
            if (
                identity.get("model.block") == "plain"
                and config["init"].get("zero_residual") is True
            ):
                residual = {**config, "block": {**config["block"], "name": "residual"}}
                try:
                    sibling = identity_of_config(residual)
                except UserError:  # e.g. norm=none, which a residual net refuses with it
                    sibling = {"model.zero_residual": True}
                for key in ("model.zero_residual", "model.zero_residual_padded"):
                    if key in sibling:
                        setting[key] = sibling[key]
            if summary.get("dataset"):  # the data by content where the run recorded it
                setting["data"] = dataset_key(summary["dataset"])
            return setting
    setting = {k: summary.get(k) for k in _SUMMARY_SETTING_KEYS if summary.get(k) is not None}
    setting.setdefault("precision", "fp32")  # what every run without the field trained in
    if "dataset" in setting:
        setting["dataset"] = dataset_key(setting["dataset"])
    return setting


def load_runs(dirs: list[Path]) -> tuple[list[Run], list[str]]:
    """Load run directories (the same directory twice counts once); returns the runs and one
    line per unusable dir."""
    runs: list[Run] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for d in dirs:
        key = d.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            runs.append(load_run(d))
        except ValueError as exc:
            problems.append(f"{d}: {exc}")
    return runs, problems


def drop_duplicates(runs: list[Run]) -> tuple[list[Run], list[str]]:
    """Keep one run per (setting, block, depth, seed): two copies of one run (e.g. a sweep
    copied next to its original) are one seed, not two. Keeps a completed one, else the one
    that got furthest; returns the kept runs and a line per dropped copy."""
    best: dict[tuple, Run] = {}
    for r in runs:
        key = (r.setting_key, r.block, r.depth, r.seed if r.seed is not None else r.name)
        rank = (r.completed, r.iteration or 0)
        if key not in best or rank > (best[key].completed, best[key].iteration or 0):
            best[key] = r
    kept_ids = {id(r) for r in best.values()}
    kept = [r for r in runs if id(r) in kept_ids]
    dropped = []
    for r in runs:
        if id(r) not in kept_ids:
            twin = best[(r.setting_key, r.block, r.depth, r.seed if r.seed is not None else r.name)]
            dropped.append(f"{r.path} (same run as {twin.path}, counted once)")
    return kept, dropped


def block_rank(block: str) -> tuple[int, str]:
    """Sort key putting plain before residual before anything else."""
    return (BLOCK_ORDER.index(block) if block in BLOCK_ORDER else len(BLOCK_ORDER), block)


def group_cells(runs: list[Run]) -> list[Cell]:
    """Group runs by (block, depth), seeds sorted, cells in block then depth order."""
    cells: dict[tuple[str, int], list[Run]] = {}
    for r in runs:
        cells.setdefault((r.block, r.depth), []).append(r)
    return [
        Cell(block, depth, sorted(rs, key=lambda r: (r.seed is None, r.seed or 0, r.name)))
        for (block, depth), rs in sorted(
            cells.items(), key=lambda kv: (block_rank(kv[0][0]), kv[0][1])
        )
    ]


def datasets(runs: list[Run]) -> dict[str, list[str]]:
    """Distinct datasets of the runs (runs without a summary name none), by content key, each
    with the names it was recorded under (one image folder at two paths is one dataset)."""
    out: dict[str, set[str]] = {}
    for r in runs:
        if r.dataset:
            out.setdefault(dataset_key(r.dataset), set()).add(r.dataset)
    return {k: sorted(v) for k, v in sorted(out.items())}


def _num(x: object) -> float | None:
    """A finite float, else None (JSON null, NaN written by a diverged run, strings)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _int(x: object) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str) and x.isdigit():
        return int(x)
    return None


@dataclass
class Group:
    """Runs that differ only in block, depth and seed: one Figure-6 comparison."""

    label: str  # what sets it apart from the other groups, e.g. `iterations=12000`; "" if alone
    setting: dict
    runs: list[Run]


def split_by_setting(runs: list[Run]) -> tuple[list[Group], list[Run]]:
    """Groups of like runs, and the runs whose setting is unknown and cannot be placed.

    A run without a readable setting (no summary.json yet) joins the only group there is;
    with several groups it cannot be placed and is returned apart.
    """
    known: dict[str, list[Run]] = {}
    unknown = []
    for r in runs:
        if r.setting:
            known.setdefault(r.setting_key, []).append(r)
        else:
            unknown.append(r)
    if len(known) <= 1:
        setting = next(iter(known.values()))[0].setting if known else {}
        return [Group("", setting, runs)], []
    settings = [rs[0].setting for rs in known.values()]
    keys = sorted({k for s in settings for k in s})
    differ = [k for k in keys if len({json.dumps(s.get(k), default=str) for s in settings}) > 1]
    # Labels name keys without their section (`lr=0.05`, not `optim.lr=0.05`) unless that
    # would make two differing keys look alike.
    short = {k: k.split(".", 1)[-1] for k in differ}
    if len(set(short.values())) < len(short):
        short = {k: k for k in differ}
    groups = [
        Group(", ".join(f"{short[k]}={rs[0].setting.get(k)}" for k in differ), rs[0].setting, rs)
        for rs in known.values()
    ]
    return sorted(groups, key=lambda g: g.label), unknown


def relabel_path_dataset(runs: list[Run], root: Path, name: str) -> list[Run]:
    """Read runs that recorded an image folder by its path `root` (written before content
    fingerprints) as the dataset `name` (the content now at `root`); returns the runs changed."""
    old = f"imagefolder:{root.expanduser().resolve()}"
    changed = [r for r in runs if r.dataset == old]
    for r in changed:
        r.dataset = name
        for key in ("data", "dataset"):
            if key in r.setting:
                r.setting[key] = dataset_key(name)
    return changed
