"""Shattered gradients (Balduzzi et al. 2017, arXiv 1702.08591): how the gradient of a net's
output with respect to its input changes between neighbouring inputs.

Along a straight line through input space (one training image plus t times a random image-shaped
direction), we take the gradient of a fixed scalar output (the pooled features that enter the
classifier, projected on a fixed random unit vector: the logits would do for He-initialized nets,
but Fixup starts its classifier at zero, which would make every input gradient zero) at evenly spaced points and correlate each point's gradient with its neighbour's.
In a shallow or residual net neighbouring gradients are almost the same (correlation near 1:
"brown noise"); in a deep plain net they decorrelate until they look like white noise
(correlation near 0), and a gradient step then says little about the loss a step away.

BatchNorm runs in evaluation mode so that the points do not influence each other: a fresh net's
BN statistics are first set from a batch of real images (its running statistics at
initialization are a placeholder mean 0, variance 1), a trained net keeps its own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from resnet_exp.models.net import CifarNet


@dataclass
class LineGradients:
    t: list[float]  # position of each point on the line, from -span/2 to span/2
    neighbour_correlation: float | None  # mean correlation of adjacent points' gradients;
    # None when no gradient reaches the input at all
    correlation_by_lag: list[float | None]  # mean correlation at lag 1, 2, ... (index 0 = lag 1)
    pixel_trace: list[float]  # the gradient's component at one fixed input pixel, per point
    finite: bool  # False: a gradient overflowed (the statistics are then meaningless)


def set_bn_statistics(model: nn.Module, x: torch.Tensor) -> None:
    """Give every BatchNorm the statistics of batch `x` as its running statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(x)


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation of each row of `a` with the same row of `b` (rows are flattened gradients)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    return (a * b).sum(dim=1) / denom.clamp_min(torch.finfo(a.dtype).tiny)


def line_gradients(
    model: CifarNet,
    image: torch.Tensor,
    bn_batch: torch.Tensor | None,
    *,
    points: int = 128,
    span: float = 1.0,
    seed: int = 0,
    max_lag: int = 16,
    chunk: int = 64,
    dtype: torch.dtype = torch.float64,
) -> LineGradients:
    """Input gradients at `points` evenly spaced inputs image + t * d, |t| <= span / 2, where d
    is a seeded Gaussian direction scaled to the image's own norm (span 1: the line is as long
    as the image is large). `bn_batch`: images to set BN statistics from (None: keep the
    model's, e.g. a trained run's). Works on a copy in `dtype` (float64 by default, so that the
    huge gradients of 1000-layer plain nets are measured rather than overflowing)."""
    if points < 2:
        raise ValueError(f"points={points}: need at least 2 points on the line")
    net = copy.deepcopy(model).to(dtype)
    if bn_batch is not None:
        set_bn_statistics(net, bn_batch.to(dtype))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)  # only the input's gradient is wanted
    g = torch.Generator().manual_seed(seed)
    x0 = image.to(dtype)
    d = torch.randn(x0.shape, generator=g, dtype=dtype)
    d = d * (x0.norm() / d.norm())
    t = torch.linspace(-span / 2, span / 2, points, dtype=dtype)
    features: list[torch.Tensor] = []
    hook = net.fc.register_forward_pre_hook(lambda _m, inputs: features.append(inputs[0]))
    grads = []
    v = None
    try:
        for start in range(0, points, chunk):
            ts = t[start : start + chunk]
            x = (x0.unsqueeze(0) + ts.view(-1, 1, 1, 1) * d.unsqueeze(0)).requires_grad_(True)
            features.clear()
            net(x)
            feat = features[0]
            if v is None:  # a fixed random unit vector in feature space: the scalar output
                v = torch.randn(feat.shape[1], generator=g, dtype=dtype)
                v = v / v.norm()
            # Points are independent in eval mode: one backward gives every point's gradient.
            (grad,) = torch.autograd.grad((feat @ v).sum(), x)
            grads.append(grad.flatten(1))
    finally:
        hook.remove()
    flat = torch.cat(grads)
    finite = bool(torch.isfinite(flat).all())
    # Correlations in float64 on rows scaled to a maximum of 1 (a correlation does not see a
    # row's scale): the gradients of a deep plain net reach 1e20 and their products would
    # overflow. A row of zeros (no gradient reaches the input: dead ReLUs) has no correlation.
    flat64 = flat.double()
    scale = flat64.abs().amax(dim=1, keepdim=True)
    live = (scale.squeeze(1) > 0) & torch.isfinite(scale.squeeze(1))
    unit = flat64 / torch.where(scale > 0, scale, torch.ones_like(scale))
    lags = []
    for lag in range(1, min(max_lag, points - 1) + 1):
        both = live[:-lag] & live[lag:]
        pairs = pearson_rows(unit[:-lag][both], unit[lag:][both]) if both.any() else None
        lags.append(None if pairs is None else float(pairs.mean()))
    pixel = int(torch.randint(flat.shape[1], (1,), generator=g))
    return LineGradients(
        t=[float(s) for s in t],
        neighbour_correlation=lags[0],
        correlation_by_lag=lags,
        pixel_trace=[float(s) for s in flat[:, pixel]],
        finite=finite,
    )
