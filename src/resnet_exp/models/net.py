"""The CIFAR network family: depth 6n+2, three stages of n blocks at 16/32/64 filters (x width/16)."""

from __future__ import annotations

import torch
from torch import nn

from resnet_exp.errors import UserError
from resnet_exp.models.blocks import (
    ACTIVATIONS,
    NORMS,
    PlainBlock,
    PreActBlock,
    ResidualBlock,
    activation_layer,
    conv3x3,
    norm_layer,
)
from resnet_exp.models.shortcuts import SHORTCUTS, make_shortcut

BLOCKS = ("plain", "residual", "preact")
PAPER_DEPTHS = (20, 32, 44, 56, 110, 1202)


def check_depth(depth: int) -> int:
    """Return n for depth = 6n + 2, or raise a UserError that names valid depths."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise UserError(
            f"depth={depth} is not 6n+2; valid depths are 8, 14, 20, 26, 32, 38, 44, 50, 56, ..., "
            f"110, ..., 1202 (the paper uses {', '.join(map(str, PAPER_DEPTHS))})"
        )
    return (depth - 2) // 6


def check_branch_options(block: str, norm: str, fixup: bool, skipinit: bool) -> None:
    """Fixup and SkipInit act on residual branches; Fixup also replaces normalization. One
    check, used by the net and by the config (build.py), which refuses them before any run."""
    if fixup and (block == "plain" or norm != "none"):
        raise UserError(
            "init=fixup trains residual nets without normalization: use block=residual or preact with norm=none"
        )
    if skipinit and block == "plain":
        raise UserError(
            "init.skipinit=true scales residual branches; a plain net has none (use block=residual or preact)"
        )


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class CifarNet(nn.Module):
    """3x3 conv -> 3 stages x n blocks (32x32, 16x16, 8x8 maps) -> global average pool -> FC.

    With pre-activation blocks the stem is the conv alone and a final BN-ReLU comes before the
    pooling (He et al. 2016): every block's input is then an unnormalized sum of shortcuts.
    """

    def __init__(
        self,
        depth: int,
        block: str = "residual",
        shortcut: str = "A",
        width: int = 16,
        num_classes: int = 10,
        in_channels: int = 3,
        norm: str = "batch",
        activation: str = "relu",
        slope: float = 0.01,
        skipinit: bool = False,
        fixup: bool = False,
    ) -> None:
        super().__init__()
        n = check_depth(depth)
        check_branch_options(block, norm, fixup, skipinit)
        if norm not in NORMS:
            raise UserError(f"norm={norm} must be one of {', '.join(NORMS)}")
        if activation not in ACTIVATIONS:
            raise UserError(f"activation={activation} must be one of {', '.join(ACTIVATIONS)}")
        if block not in BLOCKS:
            raise UserError(f"unknown block {block!r}; choose one of {', '.join(BLOCKS)}")
        if shortcut not in SHORTCUTS:
            raise UserError(f"unknown shortcut {shortcut!r}; choose one of {', '.join(SHORTCUTS)}")
        if width < 1:
            raise UserError(f"width={width} must be a positive number of base filters")
        self.depth, self.block_type, self.shortcut_option = depth, block, shortcut
        self.norm, self.activation = norm, activation
        widths = [width, 2 * width, 4 * width]
        style = {"norm": norm, "activation": activation, "slope": slope}

        preact = block == "preact"
        self.conv1 = conv3x3(in_channels, widths[0], bias=norm == "none")
        self.bn1 = norm_layer("none" if preact else norm, widths[0])
        self.act = activation_layer(activation, slope)
        stages, channels = [], widths[0]
        for stage, out_channels in enumerate(widths):
            blocks = []
            for i in range(n):
                # Downsample by a stride-2 convolution at the first block of stages 2 and 3.
                stride = 2 if stage > 0 and i == 0 else 1
                if block == "plain":
                    blocks.append(PlainBlock(channels, out_channels, stride, **style))
                else:
                    sc = make_shortcut(shortcut, channels, out_channels, stride, norm, preact)
                    kind = PreActBlock if preact else ResidualBlock
                    blocks.append(
                        kind(
                            channels,
                            out_channels,
                            stride,
                            sc,
                            **style,
                            skipinit=skipinit,
                            fixup=fixup,
                        )
                    )
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        # Only pre-activation nets have it (other nets' checkpoints keep their keys).
        self.final_bn = norm_layer(norm, channels) if preact else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        # Fixup's scalar biases after the stem conv and before the classifier.
        self.fixup_biases = nn.Parameter(torch.zeros(2)) if fixup else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(
            self.conv1(x)
        )  # an Identity in pre-activation nets (it keeps the probe's hook)
        if self.fixup_biases is not None:
            x = x + self.fixup_biases[0]
        if self.final_bn is None:
            x = self.act(x)
        x = self.stages(x)
        if self.final_bn is not None:
            x = self.act(self.final_bn(x))
        x = torch.flatten(self.pool(x), 1)
        if self.fixup_biases is not None:
            x = x + self.fixup_biases[1]
        return self.fc(x)


def build_net(
    depth: int,
    block: str,
    shortcut: str = "A",
    width: int = 16,
    num_classes: int = 10,
    init: str = "kaiming_normal",
    seed: int | None = None,
    zero_residual: bool = False,
    norm: str = "batch",
    activation: str = "relu",
    slope: float = 0.01,
    skipinit: bool = False,
    zero_classifier: bool = False,
    zero_residual_padded: bool = False,
) -> CifarNet:
    """Build and initialize a net. With `seed`, the weights depend on nothing but the seed."""
    from resnet_exp.models.init import initialize

    if seed is not None:
        torch.manual_seed(seed)
    model = CifarNet(
        depth,
        block,
        shortcut,
        width,
        num_classes,
        norm=norm,
        activation=activation,
        slope=slope,
        skipinit=skipinit,
        fixup=init == "fixup",
    )
    initialize(
        model,
        init,
        zero_residual,
        activation=activation,
        slope=slope,
        zero_classifier=zero_classifier,
        zero_residual_padded=zero_residual_padded,
    )
    return model
