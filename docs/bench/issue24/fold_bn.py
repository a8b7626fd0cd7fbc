"""BatchNorm folded into the convolutions for evaluation, timed against the plain eval model (issue 24; not adopted)."""
import copy, time, torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from resnet_exp.models.net import build_net
torch.set_num_threads(1)
m=build_net(56,"residual","A",8,10,"kaiming_normal",seed=0).eval()
def fold(m):
    f=copy.deepcopy(m)
    for mod in list(f.modules()):
        for i in ("1","2"):
            c,b=getattr(mod,"conv"+i,None),getattr(mod,"bn"+i,None)
            if isinstance(c,nn.Conv2d) and isinstance(b,nn.BatchNorm2d):
                setattr(mod,"conv"+i,fuse_conv_bn_eval(c,b)); setattr(mod,"bn"+i,nn.Identity())
    return f
x=torch.randn(1000,3,32,32).contiguous(memory_format=torch.channels_last)
for name,mm in (("plain",m),("fold",fold(m))):
    mm=mm.to(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu",dtype=torch.bfloat16):
        mm(x); t=time.perf_counter(); [mm(x) for _ in range(3)]; print(name,(time.perf_counter()-t)/3*10,"s/10k")
with torch.inference_mode():
    print((m(x)-fold(m)(x)).abs().max())
t=time.perf_counter(); fold(m); print("fold time",time.perf_counter()-t)
