"""Weight initializers. The paper uses He (kaiming normal) initialization [He et al. 2015b]."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from resnet_exp.errors import UserError


def _kaiming_normal(w) -> None:
    # fan_in with the ReLU gain: the MSRA init the paper cites keeps forward response variance.
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")


def _kaiming_uniform(w) -> None:
    nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu")


def _xavier_normal(w) -> None:
    nn.init.xavier_normal_(w)


def _orthogonal(w) -> None:
    nn.init.orthogonal_(w, gain=nn.init.calculate_gain("relu"))


INITIALIZERS: dict[str, Callable | None] = {
    "kaiming_normal": _kaiming_normal,
    "kaiming_uniform": _kaiming_uniform,
    "xavier_normal": _xavier_normal,
    "orthogonal": _orthogonal,
    "torch_default": None,  # keep PyTorch's own layer defaults
}


def initialize(model: nn.Module, scheme: str) -> nn.Module:
    """Initialize conv and linear weights by `scheme`; BN starts at gamma=1, beta=0; biases at 0.

    No block is zero-initialized: that would silence a plain block entirely and change the
    experiment (torchvision's `zero_init_residual` / timm's `zero_init_last` are off by design).
    """
    if scheme not in INITIALIZERS:
        raise UserError(f"unknown init {scheme!r}; choose one of {', '.join(INITIALIZERS)}")
    fn = INITIALIZERS[scheme]
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif fn is not None and isinstance(m, (nn.Conv2d, nn.Linear)):
            fn(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
