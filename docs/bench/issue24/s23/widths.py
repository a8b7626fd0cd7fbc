"""Residual/plain-56 at widths 8, 6, 4 (batch 64, one thread, bf16 autocast + channels_last as the
laptop presets run), alternated, median of 3 windows of 8 steps."""
import sys, time, torch, torch.nn.functional as F
from resnet_exp.models.net import build_net
torch.set_num_threads(1)
depth = int(sys.argv[1]); block = sys.argv[2]; widths = [int(w) for w in sys.argv[3].split(",")]
cl = (sys.argv[4] if len(sys.argv) > 4 else "1") == "1"
def make(width):
    m = build_net(depth, block, "A", width, 10, "kaiming_normal", seed=0)
    mf = torch.channels_last if cl else torch.contiguous_format
    m = m.to(memory_format=mf)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(64, 3, 32, 32).contiguous(memory_format=mf); y = torch.randint(0, 10, (64,))
    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(m(x).float(), y)
        opt.zero_grad(); loss.backward(); opt.step()
    return step
steps = {w: make(w) for w in widths}
for s in steps.values():
    for _ in range(4): s()
res = {w: [] for w in widths}
for r in range(3):
    for w, s in steps.items():
        t = time.perf_counter()
        for _ in range(8): s()
        res[w].append(8 * 64 / (time.perf_counter() - t))
for w, v in res.items():
    v.sort(); print(f"{block}-{depth} width {w} cl={int(cl)}: {v[1]:.0f} img/s  ({', '.join(f'{x:.0f}' for x in v)})", flush=True)
