"""Loss landscapes (Li, Xu, Taylor, Studer and Goldstein 2018, arXiv 1712.09913): the training
loss of a trained net along one or two random directions in weight space.

A raw Gaussian direction means different things for different nets (ReLU nets with BatchNorm are
invariant to a filter's scale), so each direction is *filter-normalized*: every filter of the
direction (an output channel of a conv, a row of the classifier) is rescaled to the norm of the
matching filter of the trained weights. Parameters with one dimension or none (BatchNorm's
gamma and beta, biases, Fixup's scalars, SkipInit's gains) are left unperturbed, as in the
paper. The net is evaluated with BatchNorm in evaluation mode (the run's running statistics),
in float32, on a fixed set of training images without augmentation.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

# Interior grid points whose 2x2 curvature has |lambda_min| <= CONVEX_TOL * lambda_max count as
# locally convex (the paper maps |lambda_min / lambda_max| and calls small ratios convex-looking).
CONVEX_TOL = 0.05


def perturbed_names(model: nn.Module) -> list[str]:
    """The parameters a direction moves: those with two or more dimensions (conv and linear
    weights); BN parameters, biases and scalar gains stay at their trained values."""
    return [name for name, p in model.named_parameters() if p.dim() > 1]


def filter_normalized_direction(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A seeded Gaussian direction over `perturbed_names(model)`, each filter (slice along the
    first dimension) scaled to the norm of the same filter of the model's weights. The same seed
    and architecture give the same direction, bit for bit."""
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    direction = {}
    for name in perturbed_names(model):
        w = params[name].detach().float().cpu()
        d = torch.randn(w.shape, generator=g)
        w_norm = w.flatten(1).norm(dim=1)
        d_norm = d.flatten(1).norm(dim=1)
        scale = w_norm / (d_norm + 1e-10)
        direction[name] = d * scale.view(-1, *([1] * (w.dim() - 1)))
    return direction


