"""The paper's CIFAR networks (He et al. 2015, section 4.2)."""

from resnet_exp.models.blocks import PlainBlock, PreActBlock, ResidualBlock
from resnet_exp.models.init import INITIALIZERS, initialize
from resnet_exp.models.net import BLOCKS, CifarNet, build_net, check_depth, count_params
from resnet_exp.models.shortcuts import SHORTCUTS, ProjectionShortcut, ZeroPadShortcut

__all__ = [
    "BLOCKS",
    "INITIALIZERS",
    "SHORTCUTS",
    "CifarNet",
    "PlainBlock",
    "PreActBlock",
    "ProjectionShortcut",
    "ResidualBlock",
    "ZeroPadShortcut",
    "build_net",
    "check_depth",
    "count_params",
    "initialize",
]
