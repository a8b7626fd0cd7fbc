#!/bin/bash
# Issue 25 timings: the bench's own time with its defaults, its sweep predictions for two presets,
# and the first commands a newcomer runs (README, --help). Run from the repo root with the CPU
# otherwise idle. Usage: bash docs/bench/issue25/run.sh DATA_ROOT
set -u
DATA=${1:?give the CIFAR-10 JPEG folder}
OUT=docs/bench/issue25
X=${RESNET_EXP:-resnet-exp}
{ lscpu | grep 'Model name'; echo "bf16 flags: $(grep -o -w -E 'amx_bf16|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"; nproc; git rev-parse --short HEAD; date -u; } > $OUT/machine.txt
t() { local name=$1; shift; /usr/bin/time -f "$name wall %e s, max RSS %M KB" -a -o $OUT/times.txt "$@" > $OUT/$name.log 2>&1; }
: > $OUT/times.txt
t bench-default $X bench --json $OUT/bench-default.json
t predict-fig6 $X bench --experiment degradation_laptop_fig6 --json $OUT/predict-fig6.json
t predict-warmup $X bench --experiment degradation_laptop_warmup --json $OUT/predict-warmup.json
rm -rf /tmp/issue25-runs
t first-run-synthetic $X train depth=20 width=8 iterations=300 data=synthetic out_root=/tmp/issue25-runs progress=false
t demo $X train depth=20 width=8 batch_size=64 iterations=300 log_every=50 eval_every=300 data=imagefolder data.root=$DATA out_root=/tmp/issue25-runs progress=false
cat $OUT/times.txt
