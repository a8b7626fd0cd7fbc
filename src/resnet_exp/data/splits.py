"""The splits a run trains and evaluates on: the source loaded, then validation and subsets
carved with a fixed generator (the same for every run of a sweep). Training and the analyses of
trained runs (probe, lesion) both read data through this."""

from __future__ import annotations

import torch

from resnet_exp.data.sources import Dataset, load_dataset
from resnet_exp.errors import UserError
from resnet_exp.specs import DataSpec

SPLIT_SEED = 20151210  # fixed: every run of a sweep sees the same subset and validation split


def prepare_data(
    spec: DataSpec, seed: int
) -> tuple[Dataset, dict[str, tuple[torch.Tensor, torch.Tensor]], int]:
    """Load the source, then carve validation and subsets with a fixed generator."""
    ds = load_dataset(
        spec.source,
        spec.root,
        download=spec.download,
        verify=spec.verify,
        image_size=spec.image_size,
        cache_dir=spec.cache_dir,
        synthetic_train_size=spec.synthetic_train_size,
        synthetic_test_size=spec.synthetic_test_size,
        num_classes=spec.num_classes,
        seed=seed,
    )
    g = torch.Generator().manual_seed(SPLIT_SEED)
    order = torch.randperm(len(ds.train_x), generator=g)
    if spec.val_size >= len(order):
        raise UserError(
            f"data.val_size={spec.val_size} leaves no training images (train split has {len(order)})"
        )
    val_idx, train_idx = order[: spec.val_size], order[spec.val_size :]
    if spec.train_subset is not None:
        train_idx = train_idx[: spec.train_subset]
    test_idx = torch.arange(len(ds.test_x))
    if spec.test_subset is not None:
        test_idx = torch.randperm(len(ds.test_x), generator=g)[: spec.test_subset]
    splits = {
        "train": (ds.train_x[train_idx], ds.train_y[train_idx]),
        "test": (ds.test_x[test_idx], ds.test_y[test_idx]),
    }
    if len(val_idx):
        splits["val"] = (ds.train_x[val_idx], ds.train_y[val_idx])
    return ds, splits, ds.num_classes


def sample_split(data: DataSpec, split: str, count: int | None, seed: int, data_seed: int = 0):
    """(x, y, num_classes): `count` images of `split` drawn with `seed` (all, in order, if None),
    mean-subtracted with the training split's per-pixel mean, as training sees them (no
    augmentation). The probe's batch and the lesions' test images."""
    from resnet_exp.data.pipeline import normalize, pixel_mean

    _, splits, num_classes = prepare_data(data, data_seed)
    if split not in splits:
        raise UserError(f"the run's data has no {split} split")
    x_all, y_all = splits[split]
    idx = torch.arange(len(x_all))
    if count is not None:
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(x_all), generator=g)[: min(count, len(x_all))]
    return normalize(x_all[idx], pixel_mean(splits["train"][0])), y_all[idx], num_classes
