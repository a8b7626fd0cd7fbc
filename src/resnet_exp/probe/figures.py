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
        fig.suptitle(title, fontsize=10, wrap=True)
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


# --- resnet-exp probe depth ---------------------------------------------------------------------


def variant_style(variant: str, depth: int | None = None, depths: list[int] | None = None) -> dict:
    """Hue = block (palette), solid with BN, dashed without, dotted for a no-BN remedy."""
    from resnet_exp.palette import block_colour, depth_shade

    block, _, rest = variant.partition(" ")
    colour = depth_shade(block, depth, depths) if depth and depths else block_colour(block)
    ls = "-" if not rest else ("--" if rest == "no-BN" else ":")
    return {"color": colour, "ls": ls}


def depth_signals(probes: list, depth: int) -> Figure:
    """Per-layer response std and gradient norm of every variant at one depth (log scale), and
    the gradient's growth from the last layer back to the first against depth."""
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for p in probes:
        if p.depth != depth:
            continue
        xs = [int(r["index"]) for r in p.layers]
        style = variant_style(p.variant)
        for ax, key in zip(axes[:2], ("response_std", "grad_norm"), strict=True):
            ys = [float(r[key]) for r in p.layers]
            ax.plot(xs, [y if y > 0 else float("nan") for y in ys], label=p.variant, **style)
    for ax, title in zip(
        axes[:2], ("response std per layer", "||dL/d response|| per layer"), strict=True
    ):
        ax.set_yscale("log")
        ax.set_xlabel("layer index (3x3 conv)")
        ax.set_title(f"{title}, depth {depth}", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    ax = axes[2]
    for variant in dict.fromkeys(p.variant for p in probes):
        mine = sorted((p for p in probes if p.variant == variant), key=lambda p: p.depth)
        ratio = [p.summary_row()["grad_norm_first_over_last"] for p in mine]
        ratio = [float("nan") if r is None else r for r in ratio]  # no gradient: no point
        ax.plot([p.depth for p in mine], ratio, marker="o", label=variant, **variant_style(variant))
    _depth_axis(ax, sorted({p.depth for p in probes}))
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_title("gradient norm, first layer / last layer", fontsize=10)
    ax.grid(alpha=0.3)
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(7, len(labels)),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        "Signals at initialization (one batch, training mode; solid: BN, dashed: no BN, dotted: no BN + remedy)",
        fontsize=10,
        wrap=True,
    )
    return fig


def _depth_axis(ax, depths: list[int]) -> None:
    """A log depth axis labelled at the measured depths themselves."""
    ax.set_xscale("log")
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("depth (layers)")


def contrast_depth(probes: list) -> int:
    """The depth where residual and plain (with BN) differ most in gradient correlation: the
    clearest picture of smooth against shattered."""
    corr = {(p.variant, p.depth): p.line.neighbour_correlation for p in probes}
    best, gap = max(p.depth for p in probes), -1.0
    for d in sorted({p.depth for p in probes}):
        r, q = corr.get(("residual", d)), corr.get(("plain", d))
        if r is not None and q is not None and r - q > gap:
            best, gap = d, r - q
    return best


def shattered(probes: list, depth: int) -> Figure:
    """Left: d output / d one input pixel along a line through input space, plain against
    residual at `depth` (with BN); right: neighbour correlation of input gradients vs depth."""
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for p in probes:
        if p.depth == depth and p.variant in ("plain", "residual", "preact"):
            trace = p.line.pixel_trace
            scale = max(abs(v) for v in trace) or 1.0
            left.plot(
                p.line.t,
                [v / scale for v in trace],
                label=p.variant,
                lw=1,
                **variant_style(p.variant),
            )
    left.set_xlabel("position t on the line (x0 + t d, |d| = |x0|)")
    left.set_ylabel("d output / d pixel (scaled to max 1)")
    left.set_title(f"input gradient along a line, depth {depth} (BN)", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    for variant in dict.fromkeys(p.variant for p in probes):
        mine = sorted((p for p in probes if p.variant == variant), key=lambda p: p.depth)
        right.plot(
            [p.depth for p in mine],
            [
                float("nan")
                if p.line.neighbour_correlation is None
                else p.line.neighbour_correlation
                for p in mine
            ],
            marker="o",
            label=variant,
            **variant_style(variant),
        )
    _depth_axis(right, sorted({p.depth for p in probes}))
    right.set_ylim(-0.1, 1.05)
    right.set_ylabel("correlation of neighbouring input gradients")
    right.set_title("shattered gradients: 1 = smooth, 0 = white noise", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(fontsize=8, ncol=2)
    return fig
