"""`resnet-exp bench`: training throughput and peak memory, resnet-exp's own step vs a baseline.

Two ways to train the same net on the same device are timed end to end, data included:

* resnet-exp: `Trainer.step()` over `Batches` (uint8 data resident on the device, one batched
  crop/flip per step), with the product's per-device defaults for channels_last and precision.
* baseline: the common way, a torchvision-style CIFAR `Dataset` (HWC uint8 numpy, PIL transforms),
  a `DataLoader` with workers, eager fp32 NCHW, `.to(device)` per batch.

Both train on synthetic data of CIFAR's shape, so nothing is downloaded and startup is quick.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torch.utils.flop_counter import FlopCounterMode

from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import Dataset, make_synthetic
from resnet_exp.errors import UserError
from resnet_exp.models.net import BLOCKS, build_net, check_depth
from resnet_exp.models.shortcuts import SHORTCUTS
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train.loop import Trainer, default_channels_last
from resnet_exp.train.provenance import now, versions
from resnet_exp.train.runner import resolve_device

PROG = "resnet-exp bench"
PATHS = ("resnet-exp", "baseline")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# The per-channel CIFAR-10 statistics that torchvision-style training scripts hard-code.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
JSON_SCHEMA = 1


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    depths: tuple[int, ...]
    block: str
    shortcut: str
    width: int
    batch_size: int
    steps: int
    windows: int
    warmup: int
    device: str
    channels_last: str  # auto | on | off
    precision: str  # auto | fp32 | bf16
    compile: bool
    compile_mode: str
    threads: int | None
    only: str | None
    num_workers: int
    train_size: int
    seed: int
    json: str | None


@dataclass(frozen=True)
class Resolved:
    """Settings that depend on the device, decided once so both paths and the record agree."""

    device: torch.device
    channels_last: bool
    precision: str

    def to_json(self) -> dict:
        return {
            "device": str(self.device),
            "channels_last": self.channels_last,
            "precision": self.precision,
        }


class _Parser(argparse.ArgumentParser):
    # argparse prints usage and exits; the CLI contract is one line on stderr and status 2.
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{PROG}: {message} (see {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Training throughput (images/s, median of timed windows) and peak memory of "
        "resnet-exp's training step vs a torchvision/DataLoader baseline, on synthetic CIFAR-shaped data.",
    )
    p.add_argument("--depths", default="20,56", help="comma-separated depths 6n+2 (default 20,56)")
    p.add_argument("--block", default="residual", choices=BLOCKS)
    p.add_argument("--shortcut", default="A", choices=SHORTCUTS)
    p.add_argument("--width", type=int, default=16, help="base filters (default 16)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="steps per timed window (default 10)")
    p.add_argument("--windows", type=int, default=5, help="timed windows (default 5)")
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps first (default 5; 20 with --compile)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--channels-last", default="auto", choices=("auto", "on", "off"))
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="resnet-exp path only; auto = bf16 on CUDA, fp32 on CPU (the baseline is always fp32)",
    )
    p.add_argument(
        "--compile", action="store_true", help="wrap resnet-exp's model in torch.compile"
    )
    p.add_argument("--compile-mode", default="default", choices=COMPILE_MODES)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--only", choices=PATHS, default=None, help="measure one path only")
    p.add_argument(
        "--num-workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="baseline DataLoader workers (default min(4, cpu count))",
    )
    p.add_argument("--train-size", type=int, default=5000, help="synthetic training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", default=None, help="also write every number here")
    return p


def parse_depths(text: str) -> tuple[int, ...]:
    try:
        depths = tuple(int(d) for d in text.split(",") if d.strip())
    except ValueError:
        raise UserError(f"--depths {text!r} must be comma-separated integers, e.g. 20,56") from None
    if not depths:
        raise UserError("--depths is empty; give e.g. 20,56")
    for d in depths:
        check_depth(d)
    return depths


def check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')}={value} must be at least 1")


def parse_settings(argv: list[str]) -> Settings:
    a = build_parser().parse_args(argv)
    check_positive(
        width=a.width, batch_size=a.batch_size, steps=a.steps, windows=a.windows, threads=a.threads
    )
    if (a.warmup is not None and a.warmup < 0) or a.num_workers < 0:
        raise UserError("--warmup and --num-workers must not be negative")
    if a.train_size < a.batch_size:
        raise UserError(f"--train-size={a.train_size} is smaller than --batch-size={a.batch_size}")
    if a.json is not None and not Path(a.json).expanduser().parent.is_dir():
        # Checked now, not after minutes of measuring.
        raise UserError(f"--json {a.json}: the folder {Path(a.json).parent} does not exist")
    warmup = a.warmup if a.warmup is not None else (20 if a.compile else 5)
    return Settings(
        depths=parse_depths(a.depths),
        block=a.block,
        shortcut=a.shortcut,
        width=a.width,
        batch_size=a.batch_size,
        steps=a.steps,
        windows=a.windows,
        warmup=warmup,
        device=a.device,
        channels_last=a.channels_last,
        precision=a.precision,
        compile=a.compile,
        compile_mode=a.compile_mode,
        threads=a.threads,
        only=a.only,
        num_workers=a.num_workers,
        train_size=a.train_size,
        seed=a.seed,
        json=a.json,
    )


def resolve(s: Settings) -> Resolved:
    """The product's per-device defaults: bf16 on CUDA only; channels_last as `resnet-exp train`
    decides it (default_channels_last)."""
    device = resolve_device(s.device)
    cuda = device.type == "cuda"
    precision = s.precision if s.precision != "auto" else ("bf16" if cuda else "fp32")
    if precision == "bf16" and not cuda:
        raise UserError("--precision bf16 is for CUDA; on CPU use --precision fp32")
    auto = default_channels_last(device, s.width)
    channels_last = {"on": True, "off": False, "auto": auto}[s.channels_last]
    return Resolved(device, channels_last, precision)


# --- device helpers -----------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    # CUDA runs asynchronously: without this, a window would time the queueing, not the work.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def reset_peak_memory(device: torch.device) -> None:
    gc.collect()  # the previous measurement's tensors must not count towards this one
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[int | None, str]:
    """(bytes, what they are). CUDA: allocator peak since the reset. CPU: the process's max RSS,
    which cannot be reset, so it covers everything this process did so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "cuda max_memory_allocated"
    try:
        import resource
    except ImportError:  # not on Windows
        return None, "unavailable"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024, "process max RSS"


