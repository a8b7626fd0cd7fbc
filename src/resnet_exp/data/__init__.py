"""Datasets as in-memory uint8 tensors, and batched augmentation on the training device."""

from resnet_exp.data.pipeline import Batches, augment, evaluate_batches, pixel_mean
from resnet_exp.data.sources import SOURCES, Dataset, load_dataset

__all__ = [
    "SOURCES",
    "Batches",
    "Dataset",
    "augment",
    "evaluate_batches",
    "load_dataset",
    "pixel_mean",
]
