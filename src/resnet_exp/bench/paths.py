"""The two ways of training the same net that the bench compares, each ready to step.

* resnet-exp: `Trainer.step()` over `Batches` (uint8 data resident on the device, one batched
  crop/flip per step), with the product's per-device defaults for channels_last and precision.
* baseline: the common way, a torchvision-style CIFAR `Dataset` (HWC uint8 numpy, PIL transforms),
  a `DataLoader` with workers, eager fp32 NCHW, `.to(device)` per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torch.utils.flop_counter import FlopCounterMode

from resnet_exp.bench.settings import Resolved, Settings
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import Dataset
from resnet_exp.models.net import build_net
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train.loop import Trainer

# The per-channel CIFAR-10 statistics that torchvision-style training scripts hard-code.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Net:
    block: str
    depth: int

    def name(self, width: int) -> str:
        return f"{self.block}-{self.depth}" + ("" if width == 16 else f"-w{width}")


@dataclass
class Prepared:
    """One path, ready to step: `step()` runs one training step, data loading included."""

    step: Callable[[], None]
    forward_flops: float
    train_flops: float
    config: dict
    close: Callable[[], None] = field(default=lambda: None)


def count_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(forward, forward+backward) FLOPs per image of one training batch, from FlopCounterMode.

    It counts matmuls and convolutions (2 FLOPs per multiply-add); BN, ReLU and additions are not
    counted. Run on the eager model so the count does not depend on compile or autocast.
    """
    model.train()
    with FlopCounterMode(display=False) as fwd_counter:
        loss = F.cross_entropy(model(x), y)
    with FlopCounterMode(display=False) as bwd_counter:
        loss.backward()
    model.zero_grad(set_to_none=True)
    fwd = fwd_counter.get_total_flops()
    return fwd / len(x), (fwd + bwd_counter.get_total_flops()) / len(x)


def make_model(s: Settings, net: Net, num_classes: int) -> nn.Module:
    # Same seed for both paths: the same initial weights, so both train the same net.
    return build_net(net.depth, net.block, s.shortcut, s.width, num_classes, seed=s.seed)


def prepare_resnet_exp(s: Settings, r: Resolved, net: Net, data: Dataset) -> Prepared:
    """The product's own step: Trainer over Batches, no evaluation sets."""
    mean = pixel_mean(data.train_x)
    batches = Batches(data.train_x, data.train_y, mean, s.batch_size, s.seed, r.device)
    memory_format = torch.channels_last if r.channels_last else torch.contiguous_format
    model = make_model(s, net, data.num_classes).to(r.device, memory_format=memory_format)
    x, y = batches.next()
    fwd, train = count_flops(model, x.contiguous(memory_format=memory_format), y)
    loop = LoopSpec(
        batch_size=s.batch_size,
        seed=s.seed,
        device=str(r.device),
        precision=r.precision,
        channels_last=r.channels_last,
        threads=s.threads,
        compile=s.compile_mode if s.compile else None,
        progress=False,
    )
    trainer = Trainer(model, batches, [], mean, OptimSpec(), loop, r.device, r.channels_last)
    config = {
        **r.to_json(),
        "compile": s.compile,
        "compile_mode": s.compile_mode if s.compile else None,
        "data": "device-resident uint8, batched crop/flip on the device",
    }
    return Prepared(trainer.step, fwd, train, config)


class CifarLikeDataset(TorchDataset):
    """What torchvision.datasets.CIFAR10 holds and returns: HWC uint8 numpy in, PIL through
    `transform` out, one image per __getitem__."""

    def __init__(self, data: np.ndarray, targets: list[int], transform: Callable) -> None:
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def baseline_loader(s: Settings, device: torch.device, data: Dataset) -> DataLoader:
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    images = data.train_x.permute(0, 2, 3, 1).contiguous().numpy()  # NCHW -> NHWC like CIFAR10
    dataset = CifarLikeDataset(images, data.train_y.tolist(), transform)
    return DataLoader(
        dataset,
        batch_size=s.batch_size,
        shuffle=True,
        num_workers=s.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=s.num_workers > 0,
        drop_last=True,  # every step sees batch_size images, as with Batches
    )


def endless(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The usual `for epoch: for x, y in loader` loop, flattened into one stream of batches."""
    while True:
        yield from loader


def prepare_baseline(s: Settings, r: Resolved, net: Net, data: Dataset) -> Prepared:
    device = r.device
    torch.manual_seed(s.seed)  # the DataLoader's shuffle order
    loader = baseline_loader(s, device, data)
    stream = endless(loader)
    model = make_model(s, net, data.num_classes).to(device)
    o = OptimSpec()  # the product's SGD hyperparameters (lr 0.1, momentum 0.9, wd 1e-4)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
    )
    x, y = next(stream)
    fwd, train = count_flops(model, x.to(device), y.to(device))

    def step() -> None:
        x, y = next(stream)
        x, y = x.to(device), y.to(device)
        model.train()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def close() -> None:
        # Ends the epoch loop; the loader and its persistent workers go with the last reference.
        stream.close()

    config = {
        "device": str(device),
        "channels_last": False,
        "precision": "fp32",
        "compile": False,
        "num_workers": s.num_workers,
        "pin_memory": device.type == "cuda",
        "data": "torchvision-style Dataset (PIL transforms) + DataLoader, .to(device) per batch",
    }
    return Prepared(step, fwd, train, config, close)


PREPARE: dict[str, Callable[[Settings, Resolved, Net, Dataset], Prepared]] = {
    "resnet-exp": prepare_resnet_exp,
    "baseline": prepare_baseline,
}
