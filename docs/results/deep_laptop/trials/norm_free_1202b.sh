#!/usr/bin/env bash
set -u
cd /work/trial
export PYTHONPATH=/work/trial/src
RX=/work/main/.venv/bin/resnet-exp
TRIAL_FIXUP_LR10=1 /usr/bin/time -v $RX train experiment=deep_laptop depth=1202 block=residual norm=none init=fixup threads=2 data=imagefolder data.root=/work/shared/data/cifar10-jpeg progress=false seed=0 out_root=/work/fx/out tag=lr10 > /work/fx/fixup1202_lr10.log 2>&1
