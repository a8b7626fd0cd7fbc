#!/usr/bin/env bash
# The norm-free trials of session 15 (norm_free.log): the same commands as the four scripts that
# ran them, gathered in one file. From a checkout at 77eda2e in
# /work/trial (PYTHONPATH=/work/trial/src), with the venv's resnet-exp; the runs tagged lr10 with
# fixup_lr10_patch.diff applied and TRIAL_FIXUP_LR10=1 (what bcd0057 made the product's default).
# Each block ran its two runs side by side (one thread each), one block after another.
set -u
cd /work/trial
export PYTHONPATH=/work/trial/src
RX=/work/main/.venv/bin/resnet-exp
DATA="data=imagefolder data.root=/work/shared/data/cifar10-jpeg"
run() {  # run DEPTH LOG [overrides...]
  local depth=$1 log=$2; shift 2
  /usr/bin/time -v $RX train experiment=deep_laptop depth=$depth block=residual norm=none $DATA \
    progress=false seed=0 out_root=/work/fx/out "$@" > /work/fx/$log 2>&1
}
# 1. depth 1202: Fixup and SkipInit at the preset's lr
run 1202 fixup.log threads=1 init=fixup & run 1202 skipinit.log threads=1 init.skipinit=true & wait
# 2. depth 110: the same
run 110 fixup110.log threads=1 init=fixup & run 110 skipinit110.log threads=1 init.skipinit=true & wait
# 3. depth 110, Fixup: its scalars at lr/10 (patch), or every parameter at lr 0.01
TRIAL_FIXUP_LR10=1 run 110 fixup110_lr10.log threads=1 init=fixup tag=lr10 &
run 110 fixup110_lr0.01.log threads=1 init=fixup optim.lr=0.01 & wait
# 4. depth 1202, Fixup with its scalars at lr/10, alone with two threads
TRIAL_FIXUP_LR10=1 run 1202 fixup1202_lr10.log threads=2 init=fixup tag=lr10
