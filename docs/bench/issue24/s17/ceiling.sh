#!/usr/bin/env bash
# Session 17: how far the bench's nets (width 16, batch 128, 2 threads) are from this machine's
# limits. Run from the repository root on an idle machine; writes logs and JSON next to itself.
#   bash docs/bench/issue24/s17/ceiling.sh
set -eu
D=docs/bench/issue24/s17
RX=.venv/bin/resnet-exp
PY=.venv/bin/python
{ date -u; lscpu; } > $D/machine.txt
git rev-parse HEAD >> $D/machine.txt
# 1. The bench as issue 24 item 7 asks: defaults (bf16 + NHWC here) and --precision fp32.
/usr/bin/time -f "wall %E" $RX bench --json $D/bench-auto.json > $D/bench-auto.log 2>&1
/usr/bin/time -f "wall %E" $RX bench --precision fp32 --json $D/bench-fp32.json > $D/bench-fp32.log 2>&1
# 2. The resnet-exp path compiled (not the default: compile=auto is eager on CPU).
/usr/bin/time -f "wall %E" $RX bench --only resnet-exp --compile --json $D/bench-auto-compiled.json > $D/bench-auto-compiled.log 2>&1
# 3. Where a step of residual-56 at the bench's size spends its time, fp32 (both layouts) and bf16.
$PY scripts/profile_step.py --nets residual-56 --precision fp32 --layout nchw,nhwc --width 16 --batch-size 128 \
  --threads 2 --steps 10 --json $D/profile-r56-w16-b128-fp32.json 2>&1 | grep -v -e USDT -e gpuGetDeviceCount > $D/profile-r56-w16-b128-fp32.log
$PY scripts/profile_step.py --nets residual-56 --precision bf16 --layout nhwc --width 16 --batch-size 128 \
  --threads 2 --steps 10 --json $D/profile-r56-w16-b128-bf16.json 2>&1 | grep -v -e USDT -e gpuGetDeviceCount > $D/profile-r56-w16-b128-bf16.log
