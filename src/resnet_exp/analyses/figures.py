"""Figures of the analyses of trained runs."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def lesion_figure(docs: list[dict]) -> Figure:
    """Left: test error with each block deleted in turn (intact net dashed); right: with k
    random blocks deleted, mean and spread over the draws. Hue = block, shade = depth; seeds of
    one net share its colour."""
    from resnet_exp.palette import depth_shade

    depths = [int(d["net"]["depth"]) for d in docs]
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    seen: set[str] = set()
    markers = ["o", "s", "^", "D", "v", "P"]
    for d in docs:
        colour = depth_shade(d["net"]["block"], int(d["net"]["depth"]), depths)
        net = f"{d['net']['block']}-{d['net']['depth']}"
        label = d["label"]
        marker = markers[int(d.get("seed") or 0) % len(markers)]
        xs = [i for i, r in enumerate(d["single"]) if r["error"] is not None]
        ys = [d["single"][i]["error"] * 100 for i in xs]
        left.plot(xs, ys, marker=marker, ms=3.5, lw=1, color=colour, label=label)
        left.axhline(d["baseline_error"] * 100, color=colour, lw=0.8, ls="--")
        down = [
            i for i, r in enumerate(d["single"]) if r["downsampling"] and r["error"] is not None
        ]
        if down and net not in seen:
            left.plot(
                down,
                [d["single"][i]["error"] * 100 for i in down],
                ls="none",
                marker="o",
                ms=9,
                mfc="none",
                color="0.3",
            )
        seen.add(net)
        ks = [0] + [r["k"] for r in d["random"]]
        means = [d["baseline_error"] * 100] + [r["mean"] * 100 for r in d["random"]]
        lo = [d["baseline_error"] * 100] + [min(r["errors"]) * 100 for r in d["random"]]
        hi = [d["baseline_error"] * 100] + [max(r["errors"]) * 100 for r in d["random"]]
        right.plot(ks, means, marker=marker, ms=3.5, lw=1, color=colour, label=label)
        right.fill_between(ks, lo, hi, color=colour, alpha=0.15, lw=0)
    left.set_xlabel("deleted block (index over the whole net; circled: downsampling blocks)")
    left.set_ylabel("test error (%)")
    left.set_title("one block deleted (dashed: intact net)", fontsize=10)
    right.set_xlabel("blocks deleted at random (k)")
    right.set_ylabel("test error (%)")
    right.set_title(
        f"k random blocks deleted: mean, band = min-max of {docs[0]['draws']} draws", fontsize=10
    )
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 100)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(8, len(labels)),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        f"Lesion study (Veit et al. 2016): {len(docs)} trained net(s), {docs[0]['test_images']} test images",
        fontsize=10,
    )
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=130)
    return path
