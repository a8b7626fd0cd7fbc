#!/usr/bin/env bash
# Issue 24's speed measurements, side by side on one machine (run from the repository root with
# the venv's resnet-exp on PATH): the bench with the product's defaults and in fp32, the laptop
# setting (width 8, batch 64) in the old default (fp32, NCHW) against the new one, alternated
# twice, and whole compiled vs eager runs timed with /usr/bin/time.
#   bash docs/bench/issue24/run.sh DATA_ROOT
set -euo pipefail
OUT=docs/bench/issue24
DATA=${1:?path to the CIFAR-10 images in ImageFolder layout}
{ lscpu | grep -E "^Model name"; grep -o -w -E "amx_bf16|avx512_bf16" /proc/cpuinfo | sort | uniq -c;
  nproc; python -c "import torch; print('torch', torch.__version__)"; git rev-parse HEAD; } > $OUT/machine.txt

# 1. The bench's default nets (width 16, batch 128, depths 20 and 56, both paths).
resnet-exp bench --json $OUT/bench-auto.json 2>&1 | tee $OUT/bench-auto.log
resnet-exp bench --precision fp32 --json $OUT/bench-fp32.json 2>&1 | tee $OUT/bench-fp32.log

# 2. The laptop setting: the old default (fp32, NCHW) against the product's defaults, A B A B.
for r in 1 2; do
  resnet-exp bench --width 8 --batch-size 64 --only resnet-exp --precision fp32 --channels-last off \
    --json $OUT/w8-old-r$r.json 2>&1 | tee $OUT/w8-old-r$r.log
  resnet-exp bench --width 8 --batch-size 64 --only resnet-exp --json $OUT/w8-auto-r$r.json 2>&1 \
    | tee $OUT/w8-auto-r$r.log
done

# 3. Whole runs, compiled against eager (the four-depth preset's settings, 1500 iterations,
#    one thread each, two at a time as the preset runs): residual-56 and residual-20, with the
#    inductor cache emptied first, then residual-56 compiled again with the cache warm.
export TORCHINDUCTOR_CACHE_DIR=$PWD/outputs/issue24-inductor-cache
rm -rf "$TORCHINDUCTOR_CACHE_DIR" outputs/issue24-compile
COMMON="experiment=degradation_laptop_fig6 data=imagefolder data.root=$DATA iterations=1500 progress=false threads=1 out_root=outputs/issue24-compile block=residual"
for depth in 56 20; do
  /usr/bin/time -v resnet-exp train $COMMON depth=$depth compile=false tag=eager > $OUT/run-r$depth-eager.log 2>&1 &
  /usr/bin/time -v resnet-exp train $COMMON depth=$depth compile=true tag=compiled > $OUT/run-r$depth-compiled.log 2>&1
  wait
done
/usr/bin/time -v resnet-exp train $COMMON depth=56 compile=true tag=compiled-warm > $OUT/run-r56-compiled-warm.log 2>&1
for f in outputs/issue24-compile/runs/*/summary.json; do cp "$f" "$OUT/$(basename "$(dirname "$f")").summary.json"; done