# --- FLOPs ------------------------------------------------------------------------------------------


def count_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(forward, forward+backward) FLOPs per image of one training batch, from FlopCounterMode.

    It counts matmuls and convolutions (2 FLOPs per multiply-add); BN, ReLU and additions are not
    counted. Run on the eager model so the count does not depend on compile or autocast.
    """
    model.train()
    with FlopCounterMode(display=False) as fwd_counter:
        loss = F.cross_entropy(model(x), y)
    with FlopCounterMode(display=False) as bwd_counter:
        loss.backward()
    model.zero_grad(set_to_none=True)
    fwd = fwd_counter.get_total_flops()
    return fwd / len(x), (fwd + bwd_counter.get_total_flops()) / len(x)


# --- the two training paths -------------------------------------------------------------------


@dataclass
class Prepared:
    """One path, ready to step: `step()` runs one training step, data loading included."""

    step: Callable[[], None]
    forward_flops: float
    train_flops: float
    config: dict
    close: Callable[[], None] = field(default=lambda: None)


def make_model(s: Settings, depth: int, num_classes: int) -> nn.Module:
    # Same seed for both paths: the same initial weights, so both train the same net.
    return build_net(depth, s.block, s.shortcut, s.width, num_classes, seed=s.seed)


def prepare_resnet_exp(s: Settings, r: Resolved, depth: int, data: Dataset) -> Prepared:
    """The product's own step: Trainer over Batches, no evaluation sets."""
    mean = pixel_mean(data.train_x)
    batches = Batches(data.train_x, data.train_y, mean, s.batch_size, s.seed, r.device)
    memory_format = torch.channels_last if r.channels_last else torch.contiguous_format
    model = make_model(s, depth, data.num_classes).to(r.device, memory_format=memory_format)
    x, y = batches.next()
    fwd, train = count_flops(model, x.contiguous(memory_format=memory_format), y)
    runnable = torch.compile(model, mode=s.compile_mode) if s.compile else model
    loop = LoopSpec(
        batch_size=s.batch_size,
        seed=s.seed,
        device=str(r.device),
        precision=r.precision,
        channels_last=r.channels_last,
        threads=s.threads,
        progress=False,
    )
    trainer = Trainer(runnable, batches, [], mean, OptimSpec(), loop, r.device, r.channels_last)
    config = {
        **r.to_json(),
        "compile": s.compile,
        "compile_mode": s.compile_mode if s.compile else None,
        "data": "device-resident uint8, batched crop/flip on the device",
    }
    return Prepared(trainer.step, fwd, train, config)


