"""`resnet-exp probe depth`: signal propagation and shattered gradients at initialization, for
nets from a few layers to 1202, with and without BatchNorm.

For every variant (block, normalization, initializer) and depth it builds a fresh net and
measures, on one fixed seeded batch, the per-layer response std and gradient norm (training
mode; float64 where float32 overflows: see layerstats.layer_stats) and the correlation of input gradients between
neighbouring inputs (shatter.line_gradients). The answers the seeds predict: without BN, plain
nets' signals vanish or explode with depth and residual nets' explode unless the branches start
small (Fixup, SkipInit); with BN the plain net's gradients still grow towards the input, and
they shatter (decorrelate) with depth while residual gradients stay correlated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from resnet_exp.errors import UserError
from resnet_exp.layerstats import exact_layer_stats
from resnet_exp.models.net import build_net
from resnet_exp.probe.shatter import LineGradients, line_gradients

# name -> build_net keywords. BN variants use the paper's He init; without BN, He init alone and
# the two normalization-free remedies for residual branches.
VARIANTS: dict[str, dict] = {
    "plain": {"block": "plain", "norm": "batch", "init": "kaiming_normal"},
    "residual": {"block": "residual", "norm": "batch", "init": "kaiming_normal"},
    "preact": {"block": "preact", "norm": "batch", "init": "kaiming_normal"},
    "plain no-BN": {"block": "plain", "norm": "none", "init": "kaiming_normal"},
    "residual no-BN": {"block": "residual", "norm": "none", "init": "kaiming_normal"},
    "residual Fixup": {"block": "residual", "norm": "none", "init": "fixup"},
    "preact SkipInit": {
        "block": "preact",
        "norm": "none",
        "init": "kaiming_normal",
        "skipinit": True,
    },
}


@dataclass
class DepthProbe:
    variant: str
    depth: int
    layers: list[dict]  # layerstats.LayerStat rows, first conv to last
    line: LineGradients
    seconds: float
    net: dict = field(default_factory=dict)
    dtype: str = "float32"  # of the layer statistics: float64 where float32 overflowed

    def summary_row(self) -> dict:
        first, last = self.layers[0], self.layers[-1]
        return {
            "variant": self.variant,
            "depth": self.depth,
            "conv_layers": len(self.layers),
            "response_std_first": first["response_std"],
            "response_std_last": last["response_std"],
            "grad_norm_first": first["grad_norm"],
            "grad_norm_last": last["grad_norm"],
            # > 1: the gradient grows on its way back to the input (explodes); < 1: it vanishes.
            # None where the last layer gets no gradient at all: Fixup's zero classifier and
            # SkipInit's zero scalars stop it at initialization, by design.
            "grad_norm_first_over_last": first["grad_norm"] / last["grad_norm"]
            if last["grad_norm"]
            else None,
            "neighbour_gradient_correlation": self.line.neighbour_correlation,
            "gradients_finite": self.line.finite,
            "dtype": self.dtype,
            "seconds": round(self.seconds, 2),
        }


def parse_variants(text: str) -> list[str]:
    if text.strip() == "all":
        return list(VARIANTS)
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise UserError(
            f"--variants: unknown {', '.join(unknown) or '(none given)'}; choose from "
            + ", ".join(f"'{v}'" for v in VARIANTS)
            + " or all"
        )
    return names


def probe_depths(
    variants: list[str],
    depths: list[int],
    width: int,
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    *,
    points: int = 64,
    span: float = 1.0,
    seed: int = 0,
    report=None,
    check=None,
) -> list[DepthProbe]:
    """Measure every (variant, depth) at initialization; `report(probe)` after each;
    `check(model, dtype)` before each measurement (e.g. a memory guard that raises)."""
    results = []
    for depth in depths:
        for name in variants:
            kw = VARIANTS[name]
            start = time.perf_counter()
            model = build_net(
                depth, shortcut="A", width=width, num_classes=num_classes, seed=seed, **kw
            )
            stats, dtype = exact_layer_stats(model, x, y, check)  # float64 only on overflow
            kw_line = {"points": points, "span": span, "seed": seed, "chunk": len(x)}
            line = line_gradients(model, x[0], x, dtype=torch.float32, **kw_line)
            if not line.finite:
                line = line_gradients(model, x[0], x, **kw_line)
            probe = DepthProbe(
                name,
                depth,
                [s.as_row() for s in stats],
                line,
                time.perf_counter() - start,
                {**kw, "width": width},
                str(dtype).removeprefix("torch."),
            )
            del model
            results.append(probe)
            if report is not None:
                report(probe)
    return results
