import time, sys, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)
dtype = torch.bfloat16 if sys.argv[1] == "bf16" else torch.float32

def bn_relu(x, w, b):
    # training-mode BN with batch statistics, then ReLU; stats in fp32
    xf = x.float()
    var, mean = torch.var_mean(xf, dim=(0, 2, 3), keepdim=True, correction=0)
    invstd = torch.rsqrt(var + 1e-5)
    y = (xf - mean) * invstd * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
    return y.to(x.dtype), mean, var

cbn = torch.compile(bn_relu, dynamic=False)
shapes = [(64, 8, 32, 32), (64, 16, 16, 16), (64, 32, 8, 8), (128, 16, 32, 32), (128, 32, 16, 16), (128, 64, 8, 8)]
for shape in shapes:
    res = {}
    for name in ["native_nhwc", "compiled_nhwc"]:
        x = torch.randn(*shape, dtype=dtype).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        g = torch.randn(*shape, dtype=dtype).contiguous(memory_format=torch.channels_last)
        bn = nn.BatchNorm2d(shape[1])
        def run():
            if name.startswith("native"):
                y = bn(x)
            else:
                y = cbn(x, bn.weight, bn.bias)[0]
            y.backward(g)
        t0 = time.perf_counter()
        for _ in range(3): run()
        tc = time.perf_counter() - t0
        t = time.perf_counter(); n = 50
        for _ in range(n): run()
        res[name] = (time.perf_counter() - t) / n * 1e3
    print(shape, dtype, " ".join(f"{k}={v:.3f}ms" for k, v in res.items()), f"first3={tc:.1f}s", flush=True)
