"""One training run over several processes (torchrun + DistributedDataParallel).

`Dist` is what the trainer needs to know about its process group: its rank, how many ranks
there are, and three collectives (sum, any, barrier). A single process gets `Dist()`, whose
collectives do nothing, so the one-process path stays exactly what it was.

What makes a K-process run the same run as a one-process run of the same global batch:
- every rank draws the whole global batch (indices, crops, flips) from the same generator and
  keeps its own slice (data.pipeline.Batches), so the data order is the same whatever K is;
- DDP averages the gradients of per-rank mean losses over equal slices: the global mean;
- `sync_bn=true` normalizes over the global batch (GlobalBatchNorm2d); by default each rank
  normalizes over its own slice, as DDP does, which changes the result with K;
- anything that decides what happens next (divergence, warm-up's end, a stop) is agreed on by
  all ranks at the same iteration, so they never leave a collective behind.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from resnet_exp.errors import UserError
from resnet_exp.train.jobs import launched_by_torchrun

# GlobalBatchNorm2d uses torch.distributed.nn.functional.all_reduce, deprecated in favour of a
# functional collective that has no autograd on gloo yet.
warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_reduce")


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum_(self, t: torch.Tensor) -> torch.Tensor:
        """Sum `t` over ranks, in place (no-op for one process)."""
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if `flag` is true on any rank."""
        if not self.active:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def min_int(self, value: int, device: torch.device) -> int:
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def start(device_type: str) -> Dist:
    """The process group torchrun described in the environment (or `Dist()` without torchrun).

    gloo on CPU, NCCL on CUDA; each rank takes the GPU of its local rank."""
    if not launched_by_torchrun():
        return Dist()
    d = Dist(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if device_type == "cuda":
        if d.local_rank >= torch.cuda.device_count():
            raise UserError(
                f"torchrun started {os.environ.get('LOCAL_WORLD_SIZE', '?')} processes on this node but it has {torch.cuda.device_count()} GPUs; use --nproc_per_node={torch.cuda.device_count()} or fewer"
            )
        torch.cuda.set_device(d.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return d


def stop(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def check_batch_split(batch_size: int, world_size: int) -> int:
    """The configured batch is the global one; every rank takes an equal share."""
    if batch_size % world_size:
        raise UserError(
            f"batch_size={batch_size} cannot be split evenly over {world_size} processes; use a multiple of {world_size}, or another --nproc_per_node"
        )
    return batch_size // world_size


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the global batch: each rank's per-channel sum and sum of squares are
    summed over ranks (autograd-aware, so gradients flow through the global statistics too).

    torch.nn.SyncBatchNorm does the same on GPUs only; this one runs on any backend, gloo on
    CPU included, which is how the test suite checks it against one process. Same parameters
    and buffers as nn.BatchNorm2d, so checkpoints move freely between K=1 and K>1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        xf = x.float()  # statistics in fp32 even under bf16 autocast
        count = torch.tensor([x.numel() / c], dtype=torch.float32, device=x.device)
        local = torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count])
        total = all_reduce(local)
        n = total[2 * c]
        mean = total[:c] / n
        # Biased, as BatchNorm normalizes with; clamped, since E[x^2] - mean^2 can round below 0.
        var = (total[c : 2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
            self.num_batches_tracked.add_(1)
        scale = self.weight * torch.rsqrt(var + self.eps)
        shift = self.bias - mean * scale
        return (xf * scale[None, :, None, None] + shift[None, :, None, None]).to(x.dtype)


def global_batchnorm(model: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d for a GlobalBatchNorm2d holding the same tensors (in place)."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            if child.momentum is None:
                raise ValueError("GlobalBatchNorm2d needs a BatchNorm momentum (got None)")
            g = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum)
            g.load_state_dict(child.state_dict())
            g.to(child.weight.device)
            setattr(model, name, g)
        else:
            global_batchnorm(child)
    return model
