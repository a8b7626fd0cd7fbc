"""The classifier's input and output at initialization, post-activation against pre-activation
residual nets (width 8, the paper's He init, BatchNorm in training mode, one batch of 32
standard-normal images, seed 0). Why the post-activation 1202 starts with a huge loss: nothing
normalizes the sum of its 600 branches before the classifier.
    .venv/bin/python docs/results/deep_laptop/trials/init_logits.py
"""

import torch
import torch.nn.functional as F

from resnet_exp.models.net import build_net

torch.manual_seed(0)
x = torch.randn(32, 3, 32, 32)
y = torch.randint(0, 10, (32,))
for depth in (110, 1202):
    for block in ("residual", "preact"):
        model = build_net(depth, block, width=8, seed=0).train()
        seen = {}
        model.fc.register_forward_hook(lambda mod, inp, out: seen.update(features=inp[0]))
        with torch.no_grad():
            logits = model(x)
            loss = F.cross_entropy(logits, y).item()
        print(
            f"{block}-{depth}: classifier input std {seen['features'].std():.2f}, "
            f"logits std {logits.std():.2f}, loss {loss:.2f} (chance: ln 10 = 2.30)"
        )
