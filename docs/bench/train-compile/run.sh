cd /work/main
. .venv/bin/activate
C="experiment=degradation_cpu data=imagefolder data.root=/work/shared/data/cifar10-jpeg iterations=750 eval_every=750 progress=false out_root=/tmp/ab-out"
for d in 56 20; do
  /usr/bin/time -f "eager d=$d %e s" resnet-exp train $C depth=$d tag=eager
  rm -rf /tmp/torchinductor_root
  /usr/bin/time -f "compile d=$d %e s" resnet-exp train $C depth=$d compile=true tag=compiled
done
echo done
