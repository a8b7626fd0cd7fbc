"""The deep linear demonstration: why signals vanish or explode with depth, and why a residual
form does not. Everything is computed by multiplying the matrices out in float64, not by formula.

- W = alpha*I: after L layers the signal is alpha^L x (0.5^50 = 8.88e-16, 1.5^50 = 6.38e8), and
  the gradient flowing back through the same layers is scaled the same way.
- A small random W: the plain form W x vanishes within a few layers; the residual form x + W x
  stays near the identity (a residual block with zero weights *is* the identity).
- Random ReLU layers: He's variance 2/fan_in keeps the signal's size, half of it (Xavier's
  1/fan_in for a square layer) halves the second moment at every layer, twice it doubles it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DIM = 64  # width of the linear layers
RELU_DIM = 256  # width of the random ReLU layers (larger: less sampling noise per layer)


@dataclass
class Curve:
    label: str
    kind: str  # forward | backward
    values: list[float]  # ||signal at layer L|| / ||input||, L = 1..layers


def _ratio(v: torch.Tensor, v0: torch.Tensor) -> float:
    return float(v.norm() / v0.norm())


def alpha_chains(
    alphas: tuple[float, ...] = (0.5, 1.0, 1.5), layers: int = 50, seed: int = 0
) -> list[Curve]:
    """Forward signal W^L x and backward gradient (W^T)^L g for W = alpha * I."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(DIM, dtype=torch.float64, generator=g)
    g0 = torch.randn(DIM, dtype=torch.float64, generator=g)
    out = []
    for alpha in alphas:
        w = alpha * torch.eye(DIM, dtype=torch.float64)
        x, grad, fwd, bwd = x0, g0, [], []
        for _ in range(layers):
            x, grad = w @ x, w.T @ grad
            fwd.append(_ratio(x, x0))
            bwd.append(_ratio(grad, g0))
        out += [
            Curve(f"W = {alpha:g} I", "forward", fwd),
            Curve(f"W = {alpha:g} I", "backward", bwd),
        ]
    return out


def residual_vs_plain(scale: float = 0.05, layers: int = 50, seed: int = 0) -> list[Curve]:
    """The same small random W (entries N(0, scale^2/DIM)) in the plain form W x and the
    residual form x + W x, layer after layer."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(DIM, dtype=torch.float64, generator=g)
    ws = [
        torch.randn(DIM, DIM, dtype=torch.float64, generator=g) * scale / math.sqrt(DIM)
        for _ in range(layers)
    ]
    plain, res, xp, xr = [], [], x0, x0
    for w in ws:
        xp, xr = w @ xp, xr + w @ xr
        plain.append(_ratio(xp, x0))
        res.append(_ratio(xr, x0))
    return [
        Curve(f"plain: W x (W ~ {scale:g}/sqrt(n))", "forward", plain),
        Curve("residual: x + W x (same W)", "forward", res),
    ]


INIT_VARIANCES = {  # weight variance x fan_in for a square ReLU layer
    "He (2/fan_in)": 2.0,
    "Xavier (1/fan_in): too small for ReLU": 1.0,
    "4/fan_in: too large": 4.0,
}


def relu_chains(layers: int = 50, seed: int = 0) -> list[Curve]:
    """x <- relu(W x) with W ~ N(0, v/fan_in) for each variance in INIT_VARIANCES."""
    out = []
    for label, v in INIT_VARIANCES.items():
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(RELU_DIM, dtype=torch.float64, generator=g)
        x, vals = x0, []
        for _ in range(layers):
            w = torch.randn(RELU_DIM, RELU_DIM, dtype=torch.float64, generator=g)
            x = torch.relu(w * math.sqrt(v / RELU_DIM) @ x)
            vals.append(_ratio(x, x0))
        out.append(Curve(label, "forward", vals))
    return out


def demo(layers: int = 50, seed: int = 0) -> dict[str, list[Curve]]:
    return {
        "alpha": alpha_chains(layers=layers, seed=seed),
        "residual": residual_vs_plain(layers=layers, seed=seed),
        "relu": relu_chains(layers=layers, seed=seed),
    }
