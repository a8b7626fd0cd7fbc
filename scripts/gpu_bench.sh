#!/usr/bin/env bash
# The CUDA measurements of docs/performance.md, in parts that each fit a 10-minute slot on a
# GPU machine. Every command's JSON and log land in OUTDIR; commit them under docs/bench/.
#
#   scripts/gpu_bench.sh OUTDIR check      # CUDA tests, then the ratio vs the baseline (bf16, fp32)
#   scripts/gpu_bench.sh OUTDIR compile    # torch.compile, and CUDA graphs via reduce-overhead
#   scripts/gpu_bench.sh OUTDIR sweep      # Figure-6 nets, 1/2/4/8 processes sharing the GPU
#   scripts/gpu_bench.sh OUTDIR all
#
# Run it where `python` and `resnet-exp` are the project's (an activated .venv, or the package
# installed on the GPU machine). BENCH overrides the command (default: resnet-exp bench); QUICK=1
# shrinks every measurement to a toy size, to try the script itself on a CPU (DEVICE=cpu).
set -uo pipefail

out=${1:?usage: scripts/gpu_bench.sh OUTDIR check|compile|sweep|all}
part=${2:-all}
device=${DEVICE:-cuda}
bench=${BENCH:-resnet-exp bench}
mkdir -p "$out"
failed=0

quick=()
if [[ ${QUICK:-0} == 1 ]]; then
  quick=(--width 4 --batch-size 16 --windows 2 --steps 2 --warmup 1 --train-size 128 --num-workers 0)
fi

# run NAME ARGS...: one bench command, its table in NAME.log and every number in NAME.json.
run() {
  local name=$1
  shift
  echo "== $name: $bench --device $device $* ${quick[*]-}"
  if ! $bench --device "$device" "$@" ${quick[@]+"${quick[@]}"} --json "$out/$name.json" 2>&1 | tee "$out/$name.log"; then
    echo "!! $name failed"
    failed=1
  fi
}

part_check() {
  { nvidia-smi || true; python -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())'; } \
    >"$out/machine.txt" 2>&1
  if [[ $device == cuda* ]]; then
    python -m pytest -q tests/test_cuda.py 2>&1 | tee "$out/test_cuda.log" || failed=1
  fi
  run gpu                                   # the product's defaults: bf16 autocast, channels_last
  run gpu-fp32 --precision fp32             # what `resnet-exp train` does by default (precision=fp32)
  run gpu-50k --train-size 50000            # the baseline's DataLoader epochs as long as CIFAR-10's
}

part_compile() {
  run gpu-compile --only resnet-exp --compile
  run gpu-compile-graphs --only resnet-exp --compile --compile-mode reduce-overhead
}

part_sweep() {
  local figure6=(--block plain,residual --depths 20,32,44,56)
  for k in 1 2 4 8; do
    run "gpu-fig6-k$k" --only resnet-exp --processes "$k" "${figure6[@]}"
  done
}

case $part in
  check) part_check ;;
  compile) part_compile ;;
  sweep) part_sweep ;;
  all) part_check; part_compile; part_sweep ;;
  *) echo "unknown part $part: check, compile, sweep or all" >&2; exit 2 ;;
esac
exit $failed
