"""The building blocks: the paper's plain and residual blocks, and the pre-activation residual
block of He et al. 2016 ("Identity mappings in deep residual networks"). All have the same two
3x3 conv layers.

`norm` and `activation` exist to measure what BatchNorm and the nonlinearity do (resnet-exp
probe); the paper's blocks are norm="batch", activation="relu", the defaults.
"""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("batch", "none")
ACTIVATIONS = ("relu", "leaky_relu")


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    # No bias under BatchNorm, whose shift makes a bias redundant; with norm="none" it is on.
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def norm_layer(norm: str, channels: int) -> nn.Module:
    """BatchNorm, or nothing (an Identity, so hooks and layer indices stay the same)."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


def activation_layer(activation: str, slope: float = 0.01) -> nn.Module:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    return nn.ReLU() if activation == "relu" else nn.LeakyReLU(slope)


class FixupScalars(nn.Module):
    """Fixup's scalars for one residual branch (Zhang, Dauphin, Ma 2019): a bias before each
    conv and before the activation and the addition (all 0), and a multiplier after the last
    conv (1). With them and the Fixup initialization (models/init.py) a residual net trains
    without normalization."""

    def __init__(self) -> None:
        super().__init__()
        for name in ("bias1a", "bias1b", "bias2a", "bias2b"):
            setattr(self, name, nn.Parameter(torch.zeros(())))
        self.scale = nn.Parameter(torch.ones(()))


def skip_gain() -> nn.Parameter:
    """SkipInit (De and Smith 2020): one learnable scalar at the end of a residual branch,
    starting at 0, so every block starts as its shortcut, with or without normalization."""
    return nn.Parameter(torch.zeros(()))


class PlainBlock(nn.Module):
    """conv-BN-ReLU-conv-BN-ReLU: two stacked layers, no shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm: str = "batch",
        activation: str = "relu",
        slope: float = 0.01,
    ) -> None:
        super().__init__()
        bias = norm == "none"
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = norm_layer(norm, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels, bias=bias)
        self.bn2 = norm_layer(norm, out_channels)
        self.act = activation_layer(activation, slope)
        # A lesion (resnet-exp lesion) deletes a block: output = input. A plain block can only
        # be deleted where its input and output have the same shape.
        self.deletable = stride == 1 and in_channels == out_channels
        self.deleted = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deleted:
            return x
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)))


class ResidualBlock(nn.Module):
    """y = relu(F(x) + shortcut(x)), F = conv-BN-ReLU-conv-BN. The sum comes before the last ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        shortcut: nn.Module,
        norm: str = "batch",
        activation: str = "relu",
        slope: float = 0.01,
        skipinit: bool = False,
        fixup: bool = False,
    ) -> None:
        super().__init__()
        bias = norm == "none" and not fixup  # Fixup's scalar biases replace the conv biases
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = norm_layer(norm, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels, bias=bias)
        self.bn2 = norm_layer(norm, out_channels)
        self.shortcut = shortcut
        self.act = activation_layer(activation, slope)
        self.skip_gain = skip_gain() if skipinit else None
        self.fixup = FixupScalars() if fixup else None
        self.reshapes = stride != 1 or in_channels != out_channels
        # A lesion (Veit et al. 2016) deletes the residual branch: the block becomes its
        # shortcut, relu(shortcut(x)). Always possible, downsampling blocks included.
        self.deletable = True
        self.deleted = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fixup
        if self.deleted:
            return self.act(self.shortcut(x + f.bias1a if f is not None and self.reshapes else x))
        if f is None:
            out = self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))
            into_shortcut = x
        else:
            # As in Fixup's reference CIFAR block; bn1/bn2 are Identities (norm=none), called
            # so that the probe's hooks still see every conv's response.
            out = self.act(self.bn1(self.conv1(x + f.bias1a)) + f.bias1b)
            out = self.bn2(self.conv2(out + f.bias2a)) * f.scale + f.bias2b
            into_shortcut = x + f.bias1a if self.reshapes else x
        if self.skip_gain is not None:
            out = out * self.skip_gain
        return self.act(out + self.shortcut(into_shortcut))


class PreActBlock(nn.Module):
    """y = F(x) + shortcut(x), F = BN-ReLU-conv-BN-ReLU-conv (He et al. 2016): nothing after the
    addition, so the shortcut path from block to block is a pure identity. A projection shortcut
    (options B/C) reads the pre-activated input, as the block's first conv does; the identity and
    zero-pad shortcuts read x itself."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        shortcut: nn.Module,
        norm: str = "batch",
        activation: str = "relu",
        slope: float = 0.01,
        skipinit: bool = False,
        fixup: bool = False,
    ) -> None:
        super().__init__()
        bias = norm == "none" and not fixup
        self.bn1 = norm_layer(norm, in_channels)
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn2 = norm_layer(norm, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels, bias=bias)
        self.shortcut = shortcut
        self.act = activation_layer(activation, slope)
        self.projects = any(isinstance(m, nn.Conv2d) for m in shortcut.modules())
        self.skip_gain = skip_gain() if skipinit else None
        self.fixup = FixupScalars() if fixup else None
        self.deletable = True  # a lesion leaves the shortcut: y = shortcut(x)
        self.deleted = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deleted and not self.projects:
            return self.shortcut(x)
        pre = self.act(self.bn1(x))
        if self.deleted:
            return self.shortcut(pre)
        if self.fixup is not None:
            # Fixup's biases at the same places as in the post-activation block.
            f = self.fixup
            out = self.act(self.bn2(self.conv1(pre + f.bias1a)) + f.bias1b)
            out = self.conv2(out + f.bias2a) * f.scale + f.bias2b
        else:
            out = self.conv2(self.act(self.bn2(self.conv1(pre))))
        if self.skip_gain is not None:
            out = out * self.skip_gain
        return out + self.shortcut(pre if self.projects else x)
