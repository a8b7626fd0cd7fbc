"""Where a laptop training step spends its time: the torch profiler over `Trainer.step()`.

    python scripts/profile_step.py --nets plain-56,residual-56 --precision fp32,bf16 \
        --json docs/bench/profile/profile.json

For each net and precision: the product's own Trainer (synthetic CIFAR-shaped data, width 8,
batch 64 by default), a few warm-up steps, then `--steps` profiled steps. Every op's *self* CPU
time is put into one category (conv forward/backward, BatchNorm, ReLU, additions, casts, ...)
under the phase that ran it (the `rx.*` labels in Trainer.step). Evaluation, the metrics window,
the signal record and the checkpoint are timed once each and given per run of the laptop
preset's length, so they can be set against the steps. Also measured: the machine's matmul peak
(2048x2048, fp32 and bf16) and the step's FLOPs, so the achieved fraction is known.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from resnet_exp.bench.paths import count_flops
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import make_synthetic
from resnet_exp.models.net import build_net
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train.checkpoint import save_checkpoint
from resnet_exp.train.loop import EvalSet, Trainer, default_channels_last
from resnet_exp.train.metrics import MetricsWriter
from resnet_exp.train.precision import native_bf16_flags
from resnet_exp.train.provenance import cpu_model

PHASES = ("rx.data", "rx.forward", "rx.backward", "rx.optimizer")

# Op name (aten::...) -> category; first matching rule wins. Self time only, so a wrapper op
# (aten::conv2d, aten::batch_norm) counts just its own Python/dispatch overhead.
RULES = (
    ("convolution_backward", "conv"),
    ("mkldnn_convolution", "conv"),
    ("_convolution", "conv"),
    ("conv", "conv"),
    ("batch_norm", "batchnorm"),
    ("threshold_backward", "relu"),
    ("relu", "relu"),
    ("copy_", "cast/copy"),
    ("to_copy", "cast/copy"),
    ("_to_", "cast/copy"),
    ("aten::to", "cast/copy"),
    ("add", "add"),
    ("avg_pool", "pool/fc/loss"),
    ("mean", "pool/fc/loss"),
    ("addmm", "pool/fc/loss"),
    ("mm", "pool/fc/loss"),
    ("linear", "pool/fc/loss"),
    ("cross_entropy", "pool/fc/loss"),
    ("log_softmax", "pool/fc/loss"),
    ("nll_loss", "pool/fc/loss"),
    ("zeros", "zero-pad/fill"),
    ("cat", "zero-pad/fill"),
    ("pad", "zero-pad/fill"),
    ("fill", "zero-pad/fill"),
)


def category(name: str) -> str:
    for key, cat in RULES:
        if key in name:
            return cat
    return "other"


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def make_trainer(
    net: str,
    width: int,
    batch: int,
    precision: str,
    eval_size: int,
    train_size: int,
    channels_last: bool,
) -> Trainer:
    block, depth = net.split("-")
    data = make_synthetic(train_size, eval_size, seed=0)
    mean = pixel_mean(data.train_x)
    device = torch.device("cpu")
    batches = Batches(data.train_x, data.train_y, mean, batch, 0, device)
    model = build_net(int(depth), block, "A", width, 10, seed=0)
    loop = LoopSpec(batch_size=batch, precision=precision, progress=False, eval_batch_size=1000)
    evals = [EvalSet("test", data.test_x, data.test_y)]
    return Trainer(model, batches, evals, mean, OptimSpec(), loop, device, channels_last)


def profile_steps(trainer: Trainer, steps: int) -> tuple[dict, float]:
    """{phase: {category: ms per step}} from self CPU times, and the wall ms per step."""
    for _ in range(5):
        trainer.step()
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.step()
    wall_ms = (time.perf_counter() - t0) * 1000 / steps
    table: dict = defaultdict(lambda: defaultdict(float))
    for ev in prof.events():
        if ev.name.startswith("rx.") or ev.name.startswith("ProfilerStep"):
            continue
        phase, parent = "outside", ev.cpu_parent
        while parent is not None:
            if parent.name in PHASES:
                phase = parent.name.removeprefix("rx.")
                break
            parent = parent.cpu_parent
        # Backward ops run on the autograd engine's thread with no rx.* parent.
        if phase == "outside" and ("Backward" in ev.name or "backward" in ev.name):
            phase = "backward"
        cat = category(ev.name)
        if phase == "optimizer":
            cat = "sgd update"
        if phase == "data":
            cat = "gather+augment"
        table[phase][cat] += ev.self_cpu_time_total / 1000 / steps
    return {p: dict(c) for p, c in table.items()}, wall_ms


def timed(fn, reps: int = 3) -> float:
    fn()  # first call: allocations, lazy set-up
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def time_logging(tr: Trainer, run_dir: Path, reps: int = 5) -> float:
    """One training record: the window's numbers read off, written to metrics.jsonl and
    TensorBoard (what happens every log_every steps), with a step before each (not timed)."""
    writer = MetricsWriter(run_dir)
    total = 0.0
    for _ in range(reps):
        tr.step()
        t = time.perf_counter()
        writer.write(tr.window_record())
        total += time.perf_counter() - t
    writer.close()
    return total / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="plain-56,residual-56")
    ap.add_argument("--precision", default="fp32,bf16")
    ap.add_argument(
        "--layout",
        default="auto",
        help="auto (the product's default_channels_last), nchw, nhwc, or a comma list",
    )
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--eval-size", type=int, default=10000)
    ap.add_argument("--run-iterations", type=int, default=6000, help="run length to amortize over")
    ap.add_argument("--evals-per-run", type=int, default=12)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    out: dict = {
        "cpu": cpu_model(),
        "bf16_flags": native_bf16_flags(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "settings": vars(a) | {"json": str(a.json)},
        "matmul_gflops": {
            "fp32": matmul_peak(torch.float32) / 1e9,
            "bf16": matmul_peak(torch.bfloat16) / 1e9,
        },
        "results": [],
    }
    print(
        f"{out['cpu']} | bf16 flags: {', '.join(out['bf16_flags']) or 'none'} | "
        f"{out['threads']} threads | torch {torch.__version__}"
    )
    print(
        "matmul 2048^2: fp32 {fp32:.0f} GFLOP/s, bf16 {bf16:.0f} GFLOP/s".format(
            **out["matmul_gflops"]
        )
    )
    cases = [
        (net, prec, layout)
        for net in a.nets.split(",")
        for prec in a.precision.split(",")
        for layout in a.layout.split(",")
    ]
    for net, prec, layout in cases:
        if layout == "auto":
            nhwc = default_channels_last(torch.device("cpu"), a.width, prec)
        else:
            nhwc = layout == "nhwc"
        tr = make_trainer(net, a.width, a.batch_size, prec, a.eval_size, 5000, nhwc)
        x, y = tr.batches.next()
        _, train_flops = count_flops(tr.model, x, y)
        table, wall_ms = profile_steps(tr, a.steps)
        # Unprofiled steps: the profiler itself adds overhead per op.
        step_s = timed(tr.step, reps=a.steps)
        eval_s = timed(tr.evaluate, reps=2)
        signal_s = timed(tr.signal_record, reps=2)
        with tempfile.TemporaryDirectory() as d:
            window_s = time_logging(tr, Path(d))
            ckpt_s = timed(
                lambda d=d, tr=tr: save_checkpoint(Path(d) / "c.pt", {"trainer": tr.state_dict()}),
                reps=2,
            )
        run = {
            "steps": a.run_iterations * step_s,
            "evaluation": a.evals_per_run * eval_s,
            "signals": a.evals_per_run * signal_s,
            "logging": a.run_iterations / a.log_every * window_s,
            "checkpoints": a.evals_per_run * ckpt_s,
        }
        achieved = train_flops * a.batch_size / step_s
        peak = out["matmul_gflops"][prec] * 1e9
        res = {
            "net": net,
            "precision": prec,
            "layout": "nhwc" if nhwc else "nchw",
            "ms_per_step": step_s * 1000,
            "ms_per_step_profiled": wall_ms,
            "images_per_s": a.batch_size / step_s,
            "train_gflop_per_step": train_flops * a.batch_size / 1e9,
            "achieved_gflops": achieved / 1e9,
            "fraction_of_matmul_peak": achieved / peak,
            "breakdown_ms": table,
            "eval_s": eval_s,
            "signal_s": signal_s,
            "window_record_s": window_s,
            "checkpoint_s": ckpt_s,
            "per_run_s": run,
        }
        out["results"].append(res)
        print(
            f"\n{net} {prec} {res['layout']}: {step_s * 1000:.1f} ms/step ({a.batch_size / step_s:.0f} img/s), "
            f"{res['train_gflop_per_step']:.2f} GFLOP/step -> {achieved / 1e9:.1f} GFLOP/s = "
            f"{100 * res['fraction_of_matmul_peak']:.1f}% of the {prec} matmul peak"
        )
        total = sum(sum(c.values()) for c in table.values())
        for phase, cats in sorted(table.items(), key=lambda kv: -sum(kv[1].values())):
            row = ", ".join(
                f"{c} {v:.2f}" for c, v in sorted(cats.items(), key=lambda kv: -kv[1]) if v >= 0.05
            )
            print(
                f"  {phase:9s} {sum(cats.values()):7.2f} ms ({100 * sum(cats.values()) / total:4.1f}%): {row}"
            )
        whole = sum(run.values())
        print(
            f"  per {a.run_iterations}-iteration run: "
            + ", ".join(f"{k} {v:.1f} s ({100 * v / whole:.1f}%)" for k, v in run.items())
        )
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
