"""Training batches drawn from device-resident uint8 data, augmented a whole batch at a time.

The paper's augmentation: pad 4 pixels on each side, take a random 32x32 crop, flip horizontally
with probability 1/2; inputs are mean-subtracted per pixel. Padding comes after mean subtraction,
so the padded border is the mean image (zero), as in the original Caffe/Torch pipelines.
All randomness comes from one CPU torch.Generator, so the data order and the augmentations are
the same on CPU and CUDA and can be saved and restored exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


def pixel_mean(train_x: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean image [C, H, W] of the training split, in [0, 1] units."""
    total = torch.zeros(train_x.shape[1:], dtype=torch.float64)
    for chunk in train_x.split(8192):  # chunks keep the float copy small for 50k images
        total += chunk.to(torch.float64).sum(0)
    return (total / (255.0 * len(train_x))).to(torch.float32)


def normalize(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """uint8 [B, C, H, W] -> float32, per-pixel mean subtracted."""
    return x.float().div_(255.0).sub_(mean)


def draw_augmentation(
    batch: int, pad: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop offsets [B, 2] uniform over 0..2*pad (rows, cols) and flip flags [B] with p = 1/2."""
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=gen)
    flips = torch.randint(0, 2, (batch,), generator=gen).bool()
    return offsets, flips


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host -> device without making the host wait for the GPU's queue (pinned, non-blocking)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def augment(
    x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, pad: int = 4
) -> torch.Tensor:
    """Pad-crop-flip a whole float batch with two gathers (no Python loop over images)."""
    b, c, h, w = x.shape
    offsets, flips = offsets.to(x.device), flips.to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # [B, W]
    cols = torch.where(flips[:, None], cols.flip(1), cols)  # reading columns backwards = flip
    out = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * pad))
    return out.gather(3, cols[:, None, None, :].expand(b, c, h, w))


class Batches:
    """Endless training batches: shuffled without replacement each epoch, then augmented.

    The last incomplete batch of an epoch is dropped (every step sees `batch_size` images).
    `state_dict()` captures the data order and augmentation RNG for exact resume.

    With `world_size` > 1 (one training run over several processes), `batch_size` is the global
    batch: every rank draws the whole batch's indices, crops and flips from the same generator
    and keeps its own `batch_size / world_size` slice, so the data order and augmentation are the
    same whatever the number of processes, and the state is the same on every rank.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mean: torch.Tensor,
        batch_size: int,
        seed: int,
        device: torch.device,
        augment: bool = True,
        pad: int = 4,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size > len(x):
            raise ValueError(f"batch_size={batch_size} exceeds the {len(x)} training images")
        if batch_size % world_size:
            raise ValueError(f"batch_size={batch_size} does not split over {world_size} ranks")
        share = batch_size // world_size
        self.slice = slice(rank * share, (rank + 1) * share)
        self.x, self.y = x.to(device), y.to(device)  # resident on the training device, uint8
        self.mean = mean.to(device)
        self.batch_size, self.device, self.do_augment, self.pad = batch_size, device, augment, pad
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(x), generator=self.gen)
        self.pos = 0
        self.epoch = 0

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.pos / len(self.x)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pos + self.batch_size > len(self.x):
            self.perm = torch.randperm(len(self.x), generator=self.gen)
            self.pos, self.epoch = 0, self.epoch + 1
        idx = self.perm[self.pos : self.pos + self.batch_size][self.slice]
        idx = to_device(idx, self.device)
        self.pos += self.batch_size
        xb = normalize(self.x[idx], self.mean)
        if self.do_augment:
            # Drawn for the whole global batch on every rank, whatever this rank keeps.
            offsets, flips = draw_augmentation(self.batch_size, self.pad, self.gen)
            offsets, flips = offsets[self.slice], flips[self.slice]
            xb = augment(
                xb, to_device(offsets, self.device), to_device(flips, self.device), self.pad
            )
        return xb, self.y[idx]

    def state_dict(self) -> dict:
        return {
            "gen": self.gen.get_state(),
            "perm": self.perm.clone(),
            "pos": self.pos,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm, self.pos, self.epoch = (
            state["perm"].clone(),
            int(state["pos"]),
            int(state["epoch"]),
        )


def evaluate_batches(
    x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Un-augmented, mean-subtracted batches in order, for evaluation."""
    mean = mean.to(device)
    for i in range(0, len(x), batch_size):
        yield normalize(x[i : i + batch_size].to(device), mean), y[i : i + batch_size].to(device)
