#!/usr/bin/env bash
# After deep16.sh: deep_laptop with both zero-inits (residual branches and classifier), seeds 0 and 1,
# code at d956668 (init.zero_classifier), each timed whole.
while pgrep -f deep16.sh > /dev/null; do sleep 10; done
cd /work/main
for s in 0 1; do
  /usr/bin/time -v .venv/bin/resnet-exp train -m experiment=deep_laptop init.zero_residual=true \
    init.zero_classifier=true sweep_name=deep_laptop_zero_init data=imagefolder \
    data.root=/work/shared/data/cifar10-jpeg progress=false seed=$s > /work/fx/zinit-seed$s.log 2>&1
done
