"""Per-layer signal statistics of a CIFAR net on one batch: the paper's Figure 7 and more.

For every 3x3 conv layer, the *response* is its output after BN (or straight after the conv
with norm=none), before the ReLU or the residual addition: what Figure 7 plots the std of. We
also record the norm of the loss gradient with respect to that response (how much signal the
backward pass brings to the layer) and the norm of the layer's weight gradient.

The statistics are taken on a deep copy in training mode (batch statistics, as during training),
so the model, its BN running statistics and its optimizer see nothing. Training logs them (the
`signal` records) and the probe draws them: this module sits below both.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from resnet_exp.models.blocks import PreActBlock
from resnet_exp.models.net import CifarNet


@dataclass
class LayerStat:
    index: int  # 0 = the stem conv, then the blocks' conv1, conv2 in order
    stage: int  # 0 for the stem, 1-3 for the stages
    block: int  # block within its stage (0-based); -1 for the stem
    conv: str  # "stem", "conv1" or "conv2"
    response_std: float
    grad_norm: float  # || dLoss / d response ||
    weight_grad_norm: float  # || dLoss / d conv weight ||

    def as_row(self) -> dict:
        return asdict(self)


def conv_layers(model: CifarNet) -> list[tuple[int, int, str, nn.Conv2d, nn.Module]]:
    """(stage, block, name, conv, the module whose output is the response) for every 3x3 conv."""
    layers = [(0, -1, "stem", model.conv1, model.bn1)]
    for s, stage in enumerate(model.stages, start=1):
        for b, blk in enumerate(stage):
            if isinstance(blk, PreActBlock):
                # Its BNs normalize a conv's *input*; the response is the conv's output itself.
                layers.append((s, b, "conv1", blk.conv1, blk.conv1))
                layers.append((s, b, "conv2", blk.conv2, blk.conv2))
            else:
                layers.append((s, b, "conv1", blk.conv1, blk.bn1))
                layers.append((s, b, "conv2", blk.conv2, blk.bn2))
    return layers


def layer_stats(
    model: CifarNet, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None
) -> list[LayerStat]:
    """Forward and backward once on (x, y) in training mode, on a copy of `model` (in `dtype`
    if given: float64 measures the gradients of 1000-layer plain nets, which overflow float32).

    Each response's std is taken as it is computed and its gradient norm by a tensor hook, so no
    response or gradient is kept beyond what autograd itself needs: at depth 1202 keeping them
    all (retain_grad) doubled the probe's memory."""
    return layer_stats_and_dead_features(model, x, y, dtype)[0]


def layer_stats_and_dead_features(
    model: CifarNet, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None
) -> tuple[list[LayerStat], float]:
    """layer_stats, and from the same forward pass the fraction of the (image, channel) feature
    maps the classifier reads that are zero at every pixel.

    Where the last ReLU has died for (nearly) every map, the pooled features are (nearly) the same
    for every image and the net can only guess: the paper's post-activation residual-1202 ends
    there after a few hundred steps (99.8-99.9% at iteration 320 in deep_laptop's two seeds), the
    pre-activation net, whose last ReLU follows a BatchNorm, does not (0.8-2.4%)."""
    probe = copy.deepcopy(model).train()
    if dtype is not None:
        probe, x = probe.to(dtype), x.to(dtype)
    layers = conv_layers(probe)
    stds: list[float] = []
    grads: dict[int, float] = {}

    def keep(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        i = len(stds)
        stds.append(float(output.detach().double().std()))
        if output.requires_grad:
            output.register_hook(lambda g: grads.__setitem__(i, float(g.double().norm())))

    dead: list[float] = []

    def count_dead(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        maps = inputs[0].detach().flatten(2)  # (images, channels, pixels), not kept
        dead.append(float((maps == 0).all(dim=2).double().mean()))

    # An Identity (norm=none) returns its input tensor itself: one hook per layer still sees
    # exactly that layer's conv output.
    handles = [norm.register_forward_hook(keep) for *_, norm in layers]
    handles.append(probe.pool.register_forward_hook(count_dead))
    try:
        probe.zero_grad(set_to_none=True)
        loss = F.cross_entropy(probe(x), y)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    if len(stds) != len(layers):
        raise RuntimeError(f"expected {len(layers)} responses, got {len(stds)}")
    out = []
    for i, (stage, block, name, conv, _) in enumerate(layers):
        out.append(
            LayerStat(
                index=i,
                stage=stage,
                block=block,
                conv=name,
                response_std=stds[i],
                grad_norm=grads.get(i, 0.0),
                weight_grad_norm=float(conv.weight.grad.double().norm())
                if conv.weight.grad is not None
                else 0.0,
            )
        )
    return out, dead[0]


def finite(stats: list[LayerStat]) -> bool:
    return all(
        math.isfinite(v) for t in stats for v in (t.response_std, t.grad_norm, t.weight_grad_norm)
    )


def exact_layer_stats(
    model: CifarNet, x: torch.Tensor, y: torch.Tensor, check=None
) -> tuple[list[LayerStat], torch.dtype]:
    """layer_stats in float32, repeated in float64 only where float32 overflows (a plain net's
    gradient at depth 1202 with BN grows by ~1e80; float64 needs ~8x the memory on CPU).
    `check(model, dtype)` runs before each pass (a memory guard that raises)."""
    for dtype in (torch.float32, torch.float64):
        if check is not None:
            check(model, dtype)
        stats = layer_stats(model, x, y, dtype=dtype)
        if finite(stats):
            break
    return stats, dtype


def stage_summary(stats: list[LayerStat]) -> dict[str, float]:
    """Per stage (1-3): mean response std and the norm of all its layers' response gradients;
    what training logs at every evaluation (record kind `signal`)."""
    out: dict[str, float] = {}
    for s in (1, 2, 3):
        mine = [t for t in stats if t.stage == s]
        if not mine:
            continue
        out[f"stage{s}_response_std"] = sum(t.response_std for t in mine) / len(mine)
        out[f"stage{s}_grad_norm"] = sum(t.grad_norm**2 for t in mine) ** 0.5
    return out


# Peak memory of layer_stats per element of the activations one image produces (all leaf modules'
# outputs). Measured with plain nets at width 8 (docs/performance.md): float32 3.1-3.2 bytes at
# depths 110-1202; float64 6.8-29 bytes (its CPU convolutions keep their unfolded input for the
# backward pass, 9 values per input value). Rounded up, so the guard errs on the safe side.
BYTES_PER_ACTIVATION = {torch.float32: 4.0, torch.float64: 32.0}


def activation_elements(model: nn.Module, image_shape: tuple[int, ...]) -> int:
    """Elements of every leaf module's output for one image, from one no-grad forward pass."""
    count = 0

    def add(_m: nn.Module, _i: tuple, out: torch.Tensor) -> None:
        nonlocal count
        count += out.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(add) for m in leaves]
    was_training = model.training
    try:
        model.eval()  # no BN statistics updated by this pass
        with torch.no_grad():
            model(torch.zeros(1, *image_shape, dtype=next(model.parameters()).dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return count


def probe_bytes(
    model: nn.Module, image_shape: tuple[int, ...], batch: int, dtype: torch.dtype
) -> int:
    """Estimated peak memory of layer_stats on a batch of `batch` images in `dtype`."""
    return int(activation_elements(model, image_shape) * batch * BYTES_PER_ACTIVATION[dtype])


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux); None where it cannot be read."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
