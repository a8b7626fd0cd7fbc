"""Residual-56 width 8 batch 64, one thread: autocast bf16 NHWC (today) vs fp32 with oneDNN's
implicit bf16 math (torch.backends.mkldnn.conv.fp32_precision='bf16'), NCHW and NHWC. A B C D
alternated, median of 3 windows of 8 steps."""
import sys, time, torch, torch.nn.functional as F
from resnet_exp.models.net import build_net
torch.set_num_threads(1)
depth = int(sys.argv[1]) if len(sys.argv) > 1 else 56
block = sys.argv[2] if len(sys.argv) > 2 else "residual"
def make(variant):
    prec, cl, impl = variant
    m = build_net(depth, block, "A", 8, 10, "kaiming_normal", seed=0)
    mf = torch.channels_last if cl else torch.contiguous_format
    m = m.to(memory_format=mf)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(64, 3, 32, 32).contiguous(memory_format=mf); y = torch.randint(0, 10, (64,))
    def step():
        torch.backends.mkldnn.conv.fp32_precision = "bf16" if impl else "none"
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
            loss = F.cross_entropy(m(x).float(), y)
        opt.zero_grad(); loss.backward(); opt.step()
        return loss
    return step
variants = {"autocast-bf16-nhwc": ("bf16", 1, 0), "fp32-nchw": ("fp32", 0, 0),
            "fp32-nchw-implicit-bf16": ("fp32", 0, 1), "fp32-nhwc-implicit-bf16": ("fp32", 1, 1)}
steps = {k: make(v) for k, v in variants.items()}
for k, s in steps.items():
    for _ in range(4): s()
res = {k: [] for k in variants}
for r in range(3):
    for k, s in steps.items():
        t = time.perf_counter()
        for _ in range(8): s()
        res[k].append(8 * 64 / (time.perf_counter() - t))
for k, v in res.items():
    v.sort(); print(f"{block}-{depth} {k}: {v[1]:.0f} img/s  ({', '.join(f'{x:.0f}' for x in v)})", flush=True)
