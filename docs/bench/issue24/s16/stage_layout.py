"""Trial: per-stage memory layout / BN layout swap. python stage_layout.py THREADS PREC NET BATCH WIDTH"""
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
from resnet_exp.models.net import build_net
torch.set_num_threads(int(sys.argv[1]))
prec, net, batch, width = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
block, depth = net.split("-")
CL = torch.channels_last

class ToNCHW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x): return x.contiguous()
    @staticmethod
    def backward(ctx, g): return g.contiguous(memory_format=CL)

class ToNHWC(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x): return x.contiguous(memory_format=CL)
    @staticmethod
    def backward(ctx, g): return g.contiguous()

class SwapBN(nn.BatchNorm2d):
    def forward(self, x):
        return ToNHWC.apply(super().forward(ToNCHW.apply(x)))

def make(variant):
    torch.manual_seed(0)
    m = build_net(int(depth), block, width=width)
    if variant == "s1nchw":
        s = m.stages
        m.stages = nn.Sequential(s[0], type("L", (nn.Module,), {"forward": lambda self, x: ToNHWC.apply(x)})(), s[1], s[2])
    if variant == "swapbn1":
        for mod in [m.bn1] + [x for x in m.stages[0].modules()]:
            if isinstance(mod, nn.BatchNorm2d):
                mod.__class__ = SwapBN
    fmt = torch.contiguous_format if variant in ("nchw", "s1nchw") else CL
    m = m.to(memory_format=CL if variant not in ("nchw",) else torch.contiguous_format)
    if variant == "s1nchw":
        m.conv1.to(memory_format=torch.contiguous_format)
        for mod in m.stages[0].modules():
            if isinstance(mod, nn.Conv2d): mod.to(memory_format=torch.contiguous_format)
    return m, fmt

variants = ["nhwc", "s1nchw", "swapbn1", "nchw"]
models = {v: make(v) for v in variants}
opt = {v: torch.optim.SGD(models[v][0].parameters(), lr=0.01, momentum=0.9) for v in variants}
x0 = torch.randn(batch, 3, 32, 32); y = torch.randint(0, 10, (batch,))
def step(v):
    m, fmt = models[v]
    x = x0.contiguous(memory_format=fmt)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
        loss = F.cross_entropy(m(x).float(), y)
    opt[v].zero_grad(set_to_none=True); loss.backward(); opt[v].step()
for v in variants:
    for _ in range(3): step(v)
res = {v: [] for v in variants}
for rnd in range(4):  # alternate variants, 8-step windows
    for v in variants:
        t = time.perf_counter()
        for _ in range(8): step(v)
        res[v].append(8 * batch / (time.perf_counter() - t))
import statistics as st
print(net, prec, f"w{width} b{batch} t{sys.argv[1]}", " ".join(f"{v}={st.median(r):.0f}" for v, r in res.items()), flush=True)
