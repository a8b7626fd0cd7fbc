"""Lesion study (Veit, Wilber and Belongie 2016, arXiv 1605.06431): delete blocks of a trained
net and measure its test error.

A deleted residual or pre-activation block becomes its shortcut (relu(shortcut(x)) for the
paper's block, shortcut(x) for pre-activation), which is always possible, downsampling blocks
included. A deleted plain block becomes the identity, which is only possible where its input and
output have the same shape: the first block of stages 2 and 3 (stride 2, twice the channels)
cannot be deleted. If residual nets behave like ensembles of shallower paths, deleting one block
costs them little (except at the downsampling blocks), and deleting k blocks degrades them
smoothly; a plain net, one long path, collapses.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch
from torch import nn

from resnet_exp.models.net import CifarNet


@dataclass
class BlockInfo:
    stage: int  # 1-3
    block: int  # index within its stage (0-based)
    downsampling: bool  # the first block of stages 2 and 3
    deletable: bool
    why_not: str  # empty when deletable

    @property
    def label(self) -> str:
        return f"{self.stage}.{self.block}"


def block_list(model: CifarNet) -> list[tuple[BlockInfo, nn.Module]]:
    out = []
    for s, stage in enumerate(model.stages, start=1):
        for b, blk in enumerate(stage):
            down = s > 1 and b == 0
            why = (
                "" if blk.deletable else "input and output shapes differ (stride 2, more channels)"
            )
            out.append((BlockInfo(s, b, down, blk.deletable, why), blk))
    return out


@torch.inference_mode()
def error_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 error of `model` in evaluation mode (BN running statistics) on (x, y)."""
    model.eval()
    wrong = 0
    for i in range(0, len(y), batch_size):
        wrong += int((model(x[i : i + batch_size]).argmax(1) != y[i : i + batch_size]).sum())
    return wrong / len(y)


def _with_deleted(blocks: list[nn.Module], chosen: list[int]) -> None:
    for i, blk in enumerate(blocks):
        blk.deleted = i in chosen


def lesion_study(
    model: CifarNet,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    max_k: int | None = None,
    draws: int = 5,
    seed: int = 0,
    batch_size: int = 500,
    report=None,
) -> dict:
    """Test error with no block deleted, with each block deleted in turn, and with k random
    deletable blocks deleted (k = 1..max_k, `draws` seeded draws each). Works on a copy."""
    net = copy.deepcopy(model)
    pairs = block_list(net)
    infos, blocks = [p[0] for p in pairs], [p[1] for p in pairs]
    deletable = [i for i, info in enumerate(infos) if info.deletable]
    _with_deleted(blocks, [])
    baseline = error_rate(net, x, y, batch_size)
    single = []
    for i, info in enumerate(infos):
        row = {**info.__dict__, "label": info.label, "error": None}
        if info.deletable:
            _with_deleted(blocks, [i])
            row["error"] = error_rate(net, x, y, batch_size)
        single.append(row)
        if report is not None:
            report("single", row)
    if max_k is None:
        max_k = max(1, len(deletable) // 2)
    max_k = min(max_k, len(deletable))
    rng = random.Random(seed)
    multi = []
    for k in range(1, max_k + 1):
        errors, chosen_sets = [], []
        for _ in range(draws):
            chosen = sorted(rng.sample(deletable, k))
            _with_deleted(blocks, chosen)
            errors.append(error_rate(net, x, y, batch_size))
            chosen_sets.append([infos[i].label for i in chosen])
        mean = sum(errors) / len(errors)
        spread = (
            (sum((e - mean) ** 2 for e in errors) / (len(errors) - 1)) ** 0.5
            if len(errors) > 1
            else 0.0
        )
        row = {"k": k, "errors": errors, "mean": mean, "std": spread, "deleted": chosen_sets}
        multi.append(row)
        if report is not None:
            report("random", row)
    _with_deleted(blocks, [])
    return {
        "baseline_error": baseline,
        "blocks": len(infos),
        "deletable": len(deletable),
        "single": single,
        "random": multi,
        "draws": draws,
        "seed": seed,
    }
