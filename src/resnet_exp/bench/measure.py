"""Timing one prepared path: warm-up, timed windows, peak memory; alone or as K processes at once."""

from __future__ import annotations

import gc
import multiprocessing as mp
import queue as queue_lib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from resnet_exp.bench.paths import PREPARE, Net
from resnet_exp.bench.settings import Resolved, Settings, resolve
from resnet_exp.data.sources import Dataset, make_synthetic
from resnet_exp.errors import UserError
from resnet_exp.train.provenance import cpu_model

# --- device helpers -----------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    # CUDA runs asynchronously: without this, a window would time the queueing, not the work.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


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


# --- one measurement ---------------------------------------------------------------------------


@dataclass
class Measurement:
    """One net on one path. With K processes, each window's rate is the sum over the processes
    (they time their windows side by side), and `ms_per_step` is one process's step time."""

    net: str
    block: str
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
    processes: int = 1
    per_process_images_per_s: list[float] = field(default_factory=list)  # medians, K > 1
    wall_images_per_s: float | None = None  # K > 1: all images / (first start .. last end)

    @property
    def median(self) -> float:
        return statistics.median(self.window_images_per_s)

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.batch_size * self.processes / self.median

    @property
    def achieved_flops_per_s(self) -> float:
        return self.train_flops_per_image * self.median

    def to_json(self) -> dict:
        return {
            "net": self.net,
            "block": self.block,
            "depth": self.depth,
            "path": self.path,
            "batch_size": self.batch_size,
            "processes": self.processes,
            "images_per_s": {
                "median": self.median,
                "min": min(self.window_images_per_s),
                "max": max(self.window_images_per_s),
                "windows": self.window_images_per_s,
                "per_process_medians": self.per_process_images_per_s or None,
                "wall": self.wall_images_per_s,
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
    step: Callable[[], None],
    s: Settings,
    device: torch.device,
    before_timing: Callable[[], None] = lambda: None,
) -> tuple[float, list[float], float, float]:
    """(warm-up seconds, images/s of each timed window, wall-clock start and end of the timed
    part). Warm-up absorbs one-off costs: cuDNN algorithm choice, allocator growth, worker start,
    compilation. `before_timing` runs between the two (K processes wait for each other there)."""
    t0 = time.perf_counter()
    for _ in range(s.warmup):
        step()
    sync(device)
    warmup_s = time.perf_counter() - t0
    before_timing()
    start = time.time()  # wall clock: comparable between processes
    rates = []
    for _ in range(s.windows):
        t0 = time.perf_counter()
        for _ in range(s.steps):
            step()
        sync(device)
        rates.append(s.steps * s.batch_size / (time.perf_counter() - t0))
    return warmup_s, rates, start, time.time()


def synthetic_data(s: Settings) -> Dataset:
    return make_synthetic(train_size=s.train_size, test_size=0, seed=s.seed)


def measure(
    s: Settings,
    r: Resolved,
    net: Net,
    path: str,
    data: Dataset,
    before_timing: Callable[[], None] = lambda: None,
) -> Measurement:
    """One net on one path; `config` also records the threads and the wall-clock span of the
    timed windows (K processes are combined by them)."""
    reset_peak_memory(r.device)
    prepared = PREPARE[path](s, r, net, data)
    try:
        warmup_s, rates, start, end = time_windows(prepared.step, s, r.device, before_timing)
        peak, kind = peak_memory(r.device)
    finally:
        prepared.close()
    return Measurement(
        net=net.name(s.width),
        block=net.block,
        depth=net.depth,
        path=path,
        batch_size=s.batch_size,
        window_images_per_s=rates,
        warmup_s=warmup_s,
        peak_memory_bytes=peak,
        peak_memory_kind=kind,
        forward_flops_per_image=prepared.forward_flops,
        train_flops_per_image=prepared.train_flops,
        config={**prepared.config, "threads": torch.get_num_threads(), "start": start, "end": end},
    )


# --- K processes sharing the device -------------------------------------------------------------

BARRIER_TIMEOUT_S = 1800.0  # a sibling still compiling is waited for; a dead one is not


def _child(s: Settings, net: Net, threads: int, barrier, results) -> None:
    """One of K processes: prepare and warm up alone, then time the windows together."""
    try:
        torch.set_num_threads(threads)
        r = resolve(s)
        wait = lambda: barrier.wait(BARRIER_TIMEOUT_S)  # noqa: E731
        results.put(("ok", measure(s, r, net, "resnet-exp", synthetic_data(s), wait)))
    except BaseException as e:  # noqa: BLE001 -- reported to the parent, which raises it
        barrier.abort()  # siblings waiting at the barrier stop instead of hanging
        results.put(("error", f"{type(e).__name__}: {e}"))


def threads_per_process(s: Settings) -> int:
    """--threads, or the cores this process would use, shared out: K processes with all cores
    each would oversubscribe them."""
    return s.threads or max(1, torch.get_num_threads() // s.processes)


def measure_shared(s: Settings, net: Net) -> Measurement:
    """K copies of the resnet-exp path at once (spawned processes: CUDA cannot be forked)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(s.processes)
    results = ctx.Queue()
    threads = threads_per_process(s)
    procs = [
        ctx.Process(target=_child, args=(s, net, threads, barrier, results), daemon=True)
        for _ in range(s.processes)
    ]
    for p in procs:
        p.start()
    done: list[Measurement] = []
    errors: list[str] = []
    try:
        while len(done) + len(errors) < s.processes:
            try:
                status, payload = results.get(timeout=5)
            except queue_lib.Empty:
                crashed = [p for p in procs if p.exitcode not in (None, 0)]
                if crashed or not any(p.is_alive() for p in procs):
                    # A process killed outright (out of memory, a CUDA abort) never reaches its
                    # own abort(): release the siblings waiting at the barrier from here.
                    barrier.abort()
                    _drain(results, done, errors)
                    break
                continue
            (done if status == "ok" else errors).append(payload)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    if len(done) < s.processes:
        codes = sorted({p.exitcode for p in procs if p.exitcode})
        why = errors[0] if errors else f"a process ended without a result (exit codes {codes})"
        raise UserError(f"--processes {s.processes}: {net.name(s.width)} failed: {why}")
    return combine(done, s.steps)


def _drain(results, done: list[Measurement], errors: list[str]) -> None:
    """Collect what is already in the queue (a result may have arrived just before the end)."""
    while True:
        try:
            status, payload = results.get_nowait()
        except queue_lib.Empty:
            return
        (done if status == "ok" else errors).append(payload)


def combine(parts: list[Measurement], steps: int) -> Measurement:
    """K processes' measurements as one: window i's rate is the sum of the K window-i rates.

    The windows start together (a barrier) but may drift apart; the wall-clock rate, all images
    over the time from the first start to the last end, is the conservative figure beside it."""
    first = parts[0]
    windows = [sum(rates) for rates in zip(*(m.window_images_per_s for m in parts), strict=True)]
    start = min(m.config["start"] for m in parts)
    end = max(m.config["end"] for m in parts)
    images = sum(steps * m.batch_size * len(m.window_images_per_s) for m in parts)
    peaks = [m.peak_memory_bytes for m in parts]
    config = {k: v for k, v in first.config.items() if k not in ("start", "end")}
    return Measurement(
        net=first.net,
        block=first.block,
        depth=first.depth,
        path=first.path,
        batch_size=first.batch_size,
        window_images_per_s=windows,
        warmup_s=max(m.warmup_s for m in parts),
        peak_memory_bytes=None if None in peaks else sum(peaks),  # type: ignore[arg-type]
        peak_memory_kind=f"sum over {len(parts)} processes of {first.peak_memory_kind}",
        forward_flops_per_image=first.forward_flops_per_image,
        train_flops_per_image=first.train_flops_per_image,
        config=config,
        processes=len(parts),
        per_process_images_per_s=[m.median for m in parts],
        wall_images_per_s=images / max(end - start, 1e-9),
    )
