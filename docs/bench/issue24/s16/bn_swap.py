import time, sys, torch, torch.nn as nn
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
dtype = torch.bfloat16 if (len(sys.argv) > 2 and sys.argv[2] == "bf16") else torch.float32
CL = torch.channels_last

class ToNCHW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.contiguous()
    @staticmethod
    def backward(ctx, g):
        return g.contiguous(memory_format=CL)

class ToNHWC(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.contiguous(memory_format=CL)
    @staticmethod
    def backward(ctx, g):
        return g.contiguous()

shapes = [(64, 8, 32, 32), (64, 16, 16, 16), (64, 32, 8, 8), (128, 16, 32, 32), (128, 32, 16, 16), (128, 64, 8, 8), (32, 8, 32, 32)]
for shape in shapes:
    res = {}
    for name in ["nhwc", "nchw", "swap_plain", "swap_fn"]:
        x = torch.randn(*shape, dtype=dtype)
        if name != "nchw":
            x = x.contiguous(memory_format=CL)
        x.requires_grad_(True)
        bn = nn.BatchNorm2d(shape[1])
        g = torch.randn(*shape, dtype=dtype)
        if name != "nchw":
            g = g.contiguous(memory_format=CL)
        def run():
            if name in ("nhwc", "nchw"):
                y = bn(x)
            elif name == "swap_plain":
                y = bn(x.contiguous()).contiguous(memory_format=CL)
            else:
                y = ToNHWC.apply(bn(ToNCHW.apply(x)))
            y.backward(g)
        for _ in range(5): run()
        best = 1e9
        for rep in range(3):
            t = time.perf_counter(); n = 30
            for _ in range(n): run()
            best = min(best, (time.perf_counter() - t) / n * 1e3)
        res[name] = best
    print(shape, dtype, " ".join(f"{k}={v:.3f}" for k, v in res.items()), flush=True)
