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
        wrap=True,
    )
    return fig


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=130)
    return path


SURFACES_PER_ROW = 4  # more nets wrap into further rows: the 2 x 2 x 2 evidence is two rows
LOSS_CAP = 10.0  # contours and surfaces clip the loss here: a chaotic net would flatten the rest


def landscape_figure(docs: list[dict]) -> Figure:
    """One column per net: the 2-D loss surface as contours (top) and in 3-D (middle), on one
    colour scale and one height for every net so they compare; bottom: the 1-D curves of all
    nets, loss and training error."""
    import numpy as np
    from matplotlib.colors import Normalize

    from resnet_exp.palette import depth_shade

    with_surface = [d for d in docs if d.get("surface")]
    cols = max(1, min(SURFACES_PER_ROW, len(with_surface)))
    bands = -(-len(with_surface) // cols)  # rows of nets, each a contour row and a 3-D row
    single = len(with_surface) == 1  # one net: its contour and 3-D surface side by side
    rows = 2 if single else 2 * bands + 1
    fig = Figure(figsize=(max(10.0, 3.3 * cols), 3.2 * rows + 0.6), layout="constrained")
    if single:
        grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 0.9])
    else:
        grid = fig.add_gridspec(rows, cols, height_ratios=[1.0] * (2 * bands) + [0.9])
    highest = max(
        (
            v
            for d in with_surface
            for row in d["surface"]["loss"]
            for v in row
            if v is not None and np.isfinite(v)
        ),
        default=1.0,
    )
    cap = min(LOSS_CAP, highest)
    levels = np.linspace(0, cap, 21)
    norm = Normalize(0, cap)
    contours = []
    for i, d in enumerate(with_surface):
        s = d["surface"]
        a, b = np.meshgrid(s["alpha"], s["beta"])
        # Overflowed points (null) sit at the cap: above every level, never a hole.
        z = np.array([[cap if v is None else min(v, cap) for v in row] for row in s["loss"]])
        title = (
            f"{d['label']}\nbasin {basin_text(d['summary'])}, "
            f"convex {_share(d['summary']['convex_share'])}"
        )
        band, col = divmod(i, cols)
        ax = fig.add_subplot(grid[2 * band, col])
        filled = ax.contourf(a, b, z, levels=levels, cmap="viridis", norm=norm, extend="max")
        ax.contour(a, b, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
        ax.plot([0], [0], marker="+", color="red", ms=9)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("direction 1", fontsize=8)
        if col == 0:
            ax.set_ylabel("direction 2", fontsize=8)
        contours.append(ax)
        place = grid[0, 1] if single else grid[2 * band + 1, col]
        ax3 = fig.add_subplot(place, projection="3d")
        ax3.plot_surface(a, b, z, cmap="viridis", norm=norm, linewidth=0, antialiased=True)
        ax3.set_zlim(0, cap)
        ax3.tick_params(labelsize=6)
        for axis3 in (ax3.xaxis, ax3.yaxis, ax3.zaxis):
            axis3.set_major_locator(MaxNLocator(4))
        ax3.set_zlabel("loss", fontsize=7)
    if with_surface:
        fig.colorbar(filled, ax=contours, shrink=0.6, label="training loss")
    bottom = grid[rows - 1, :].subgridspec(1, 2)
    loss_ax, err_ax = fig.add_subplot(bottom[0, 0]), fig.add_subplot(bottom[0, 1])
    depths = [int(d["net"]["depth"]) for d in docs]
    for d in docs:
        if not d.get("line"):
            continue
        colour = depth_shade(d["net"]["block"], int(d["net"]["depth"]), depths)
        ls = ["-", "--", ":", "-."][int(d.get("seed") or 0) % 4]
        line = d["line"]
        loss = [np.nan if v is None else v for v in line["loss"]]
        loss_ax.plot(line["alpha"], loss, color=colour, ls=ls, lw=1.4, label=d["label"])
        err_ax.plot(line["alpha"], [e * 100 for e in line["error"]], color=colour, ls=ls, lw=1.4)
    chance = docs[0]["summary"]["chance_loss"]
    loss_ax.axhline(chance, color="0.4", lw=0.8, ls=":", label=f"uniform guess ({chance:.2f})")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("training loss (log)")
    err_ax.set_ylabel("training error (%)")
    err_ax.set_ylim(0, 100)
    for ax in (loss_ax, err_ax):
        ax.set_xlabel("distance along direction 1 (filter-normalized)")
        ax.grid(alpha=0.3)
    if loss_ax.get_legend_handles_labels()[0]:
        loss_ax.legend(fontsize=7, ncol=2)
    d0 = docs[0]
    fig.suptitle(
        f"Loss landscapes (Li et al. 2018): {d0['train_images']} training images, BN in "
        f"evaluation mode, directions seeded {d0['direction_seeds']}; surfaces clipped at "
        f"loss {cap:.2g}",
        fontsize=10,
        wrap=True,
    )
    return fig


def basin_text(summary: dict) -> str:
    """The basin width as a table shows it: '>' when the curve ended before the loss reached
    the level (a lower bound)."""
    if summary["basin"] is None:
        return "-"
    return ("" if summary["basin_closed"] else ">") + f"{summary['basin']:.2f}"


def _share(value) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"
