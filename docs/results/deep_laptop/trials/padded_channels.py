"""Do the channels option A zero-pads ever come alive under init.zero_residual? (session 17)

A stage's first block adds channels that its shortcut fills with zeros. Before 4074a8c,
init.zero_residual zeroed the branch of those channels too (bn2's gamma, or a preact block's last
conv), so they started exactly zero. This prints, per stage of each checkpoint, the mean magnitude
of the branch's last zero-started weights in the channels the shortcut carries and in the channels
it pads, after training. An exact 0.0 in the padded channels means they never got a gradient.

    python padded_channels.py CHECKPOINT [CHECKPOINT ...]   > padded_channels.txt
"""

import sys

import torch

from resnet_exp.models.net import build_net

if __name__ == "__main__":
    for path in sys.argv[1:]:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        name = ck["name"]
        block = name.split("-")[0]
        depth = int(name.split("_")[0].split("-")[1])
        net = build_net(depth, block, width=8)
        net.load_state_dict(ck["trainer"]["model"])
        print(f"{name} at iteration {ck['trainer']['iteration']}")
        for s, stage in enumerate(net.stages):
            cin = stage[0].conv1.in_channels
            if block == "preact":  # per output channel: the norm of the last conv's filter
                w = torch.stack([b.conv2.weight.detach().flatten(1).norm(dim=1) for b in stage])
            else:
                w = torch.stack([b.bn2.weight.detach().abs() for b in stage])
            padded = (
                f"padded channels {cin}-{w.shape[1] - 1}: mean {w[:, cin:].mean():.4f}, "
                f"max {w[:, cin:].max():.4f}"
                if w.shape[1] > cin
                else "no padded channels"
            )
            print(
                f"  stage {s + 1}: carried channels 0-{cin - 1}: mean {w[:, :cin].mean():.4f}; {padded}"
            )
