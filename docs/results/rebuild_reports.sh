#!/bin/bash
# Rebuild every committed report under docs/results from its committed runs (seconds each):
# tables, figures, verdicts and report-output.txt. Run from the repository root, with the
# CIFAR-10 JPEG folder at ../shared/data/cifar10-jpeg (--data-root reads the old runs that
# recorded their images by that path) or DATA=PATH. The verdicts must come out as committed
# unless the report's code changed; `git diff docs/results` shows what did.
set -euo pipefail
X=${RESNET_EXP:-resnet-exp}
DATA=${DATA:-../shared/data/cifar10-jpeg}
R=docs/results
rep() { local out=$1; shift; $X report "$@" --out "$out" > "$out/report-output.txt" 2>&1; echo "rebuilt $out"; }
rep $R/degradation_cpu $R/degradation_cpu/runs --data-root "$DATA"
rep $R/degradation_cpu_long $R/degradation_cpu_long/runs $R/laptop_trials/runs/trial_long12k --data-root "$DATA"
rep $R/degradation_laptop $R/degradation_laptop/runs --data-root "$DATA"
rep $R/degradation_laptop_long $R/degradation_laptop_long/runs $R/degradation_cpu_long/runs/plain-{20,56}_* \
    $R/laptop_trials/runs/trial_long12k/residual-{20,56}_* --data-root "$DATA"
rep $R/degradation_laptop_warmup $R/degradation_laptop_warmup/runs --data-root "$DATA"
rep $R/degradation_laptop_fig6 $R/degradation_laptop_fig6/runs
rep $R/deep_laptop $R/deep_laptop/runs
rep $R/deep_laptop/zero_init $R/deep_laptop/zero_init/runs
rep $R/deep_laptop/zero_residual $R/deep_laptop/zero_residual/runs
F=$R/degradation_laptop_fig6/runs W=$R/degradation_laptop_warmup/runs
rep $R/fig6_precision/report $F/*_s0_* $F/*_s1_* $R/fig6_precision/runs_fp32 $W/*_s0_* $W/*_s1_* --no-tensorboard
mkdir -p $R/laptop_trials/report
rep $R/laptop_trials/report $R/laptop_trials/runs --data-root "$DATA"
rep $R/degradation_laptop_quick $R/degradation_laptop_quick/runs --no-tensorboard
rep $R/degradation_laptop_fig6_fast $R/degradation_laptop_fig6_fast/runs --no-tensorboard
# On trial (session 20): seed 0 whole and seeds 4-5 residual nets in its runs, seeds 1-3 residual nets from the trial
S=$R/laptop_trials/runs/s20_late_drops_lr035
rep $R/degradation_laptop_fig6_short $R/degradation_laptop_fig6_short/runs $S/*_s1_* $S/*_s2_* $S/*_s3_* --no-tensorboard
# The flagship since session 22: all eight nets of seeds 0-3 in its runs, except residual-20/56 of seeds 1-3,
# which with seeds 4-5 are the trial's (session 21)
T=$R/laptop_trials/runs/s21_4000_residual
rep $R/degradation_laptop_fig6_4k $R/degradation_laptop_fig6_4k/runs $T/*_s[1-5]_* --no-tensorboard
# bf16 against fp32 for the flagship (session 22): depths 20 and 56, seeds 0 and 1
K=$R/degradation_laptop_fig6_4k/runs
rep $R/degradation_laptop_fig6_4k/report_precision $K/*-{20,56}_*_s[01]_* $T/*_s1_* \
    $R/degradation_laptop_fig6_4k/runs_fp32 --no-tensorboard
# The flagship since session 23: the width-4 preset, all eight nets of seeds 0-3
rep $R/degradation_laptop_fig6_w4 $R/degradation_laptop_fig6_w4/runs --no-tensorboard
W4=$R/degradation_laptop_fig6_w4
rep $W4/report_precision $W4/runs/*-{20,56}_*_s[01]_* $W4/runs_fp32 --no-tensorboard
Q=$R/degradation_laptop_quick/runs
rep $R/degradation_laptop_quick/report_seeds4-7 $Q/*_s4_* $Q/*_s5_* $Q/*_s6_* $Q/*_s7_* --no-tensorboard
