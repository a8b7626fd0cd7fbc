"""Figures of the probe: each statistic against layer index (log scale), as in Figure 7."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from resnet_exp.probe.linear import Curve

STATS = (
    ("response_std", "response std (after BN)"),
    ("grad_norm", "||dL/d response||"),
    ("weight_grad_norm", "||dL/d weight||"),
)


def per_layer(lines: dict[str, list[dict]], title: str = "") -> Figure:
    """One panel per statistic, a line per configuration (label -> probe.csv rows)."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (key, name) in zip(axes, STATS, strict=True):
        for label, rows in lines.items():
            ax.plot(
                [int(r["index"]) for r in rows],
                [max(float(r[key]), 1e-300) for r in rows],
                marker=".",
                label=label,
            )
        ax.set_yscale("log")
        ax.set_xlabel("layer index (3x3 conv)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
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
        for c in curves:
            xs = range(1, len(c.values) + 1)
            style = "--" if c.kind == "backward" else "-"
            ax.plot(xs, [max(v, 1e-300) for v in c.values], style, label=f"{c.label} ({c.kind})")
        ax.set_yscale("log")
        ax.set_xlabel("layers L")
        ax.set_ylabel("||signal|| / ||input||")
        ax.set_title(titles[key], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=130)
    return path
