"""`resnet-exp bench`: settings -> the two training paths -> timing -> projection -> output."""

from resnet_exp.bench.cli import main

__all__ = ["main"]
