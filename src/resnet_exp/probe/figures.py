"""Figures of the probe: each statistic against layer index (log scale), as in Figure 7."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, ScalarFormatter

from resnet_exp.probe.linear import Curve

STATS = (
    ("response_std", "response std (after BN, if any)"),
    ("grad_norm", "||dL/d response||"),
    ("weight_grad_norm", "||dL/d weight||"),
)


def _scale_to_data(ax, values: list[float]) -> None:
    """A log axis where the values span a factor of 10 or more; otherwise a linear axis from 0,
    so that a near-constant statistic (BN keeps the response std at 1) reads as flat instead of
    a 0.01% wiggle autoscaled into a cliff."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) >= 10:
        ax.set_yscale("log")
        return
    top = max(values, default=1.0)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))


def per_layer(
    lines: dict[str, list[dict]], title: str = "", styles: dict[str, dict] | None = None
) -> Figure:
    """One panel per statistic, a line per configuration (label -> probe.csv rows); `styles`
    gives each label its colour and line style (palette: hue = block, shade = depth)."""
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (key, name) in zip(axes, STATS, strict=True):
        values = []
        for label, rows in lines.items():
            ys = [max(float(r[key]), 1e-300) for r in rows]
            values += ys
            style = {"marker": ".", **(styles or {}).get(label, {})}
            ax.plot([int(r["index"]) for r in rows], ys, label=label, **style)
        _scale_to_data(ax, values)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are counted, not measured
        ax.set_xlabel("layer index (3x3 conv)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncol=min(4, len(lines)),
        fontsize=8,
        frameon=False,
    )
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def linear_demo(parts: dict[str, list[Curve]]) -> Figure:
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    titles = {
        "alpha": "deep linear net, W = alpha I",
        "residual": "small W: plain W x vs residual x + W x",
        "relu": "random ReLU layers by init variance",
    }
    for ax, (key, curves) in zip(axes, parts.items(), strict=True):
        colours: dict[str, str] = {}
        for c in curves:
            xs = range(1, len(c.values) + 1)
            ys = [max(v, 1e-300) for v in c.values]
            colour = colours.setdefault(c.label, f"C{len(colours)}")
            if c.kind == "backward":
                # Often equal to the forward curve (W = alpha I is symmetric): markers, so that
                # both stay visible where they coincide.
                ax.plot(
                    xs,
                    ys,
                    ls="none",
                    marker="x",
                    ms=5,
                    markevery=5,
                    color=colour,
                    label=f"{c.label} (backward)",
                )
            else:
                ax.plot(xs, ys, color=colour, label=f"{c.label} ({c.kind})")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layers L")
        ax.set_ylabel("||signal|| / ||input||")
        ax.set_title(titles[key], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=130)
    return path
