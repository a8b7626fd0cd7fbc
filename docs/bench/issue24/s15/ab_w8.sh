#!/usr/bin/env bash
# Issue 24 item 7's laptop target on this machine: ResNet-20/56 at width 8, batch 64, the old
# default (fp32, NCHW) against the product's defaults (bf16 + NHWC where native), two processes
# of one thread each (how the laptop presets run), alternated A B A B in one go.
#   bash docs/bench/issue24/s15/ab_w8.sh   (from the repository root, the venv's resnet-exp on PATH)
set -euo pipefail
OUT=docs/bench/issue24/s15
for r in 1 2; do
  resnet-exp bench --depths 20,56 --width 8 --batch-size 64 --processes 2 --only resnet-exp \
    --precision fp32 --channels-last off --json $OUT/ab-w8-x2-old-r$r.json > $OUT/ab-w8-x2-old-r$r.log 2>&1
  resnet-exp bench --depths 20,56 --width 8 --batch-size 64 --processes 2 --only resnet-exp \
    --json $OUT/ab-w8-x2-auto-r$r.json > $OUT/ab-w8-x2-auto-r$r.log 2>&1
done