@torch.inference_mode()
def loss_and_error(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500
) -> tuple[float, float]:
    """Mean cross-entropy and top-1 error of `model` in evaluation mode on (x, y). A non-finite
    loss is returned as inf (a perturbed plain net can overflow)."""
    model.eval()
    total, wrong = 0.0, 0
    for i in range(0, len(y), batch_size):
        out = model(x[i : i + batch_size]).float()
        total += float(F.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        wrong += int((out.argmax(1) != y[i : i + batch_size]).sum())
    loss = total / len(y)
    return (loss if math.isfinite(loss) else math.inf), wrong / len(y)


def evaluate_points(
    model: nn.Module,
    directions: list[dict[str, torch.Tensor]],
    points: list[tuple[float, ...]],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 500,
    report=None,
) -> list[tuple[float, float]]:
    """(loss, error) at weights + sum_i point[i] * directions[i] for each point. Works on a copy:
    the model keeps its weights."""
    net = copy.deepcopy(model).float()
    params = dict(net.named_parameters())
    base = {name: params[name].detach().clone() for name in directions[0]}
    results = []
    for k, point in enumerate(points):
        with torch.no_grad():
            for name, w in base.items():
                moved = w.clone()
                for coef, d in zip(point, directions, strict=True):
                    if coef:
                        moved.add_(d[name].to(w.device), alpha=coef)
                params[name].copy_(moved)
        results.append(loss_and_error(net, x, y, batch_size))
        if report is not None:
            report(k + 1, len(points))
    return results


def axis(span: float, points: int) -> list[float]:
    """`points` coordinates evenly from -span to span (0 among them when `points` is odd)."""
    if points == 1:
        return [0.0]
    return [round(-span + 2 * span * i / (points - 1), 10) for i in range(points)]


def convex_share(grid: list[list[float]], step: float) -> float | None:
    """The share of interior points of a 2-D loss grid (rows: direction 2, columns: direction
    1) where the surface is locally convex: the 2x2 finite-difference Hessian has a positive
    largest eigenvalue and a smallest one no more negative than CONVEX_TOL times it. None when
    the grid has no interior point or no finite one."""
    rows, cols = len(grid), len(grid[0]) if grid else 0
    convex = total = 0
    for i in range(1, rows - 1):
        for j in range(1, cols - 1):
            near = [grid[i + a][j + b] for a in (-1, 0, 1) for b in (-1, 0, 1)]
            if not all(math.isfinite(v) for v in near):
                continue
            f = grid[i][j]
            fxx = (grid[i][j + 1] - 2 * f + grid[i][j - 1]) / step**2
            fyy = (grid[i + 1][j] - 2 * f + grid[i - 1][j]) / step**2
            fxy = (
                grid[i + 1][j + 1] - grid[i + 1][j - 1] - grid[i - 1][j + 1] + grid[i - 1][j - 1]
            ) / (4 * step**2)
            mean, half = (fxx + fyy) / 2, math.hypot((fxx - fyy) / 2, fxy)
            lam_max, lam_min = mean + half, mean - half
            total += 1
            convex += lam_max > 0 and lam_min >= -CONVEX_TOL * lam_max
    return convex / total if total else None


def basin_width(alpha: list[float], loss: list[float], level: float) -> tuple[float, bool]:
    """The width of the basin around the trained weights on a 1-D curve: the distance between
    the points on either side of alpha=0 where the loss first reaches `level` (linear
    interpolation between grid points), and whether both sides reached it within the curve (if
    not, the width is a lower bound: the curve's end counts as the crossing)."""
    c = min(range(len(alpha)), key=lambda i: abs(alpha[i]))
    if loss[c] >= level:
        return 0.0, True
    edges, closed = [], True
    for step in (-1, 1):
        i = c + step
        while 0 <= i < len(alpha) and loss[i] < level:
            i += step
        if not 0 <= i < len(alpha):
            edges.append(alpha[i - step])
            closed = False
            continue
        a0, a1, l0, l1 = alpha[i - step], alpha[i], loss[i - step], loss[i]
        frac = (level - l0) / (l1 - l0) if math.isfinite(l1) else 0.0
        edges.append(a0 + frac * (a1 - a0))
    return edges[1] - edges[0], closed


def landscape(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    span: float = 1.0,
    line: int = 41,
    grid: int = 19,
    seed: int = 0,
    batch_size: int = 500,
    chance: float = math.log(10),
    report=None,
) -> dict:
    """The 1-D curve (`line` points along direction 1) and the 2-D surface (`grid` x `grid`
    points over directions 1 and 2), both over [-span, span], and their summary:

    - basin: the width of the basin around the trained weights along direction 1 (in
      filter-norm units) up to where the loss has climbed half of the way from its trained
      value to `chance` (default ln 10, the loss of a uniform guess over 10 classes): how far
      the weights can move before they lose half of what training gained over a guess. A
      relative level, because a deep plain net's trained loss sits close to chance and its
      surroundings hover around it (basin_closed: False when the curve ended first: a lower
      bound);
    - convex_share: the share of the surface's interior points that are locally convex.

    Directions: filter_normalized_direction(model, seed) and (model, seed + 1)."""
    d1 = filter_normalized_direction(model, seed)
    d2 = filter_normalized_direction(model, seed + 1)
    centre = evaluate_points(model, [d1], [(0.0,)], x, y, batch_size)[0]
    level = centre[0] + (chance - centre[0]) / 2
    out: dict = {
        "span": span,
        "direction_seeds": [seed, seed + 1],
        "perturbed_tensors": len(d1),
        "perturbed_parameters": sum(d.numel() for d in d1.values()),
        "centre": {"loss": centre[0], "error": centre[1]},
        "line": None,
        "surface": None,
        "summary": {
            "basin": None,
            "basin_closed": None,
            "basin_level": level,
            "chance_loss": chance,
            "convex_share": None,
        },
    }
    if line:
        coords = axis(span, line)
        vals = evaluate_points(
            model,
            [d1],
            [(a,) for a in coords],
            x,
            y,
            batch_size,
            None if report is None else lambda k, n: report("line", k, n),
        )
        out["line"] = {
            "alpha": coords,
            "loss": [v[0] for v in vals],
            "error": [v[1] for v in vals],
        }
        if line > 1:
            width, closed = basin_width(coords, out["line"]["loss"], level)
            out["summary"].update(basin=width, basin_closed=closed)
    if grid:
        coords = axis(span, grid)
        vals = evaluate_points(
            model,
            [d1, d2],
            [(a, b) for b in coords for a in coords],
            x,
            y,
            batch_size,
            None if report is None else lambda k, n: report("surface", k, n),
        )
        loss = [[vals[r * grid + c][0] for c in range(grid)] for r in range(grid)]
        error = [[vals[r * grid + c][1] for c in range(grid)] for r in range(grid)]
        out["surface"] = {"alpha": coords, "beta": coords, "loss": loss, "error": error}
        if grid > 2:
            out["summary"]["convex_share"] = convex_share(loss, coords[1] - coords[0])
    out["directions"] = (d1, d2)
    return out
