#!/usr/bin/env bash
set -u
cd /work/trial
export PYTHONPATH=/work/trial/src
RX=/work/main/.venv/bin/resnet-exp
COMMON="experiment=deep_laptop depth=110 block=residual norm=none threads=1 data=imagefolder data.root=/work/shared/data/cifar10-jpeg progress=false seed=0 out_root=/work/fx/out"
/usr/bin/time -v $RX train $COMMON init=fixup > /work/fx/fixup110.log 2>&1 &
/usr/bin/time -v $RX train $COMMON init.skipinit=true > /work/fx/skipinit110.log 2>&1 &
wait