class CifarLikeDataset(TorchDataset):
    """What torchvision.datasets.CIFAR10 holds and returns: HWC uint8 numpy in, PIL through
    `transform` out, one image per __getitem__."""

    def __init__(self, data: np.ndarray, targets: list[int], transform: Callable) -> None:
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def baseline_loader(s: Settings, device: torch.device, data: Dataset) -> DataLoader:
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    images = data.train_x.permute(0, 2, 3, 1).contiguous().numpy()  # NCHW -> NHWC like CIFAR10
    dataset = CifarLikeDataset(images, data.train_y.tolist(), transform)
    return DataLoader(
        dataset,
        batch_size=s.batch_size,
        shuffle=True,
        num_workers=s.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=s.num_workers > 0,
        drop_last=True,  # every step sees batch_size images, as with Batches
    )


def endless(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The usual `for epoch: for x, y in loader` loop, flattened into one stream of batches."""
    while True:
        yield from loader


def prepare_baseline(s: Settings, r: Resolved, depth: int, data: Dataset) -> Prepared:
    device = r.device
    torch.manual_seed(s.seed)  # the DataLoader's shuffle order
    loader = baseline_loader(s, device, data)
    stream = endless(loader)
    model = make_model(s, depth, data.num_classes).to(device)
    o = OptimSpec()  # the product's SGD hyperparameters (lr 0.1, momentum 0.9, wd 1e-4)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
    )
    x, y = next(stream)
    fwd, train = count_flops(model, x.to(device), y.to(device))

    def step() -> None:
        x, y = next(stream)
        x, y = x.to(device), y.to(device)
        model.train()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def close() -> None:
        # Ends the epoch loop; the loader and its persistent workers go with the last reference.
        stream.close()

    config = {
        "device": str(device),
        "channels_last": False,
        "precision": "fp32",
        "compile": False,
        "num_workers": s.num_workers,
        "pin_memory": device.type == "cuda",
        "data": "torchvision-style Dataset (PIL transforms) + DataLoader, .to(device) per batch",
    }
    return Prepared(step, fwd, train, config, close)


PREPARE: dict[str, Callable[[Settings, Resolved, int, Dataset], Prepared]] = {
    "resnet-exp": prepare_resnet_exp,
    "baseline": prepare_baseline,
}


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Measurement:
    net: str
    depth: int
    path: str
    batch_size: int
    window_images_per_s: list[float]
    warmup_s: float
    peak_memory_bytes: int | None
    peak_memory_kind: str
    forward_flops_per_image: float
    train_flops_per_image: float
    config: dict

    @property
    def median(self) -> float:
        return statistics.median(self.window_images_per_s)

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.batch_size / self.median

    @property
    def achieved_flops_per_s(self) -> float:
        return self.train_flops_per_image * self.median

    def to_json(self) -> dict:
        return {
            "net": self.net,
            "depth": self.depth,
            "path": self.path,
            "batch_size": self.batch_size,
            "images_per_s": {
                "median": self.median,
                "min": min(self.window_images_per_s),
                "max": max(self.window_images_per_s),
                "windows": self.window_images_per_s,
            },
            "ms_per_step": self.ms_per_step,
            "warmup_s": self.warmup_s,
            "peak_memory": {"bytes": self.peak_memory_bytes, "kind": self.peak_memory_kind},
            "flops_per_image": {
                "forward": self.forward_flops_per_image,
                "train": self.train_flops_per_image,
            },
            "achieved_flops_per_s": self.achieved_flops_per_s,
            "config": self.config,
        }


def time_windows(
    step: Callable[[], None], s: Settings, device: torch.device
) -> tuple[float, list[float]]:
    """(warm-up seconds, images/s of each timed window). Warm-up absorbs one-off costs: cuDNN
    algorithm choice, allocator growth, worker start, compilation."""
    t0 = time.perf_counter()
    for _ in range(s.warmup):
        step()
    sync(device)
    warmup_s = time.perf_counter() - t0
    rates = []
    for _ in range(s.windows):
        t0 = time.perf_counter()
        for _ in range(s.steps):
            step()
        sync(device)
        rates.append(s.steps * s.batch_size / (time.perf_counter() - t0))
    return warmup_s, rates


def net_name(s: Settings, depth: int) -> str:
    return f"{s.block}-{depth}" + ("" if s.width == 16 else f"-w{s.width}")


def measure(s: Settings, r: Resolved, depth: int, path: str, data: Dataset) -> Measurement:
    reset_peak_memory(r.device)
    prepared = PREPARE[path](s, r, depth, data)
    try:
        warmup_s, rates = time_windows(prepared.step, s, r.device)
        peak, kind = peak_memory(r.device)
    finally:
        prepared.close()
    return Measurement(
        net=net_name(s, depth),
        depth=depth,
        path=path,
        batch_size=s.batch_size,
        window_images_per_s=rates,
        warmup_s=warmup_s,
        peak_memory_bytes=peak,
        peak_memory_kind=kind,
        forward_flops_per_image=prepared.forward_flops,
        train_flops_per_image=prepared.train_flops,
        config=prepared.config,
    )


def ratios(results: list[Measurement]) -> dict[str, float]:
    """resnet-exp images/s over baseline images/s (medians), per net measured on both paths."""
    by_key = {(m.net, m.path): m for m in results}
    return {
        net: by_key[(net, "resnet-exp")].median / by_key[(net, "baseline")].median
        for net in dict.fromkeys(m.net for m in results)
        if (net, "resnet-exp") in by_key and (net, "baseline") in by_key
    }


# --- output -------------------------------------------------------------------------------------


def header(r: Resolved) -> str:
    return (
        f"device {r.device} ({device_name(r.device)})  torch {torch.__version__}  "
        f"threads {torch.get_num_threads()}"
    )


def fmt_bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"


def results_table(results: list[Measurement], ratio: dict[str, float]) -> Table:
    kind = results[0].peak_memory_kind if results else "n/a"
    table = Table(
        title="training throughput, median of timed windows",
        caption=f"peak mem = {kind}; GFLOP/img = forward+backward (forward only); "
        "x base = resnet-exp / baseline images/s",
    )
    table.add_column("net", no_wrap=True)
    table.add_column("path", no_wrap=True)
    for name in ("images/s median [min-max]", "ms/step", "peak mem", "GFLOP/img", "GFLOP/s"):
        table.add_column(name, justify="right")
    table.add_column("x base", justify="right", no_wrap=True)
    for m in results:
        rates = m.window_images_per_s
        vs = f"{ratio[m.net]:.2f}x" if m.path == "resnet-exp" and m.net in ratio else ""
        table.add_row(
            m.net,
            m.path,
            f"{m.median:,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]",
            f"{m.ms_per_step:.1f}",
            fmt_bytes(m.peak_memory_bytes),
            f"{m.train_flops_per_image / 1e9:.3f} ({m.forward_flops_per_image / 1e9:.3f})",
            f"{m.achieved_flops_per_s / 1e9:,.1f}",
            vs,
        )
    return table


def record(s: Settings, r: Resolved, results: list[Measurement]) -> dict:
    return {
        "schema": JSON_SCHEMA,
        "kind": "resnet-exp bench",
        "timestamp": now(),
        "torch": torch.__version__,
        "versions": versions(),
        "device": {
            "type": r.device.type,
            "name": device_name(r.device),
            "threads": torch.get_num_threads(),
        },
        # The resolved device/layout/precision replace "auto"; what was asked for is kept too.
        "settings": {
            **asdict(s),
            **r.to_json(),
            "requested": {k: getattr(s, k) for k in ("device", "channels_last", "precision")},
        },
        "results": [m.to_json() for m in results],
        "ratios": ratios(results),
    }


# --- entry point --------------------------------------------------------------------------------


def run_bench(s: Settings, r: Resolved, progress: Console) -> list[Measurement]:
    data = make_synthetic(train_size=s.train_size, test_size=0, seed=s.seed)
    paths = [s.only] if s.only else list(PATHS)
    results = []
    for depth in s.depths:
        for path in paths:
            progress.print(f"measuring {net_name(s, depth)} {path} ...", highlight=False)
            results.append(measure(s, r, depth, path, data))
    return results


def main(argv: list[str] | None = None) -> int:
    # Wide enough for the whole table when piped to a file or log (rich assumes 80 columns there).
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    err = Console(stderr=True, highlight=False)
    try:
        s = parse_settings(sys.argv[1:] if argv is None else list(argv))
        if s.threads:
            torch.set_num_threads(s.threads)
        r = resolve(s)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except UserError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        return e.exit_code
    out.print(header(r))
    results = run_bench(s, r, err)
    out.print(results_table(results, ratios(results)))
    if s.json:
        path = Path(s.json).expanduser()
        path.write_text(json.dumps(record(s, r, results), indent=2) + "\n")
        out.print(f"wrote {path}")
    return 0
