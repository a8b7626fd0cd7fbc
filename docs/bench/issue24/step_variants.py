"""Step timings of one net in several variants (issue 24 exploration): python step_variants.py DEPTH,BLOCK,WIDTH,BATCH,PREC,CHANNELS_LAST(0/1),COMPILE(0/1),THREADS ..."""
import time, torch, torch.nn.functional as F, sys
from resnet_exp.models.net import build_net
torch.set_num_threads(2)
def bench(depth,block,width,bs,prec,cl,comp=False,threads=2):
    torch.set_num_threads(threads)
    m=build_net(depth,block,"A",width,10,"kaiming_normal",seed=0)
    mf=torch.channels_last if cl else torch.contiguous_format
    m=m.to(memory_format=mf)
    run=torch.compile(m) if comp else m
    opt=torch.optim.SGD(m.parameters(),lr=0.05,momentum=0.9,weight_decay=1e-4)
    x=torch.randn(bs,3,32,32).contiguous(memory_format=mf); y=torch.randint(0,10,(bs,))
    def step():
        with torch.autocast("cpu",dtype=torch.bfloat16,enabled=prec=="bf16"):
            loss=F.cross_entropy(run(x).float(),y)
        opt.zero_grad(); loss.backward(); opt.step()
    t0=time.perf_counter()
    for _ in range(5): step()
    wu=time.perf_counter()-t0
    ts=[]
    for w in range(3):
        t=time.perf_counter()
        for _ in range(8): step()
        ts.append(8*bs/(time.perf_counter()-t))
    ts.sort(); print(f"{block}-{depth} w{width} b{bs} {prec} cl={cl} compile={comp} thr={threads}: {ts[1]:.0f} img/s (warmup {wu:.1f}s)",flush=True)
for args in sys.argv[1:]:
    d,b,w,bs,p,cl,c,th=args.split(",")
    bench(int(d),b,int(w),int(bs),p,cl=="1",c=="1",int(th))
