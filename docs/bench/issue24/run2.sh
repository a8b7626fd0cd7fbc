#!/usr/bin/env bash
# Issue 24, part 2: the laptop setting as the presets run it (one thread per run, and two runs
# at once with one thread each), old default (fp32, NCHW) against the product's defaults,
# alternated A B A B in one go.
set -euo pipefail
OUT=docs/bench/issue24
for r in 1 2; do
  for mode in old auto; do
    flags=""; [ $mode = old ] && flags="--precision fp32 --channels-last off"
    resnet-exp bench --width 8 --batch-size 64 --only resnet-exp --threads 1 $flags \
      --json $OUT/w8-t1-$mode-r$r.json 2>&1 | tee $OUT/w8-t1-$mode-r$r.log
    resnet-exp bench --width 8 --batch-size 64 --only resnet-exp --processes 2 $flags \
      --json $OUT/w8-p2-$mode-r$r.json 2>&1 | tee $OUT/w8-p2-$mode-r$r.log
  done
done
