"""resnet-exp: reproduce the degradation problem of He et al. (2015) on CIFAR."""

__version__ = "0.1.0"
