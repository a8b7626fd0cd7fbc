"""Shortcut connections for residual blocks: the paper's options A, B and C."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SHORTCUTS = ("A", "B", "C")


class ZeroPadShortcut(nn.Module):
    """Option A: identity, subsampled by `stride`, extra channels zero-padded (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError("option A can only add channels")
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            # Pad the channel dimension (dim 1): F.pad's spec runs from the last dim backwards.
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x


class ProjectionShortcut(nn.Module):
    """Options B/C: a 1x1 convolution (with the block's stride) followed by BatchNorm."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        norm: str = "batch",
        normalized: bool = True,
    ) -> None:
        super().__init__()
        from resnet_exp.models.blocks import norm_layer

        # A pre-activation block's projection reads an already normalized input and adds into an
        # unnormalized sum: a bare 1x1 conv (He et al. 2016), `normalized=False`.
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=norm == "none")
        self.bn = norm_layer(norm if normalized else "none", out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def make_shortcut(
    option: str,
    in_channels: int,
    out_channels: int,
    stride: int,
    norm: str = "batch",
    preact: bool = False,
) -> nn.Module:
    """The shortcut for one residual (or, with `preact`, pre-activation) block under option A,
    B or C."""
    shape_changes = stride != 1 or in_channels != out_channels
    if option == "C" or (option == "B" and shape_changes):
        return ProjectionShortcut(in_channels, out_channels, stride, norm, normalized=not preact)
    if option in ("A", "B"):
        return (
            ZeroPadShortcut(in_channels, out_channels, stride) if shape_changes else nn.Identity()
        )
    raise ValueError(f"unknown shortcut option {option!r}; choose one of {', '.join(SHORTCUTS)}")
