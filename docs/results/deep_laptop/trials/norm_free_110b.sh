#!/usr/bin/env bash
set -u
cd /work/trial
export PYTHONPATH=/work/trial/src
RX=/work/main/.venv/bin/resnet-exp
COMMON="experiment=deep_laptop depth=110 block=residual norm=none init=fixup threads=1 data=imagefolder data.root=/work/shared/data/cifar10-jpeg progress=false seed=0 out_root=/work/fx/out"
TRIAL_FIXUP_LR10=1 /usr/bin/time -v $RX train $COMMON tag=lr10 > /work/fx/fixup110_lr10.log 2>&1 &
/usr/bin/time -v $RX train $COMMON optim.lr=0.01 > /work/fx/fixup110_lr0.01.log 2>&1 &
wait
