import sys, time, torch, torch.nn.functional as F, statistics as st
from resnet_exp.models.net import build_net
torch.set_num_threads(2)
prec = sys.argv[1]; depth = int(sys.argv[2]); width=int(sys.argv[3]); batch=int(sys.argv[4])
CL = torch.channels_last
def make(compiled):
    torch.manual_seed(0)
    m = build_net(depth, "residual", width=width).to(memory_format=CL)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    run = torch.compile(m) if compiled else m
    return m, run, opt
x0 = torch.randn(batch, 3, 32, 32).contiguous(memory_format=CL); y = torch.randint(0, 10, (batch,))
V = {"eager": make(False), "compiled": make(True)}
def step(v):
    m, run, opt = V[v]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16"):
        loss = F.cross_entropy(run(x0).float(), y)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
t=time.perf_counter(); step("compiled"); print("first compiled step", round(time.perf_counter()-t,1), "s", flush=True)
for v in V:
    for _ in range(3): step(v)
res = {v: [] for v in V}
for rnd in range(4):
    for v in V:
        t = time.perf_counter()
        for _ in range(6): step(v)
        res[v].append(6 * batch / (time.perf_counter() - t))
print(prec, depth, width, batch, {v: round(st.median(r)) for v, r in res.items()}, flush=True)
