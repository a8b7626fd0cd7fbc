"""Weight initializers. The paper uses He (kaiming normal) initialization [He et al. 2015b]."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from resnet_exp.errors import UserError
from resnet_exp.models.blocks import PreActBlock, ResidualBlock
from resnet_exp.models.shortcuts import ZeroPadShortcut

# Each takes the weight and the nonlinearity (`relu`, or `leaky_relu` with its slope), so He and
# orthogonal init use the gain that matches the net's activation.


def _kaiming_normal(w, activation: str = "relu", slope: float = 0.01) -> None:
    # fan_in with the ReLU gain: the MSRA init the paper cites keeps forward response variance.
    nn.init.kaiming_normal_(w, a=slope, mode="fan_in", nonlinearity=activation)


def _kaiming_uniform(w, activation: str = "relu", slope: float = 0.01) -> None:
    nn.init.kaiming_uniform_(w, a=slope, mode="fan_in", nonlinearity=activation)


def _xavier_normal(w, activation: str = "relu", slope: float = 0.01) -> None:
    nn.init.xavier_normal_(w)  # Glorot: gain 1, whatever the activation


def _orthogonal(w, activation: str = "relu", slope: float = 0.01) -> None:
    nn.init.orthogonal_(w, gain=nn.init.calculate_gain(activation, slope))


INITIALIZERS: dict[str, Callable | None] = {
    "kaiming_normal": _kaiming_normal,
    "kaiming_uniform": _kaiming_uniform,
    "xavier_normal": _xavier_normal,
    "orthogonal": _orthogonal,
    "torch_default": None,  # keep PyTorch's own layer defaults
    "fixup": _kaiming_normal,  # then rescaled and zeroed by fixup_rescale (no normalization)
}


def fixup_rescale(model: nn.Module) -> None:
    """Fixup (Zhang et al. 2019, section 3): with L residual branches of m = 2 weight layers,
    scale each branch's first conv by L^(-1/(2m-2)) = L^(-1/2) and zero its last conv and the
    classifier; every other layer keeps its He initialization. The net then starts as its
    shortcut path, and every branch's update is of order 1/L of the output's."""
    branches = [m for m in model.modules() if getattr(m, "fixup", None) is not None]
    if not branches:
        raise UserError("init=fixup needs a net built for it (block=residual or preact, norm=none)")
    scale = len(branches) ** -0.5
    with torch.no_grad():
        for b in branches:
            b.conv1.weight.mul_(scale)
            nn.init.zeros_(b.conv2.weight)
        nn.init.zeros_(model.fc.weight)
        nn.init.zeros_(model.fc.bias)


def initialize(
    model: nn.Module,
    scheme: str,
    zero_residual: bool = False,
    activation: str = "relu",
    slope: float = 0.01,
    zero_classifier: bool = False,
    zero_residual_padded: bool = False,
) -> nn.Module:
    """Initialize conv and linear weights by `scheme`; BN starts at gamma=1, beta=0; biases at 0.

    The paper zero-initializes nothing, and that stays the default. `zero_residual` starts the
    last BN of every residual branch at gamma=0 (Goyal et al. 2017; torchvision's
    `zero_init_residual`), so each residual block begins as its shortcut and a deep net begins as
    a shallow one. Plain blocks are never touched: a zero gamma would silence them entirely.

    Except, unless `zero_residual_padded`, in the channels a zero-padding shortcut (option A)
    adds at the start of a stage: there the shortcut carries nothing, and a zero branch would
    leave those channels exactly zero. In a post-activation block relu(0) = 0 has zero gradient,
    and in a pre-activation block they meet a ReLU (the next block's, the final BN-ReLU) with
    zero input too, so their branch weights never receive a gradient and the channels stay zero
    for the whole run: half of stage 2's channels and, with those carried on, three quarters of
    stage 3's (measured in docs/results/deep_laptop). So those channels keep the initializer's
    branch, and each block begins as its shortcut in the channels the shortcut carries.

    `zero_classifier` starts the FC layer at zero (as Fixup does), so every net's first loss is
    ln(classes) whatever the scale of the features it reads.
    """
    if scheme not in INITIALIZERS:
        raise UserError(f"unknown init {scheme!r}; choose one of {', '.join(INITIALIZERS)}")
    fn = INITIALIZERS[scheme]
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif fn is not None and isinstance(m, (nn.Conv2d, nn.Linear)):
            fn(m.weight, activation, slope)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    if scheme == "fixup":
        fixup_rescale(model)
    if zero_classifier:
        nn.init.zeros_(model.fc.weight)
        nn.init.zeros_(model.fc.bias)
    if zero_residual:
        for m in model.modules():
            if not isinstance(m, (PreActBlock, ResidualBlock)):
                continue
            carried = slice(None)  # the output channels whose branch starts at zero
            if isinstance(m.shortcut, ZeroPadShortcut) and not zero_residual_padded:
                carried = slice(0, m.conv2.out_channels - m.shortcut.extra)
            if isinstance(m, PreActBlock):  # its branch ends in a conv: zero it
                with torch.no_grad():
                    m.conv2.weight[carried] = 0
                    if m.conv2.bias is not None:
                        m.conv2.bias[carried] = 0
            else:
                if not isinstance(m.bn2, nn.BatchNorm2d):
                    raise UserError("init.zero_residual=true needs BatchNorm (norm=batch)")
                with torch.no_grad():
                    m.bn2.weight[carried] = 0
    return model
