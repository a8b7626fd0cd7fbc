"""Evaluation cost against batch size (issue 24): python eval_batch.py THREADS (2000 images; times are per 2000 although the line says 10k)."""
import time, sys, torch
from resnet_exp.models.net import build_net
from resnet_exp.data.pipeline import evaluate_batches
torch.set_num_threads(int(sys.argv[1]))
x=torch.randint(0,255,(2000,3,32,32),dtype=torch.uint8); y=torch.randint(0,10,(2000,)); mean=torch.zeros(3,32,32)
for net in ("residual-56",):
  b,d=net.split("-")
  m=build_net(int(d),b,"A",8,10,"kaiming_normal",seed=0).eval()
  for prec in ("bf16",):
    for cl in (True,):
      mf=torch.channels_last if cl else torch.contiguous_format
      m=m.to(memory_format=mf)
      for bs in (200,500,1000,2000):
        def ev():
          with torch.inference_mode(), torch.autocast("cpu",dtype=torch.bfloat16,enabled=prec=="bf16"):
            for xb,yb in evaluate_batches(x,y,mean,bs,torch.device("cpu")):
              m(xb.contiguous(memory_format=mf)).float().argmax(1)
        ev(); t=time.perf_counter(); ev(); s=time.perf_counter()-t
        print(f"{net} {prec} cl={cl} bs={bs}: {s:.2f} s / 10k", flush=True)
