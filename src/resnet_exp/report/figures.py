"""Figures: Figure 6 of He et al. (error curves per block type) and final error vs depth.

Built on `matplotlib.figure.Figure` directly rather than pyplot, so no GUI backend or global
figure state is involved (reports run on headless training machines and inside tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from resnet_exp.palette import block_colour, depth_shade

from .collect import Cell, Curve, block_rank, mean_std


def mean_curve(curves: list[Curve]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds, on the steps where every seed has logged (interpolated between logs)."""
    curves = [c for c in curves if c]
    if not curves:
        return np.array([]), np.array([])
    if len(curves) == 1:
        steps, vals = zip(*curves[0], strict=True)
        return np.asarray(steps, float), np.asarray(vals, float)
    lo = max(c[0][0] for c in curves)
    hi = min(c[-1][0] for c in curves)
    grid = np.array(sorted({s for c in curves for s, _ in c if lo <= s <= hi}), float)
    if grid.size == 0:  # seeds do not overlap in steps: nothing honest to average
        return np.array([]), np.array([])
    stacked = [np.interp(grid, [s for s, _ in c], [v for _, v in c]) for c in curves]
    return grid, np.mean(stacked, axis=0)


def _blocks(cells: list[Cell]) -> list[str]:
    return sorted({c.block for c in cells}, key=block_rank)


def seeds_text(cells: list[Cell]) -> str:
    """How many completed seeds stand behind each net: `4 seeds` or `1-4 seeds per net`."""
    counts = sorted({len(c.completed) for c in cells})
    if not counts or counts == [0]:
        return "no completed runs"
    if len(counts) == 1:
        return f"{counts[0]} seed{'s' if counts[0] != 1 else ''} per net"
    return f"{counts[0]}-{counts[-1]} seeds per net"


def headline(what: str, cells: list[Cell], setting: str) -> str:
    """A figure's title: what it shows, the setting (when a report holds several) and the seeds."""
    parts = [what, seeds_text(cells)]
    if setting:
        parts.insert(1, setting)
    return "; ".join(parts)


def _why_missing(cell) -> str:
    """`diverged at iteration 2` (every run diverged), else `incomplete`."""
    if cell.runs and all(r.status == "diverged" for r in cell.runs):
        at = sorted({r.diverged_iteration or 0 for r in cell.runs})
        return f"diverged at iteration {'/'.join(map(str, at))}" if at[-1] else "diverged"
    return "incomplete"


def figure6(cells: list[Cell], setting: str = "") -> Figure:
    """One panel per block type, the block's colour shaded by depth (darker = deeper); dashed =
    training, bold = test error (a marker at every evaluation, so that a run evaluated once
    still shows its point)."""
    blocks = _blocks(cells)
    depths = [c.depth for c in cells]
    max_step = max(
        (s for c in cells for r in c.runs for s, _ in r.train_curve + r.test_curve), default=0
    )
    # The paper plots iterations in units of 1e4; do the same once runs are that long.
    scale, xlabel = (1e4, "iter. (1e4)") if max_step >= 10_000 else (1.0, "iterations")

    fig = Figure(figsize=(5.5 * len(blocks), 4.8), layout="constrained")
    axes = fig.subplots(1, len(blocks), sharey=True, squeeze=False)[0]
    for ax, block in zip(axes, blocks, strict=True):
        handles, drew_train, drew_test = [], False, False
        for cell in (c for c in cells if c.block == block):
            # Completed seeds make the curve; a cell with none still shows its partial runs.
            runs = cell.completed or cell.runs
            label = cell.label if cell.completed else f"{cell.label} ({_why_missing(cell)})"
            colour = depth_shade(block, cell.depth, depths)
            xs, ys = mean_curve([r.train_curve for r in runs])
            if xs.size:
                drew_train = True
                ax.plot(xs / scale, ys * 100, ls="--", lw=0.9, color=colour)
            xs, ys = mean_curve([r.test_curve for r in runs])
            if xs.size:
                drew_test = True
                ax.plot(xs / scale, ys * 100, ls="-", lw=2.2, color=colour, marker="o", ms=3.5)
            handles.append(Line2D([], [], color=colour, lw=2.2, label=label))
        if drew_train:
            handles.append(Line2D([], [], color="black", lw=0.9, ls="--", label="training error"))
        if drew_test:
            handles.append(
                Line2D([], [], color="black", lw=2.2, marker="o", ms=3.5, label="test error")
            )
        # Below the panel, not on it: the last iterations (the final errors) stay in view.
        ax.legend(
            handles=handles,
            fontsize=8,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=3,
            frameon=False,
        )
        ax.set_title(f"{block} nets")
        ax.set_xlabel(xlabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error (%)")
    # wrap=True: a report of several settings names one in the title, and one line of
    # `train_subset=None, batch_size=64, ...` ran off both edges of the figure.
    fig.suptitle(
        headline("Training (dashed) and test (bold) error, seed mean", cells, setting),
        fontsize=10,
        wrap=True,
    )
    return fig


def error_vs_depth(cells: list[Cell], setting: str = "") -> Figure:
    """Final training / test error against depth; mean ± std over completed seeds.

    Runs that are not completed are drawn as hollow markers labelled with their status and
    are never part of the mean, so a diverged run is visible but cannot bend the line.
    """
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    depths = sorted({c.depth for c in cells})
    for ax, attr, title in zip(
        axes, ("train_error", "test_error"), ("training error", "test error"), strict=True
    ):
        any_hollow = False
        for block in _blocks(cells):
            colour = block_colour(block)
            xs, means, stds = [], [], []
            for cell in (c for c in cells if c.block == block):
                stats = mean_std([v for r in cell.completed if (v := getattr(r, attr)) is not None])
                if stats:
                    xs.append(cell.depth)
                    means.append(stats[0] * 100)
                    stds.append((stats[1] or 0.0) * 100)
                for r in cell.excluded:
                    v = getattr(r, attr)
                    if v is None:
                        continue
                    any_hollow = True
                    ax.scatter([cell.depth], [v * 100], s=45, facecolors="none", edgecolors=colour)
                    ax.annotate(
                        r.status,
                        (cell.depth, v * 100),
                        textcoords="offset points",
                        xytext=(5, 3),
                        fontsize=7,
                        color=colour,
                    )
            if xs:
                ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, color=colour, label=block)
        if any_hollow:
            ax.scatter(
                [],
                [],
                s=45,
                facecolors="none",
                edgecolors="grey",
                label="not completed (not in mean)",
            )
        ax.set_xticks(depths)
        ax.set_xlabel("depth")
        ax.set_ylabel(f"{title} (%)")
        ax.set_title(f"final {title}", fontsize=10)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            # Blocks first, the hollow-marker explanation last (matplotlib lists scatters first).
            order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("not completed"))
            ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)
    fig.suptitle(
        headline("Final error against depth, mean ± std", cells, setting), fontsize=10, wrap=True
    )
    return fig


def build_figures(cells: list[Cell], setting: str = "") -> dict[str, Figure]:
    """All report figures by file stem; `setting` names the runs' setting in the titles."""
    return {"figure6": figure6(cells, setting), "error_vs_depth": error_vs_depth(cells, setting)}


def save_figures(figures: dict[str, Figure], out_dir: Path, formats: list[str]) -> list[Path]:
    """Write `<stem>.<fmt>` for every figure and format; returns the paths written."""
    written = []
    for stem, fig in figures.items():
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, dpi=150)
            written.append(path)
    return written
