"""Where do the shifts (BN betas) at the end of each residual branch go? (session 17)

In the paper's post-activation block, y = relu(x + BN2(conv2(...))): the beta of the branch's last
BatchNorm (bn2) adds straight onto the identity path, and along that path every block of a stage
receives nearly the same gradient. This prints, per stage of each checkpoint, the mean of those
betas, the fraction that are negative, and their sum over the stage's blocks per channel (what
they add together to the identity path before the stage's last ReLU), plus the bn2 gammas. The
pre-activation block has no BatchNorm on the identity path: its bn2 sits inside the branch, before
a ReLU and a conv, and is printed for comparison.

    python bn_shift.py CHECKPOINT [CHECKPOINT ...]   > bn_shift.txt
"""

import sys

import torch

from resnet_exp.models.net import build_net


def show(net: torch.nn.Module, label: str) -> None:
    print(label)
    for s, stage in enumerate(net.stages):
        beta = torch.stack([b.bn2.bias.detach() for b in stage])  # blocks x channels
        gamma = torch.stack([b.bn2.weight.detach() for b in stage])
        total = beta.sum(0)
        print(
            f"  stage {s + 1} ({len(stage)} blocks, {beta.shape[1]} channels): bn2 beta mean "
            f"{beta.mean():+.4f}, {(beta < 0).float().mean():.1%} negative; summed over the "
            f"blocks, per channel {total.min():+.2f} to {total.max():+.2f}; bn2 |gamma| mean "
            f"{gamma.abs().mean():.3f}"
        )


if __name__ == "__main__":
    for path in sys.argv[1:]:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        name = ck["name"]
        block = "preact" if name.startswith("preact") else "residual"
        depth = int(name.split("_")[0].split("-")[1])
        net = build_net(depth, block, width=8)
        net.load_state_dict(ck["trainer"]["model"])
        show(net, f"{name} at iteration {ck['trainer']['iteration']}")
