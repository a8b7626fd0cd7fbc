"""Where does the paper's residual-1202 go when it "collapses"? (session 16)

Loads residual-1202 checkpoints (width 8) of the deep_laptop trials and, on 128 real training
images in training mode (batch statistics, as in training), counts the (image, channel) feature
maps that are zero at every pixel at chosen blocks' outputs (each block ends in a ReLU), and how
much the classifier's pooled features and logits still vary from image to image. The freshly
initialized net (seed 0) is the first row.

    python dead_features.py DATA_ROOT CHECKPOINT [CHECKPOINT ...]

DATA_ROOT: the CIFAR-10 ImageFolder copy (split/class/*.jpg). Output: dead_features.txt.
"""

import glob
import random
import sys

import numpy as np
import torch
from PIL import Image

from resnet_exp.models.net import build_net

BLOCKS = (0, 199, 399, 590, 595, 597, 598, 599)  # of 600


def images(root: str, n: int = 128) -> torch.Tensor:
    random.seed(0)
    files = random.sample(sorted(glob.glob(f"{root}/train/*/*.jpg")), n)
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255 for f in files])
    x = torch.tensor(x).permute(0, 3, 1, 2)
    return x - x.mean(0, keepdim=True)  # the batch's own per-pixel mean, for the trial only


def diagnose(model: torch.nn.Module, x: torch.Tensor, label: str) -> None:
    model.train()
    outs: list[torch.Tensor] = []
    blocks = [b for stage in model.stages for b in stage]
    for b in blocks:
        b.register_forward_hook(lambda _m, _i, o: outs.append(o))
    with torch.no_grad():
        logits = model(x)
    dead = {i: round(float((outs[i].flatten(2).amax(2) == 0).float().mean()), 3) for i in BLOCKS}
    pooled = torch.flatten(model.pool(outs[-1]), 1)
    print(
        f"{label}: dead maps at blocks {dead}; pooled feature std across images "
        f"{pooled.std(0).mean():.4f}; logit std across images {logits.std(0).mean():.4f}; "
        f"mean top probability {logits.softmax(1).max(1).values.mean():.3f}",
        flush=True,
    )


if __name__ == "__main__":
    x = images(sys.argv[1])
    diagnose(build_net(1202, "residual", width=8, seed=0), x, "at initialization (seed 0)")
    for path in sys.argv[2:]:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        net = build_net(1202, "residual", width=8)
        net.load_state_dict(ck["trainer"]["model"])
        diagnose(net, x, f"{ck['name']} at iteration {ck['trainer']['iteration']}")
