"""precision=auto: bf16 autocast where the hardware computes in bf16 natively, fp32 elsewhere.

CUDA GPUs from compute capability 8.0 (Ampere) and CPUs with AMX or AVX512-BF16 run bf16 matrix
and convolution kernels natively (oneDNN picks them from the CPU's flags); elsewhere bf16 is
emulated and slower than fp32 itself (measured on CPU: docs/performance.md). The hardware is
asked, never guessed from a model name: for a CPU the Linux kernel's flag list first, torch's
own cpuinfo reading elsewhere; for a GPU torch.cuda.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
# The flags oneDNN uses for native bf16 convolutions and matrix multiplies on x86.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (Linux), or as torch reads them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    found = set()
    # Private helpers (torch >= 2.3) over the same cpuinfo library oneDNN uses; absent: none.
    for flag, probe in (
        ("amx_bf16", "_is_amx_tile_supported"),
        ("avx512_bf16", "_is_avx512_bf16_supported"),
    ):
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                found.add(flag)
        except Exception:  # an unexpected torch build: treat the feature as absent
            pass
    return frozenset(found)


def native_bf16_flags(flags: frozenset[str] | None = None) -> list[str]:
    """Which of the native-bf16 flags this CPU has (empty: bf16 would be emulated)."""
    flags = cpu_flags() if flags is None else flags
    return [f for f in NATIVE_BF16_FLAGS if f in flags]


def cuda_native_bf16(device: torch.device) -> bool:
    """Whether the GPU computes bf16 natively (compute capability >= 8.0)."""
    try:
        with torch.cuda.device(device):
            return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no including_emulation: ask the capability itself
        return torch.cuda.get_device_capability(device) >= (8, 0)


def resolve_precision(
    requested: str,
    device: torch.device,
    flags: frozenset[str] | None = None,
    recorded: str | None = None,
    cuda_bf16: bool | None = None,
) -> tuple[str, str | None]:
    """(fp32 | bf16, a one-line warning or None) for `requested` on `device`.

    `flags` (CPU) and `cuda_bf16` (GPU) stand in for asking the hardware, in tests.
    `recorded`: the precision a run being resumed trained in. `auto` keeps it, so a run never
    changes precision half-way (its result identity includes the precision), even when it is
    resumed on another machine; the warning then says if it is not native there.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision={requested} must be one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        native = cuda_native_bf16(device) if cuda_bf16 is None else cuda_bf16
    else:
        native = bool(native_bf16_flags(flags))
    if requested == "auto":
        chosen = recorded if recorded in ("fp32", "bf16") else ("bf16" if native else "fp32")
    else:
        chosen = requested
    if chosen == "bf16" and not native:
        where = (
            "a GPU below compute capability 8.0"
            if device.type == "cuda"
            else "a CPU without AMX or AVX512-BF16"
        )
        return chosen, (
            f"precision=bf16 on {where}: bf16 is emulated here and usually slower than fp32 "
            "(precision=auto picks fp32 here)"
        )
    return chosen, None


def describe(precision: str, device: torch.device, flags: frozenset[str] | None = None) -> str:
    """For logs and provenance: the precision and why it is native (or not) here."""
    if device.type == "cuda":
        return f"{precision} (cuda)"
    have = native_bf16_flags(flags)
    return f"{precision} (cpu bf16 flags: {', '.join(have) if have else 'none'})"
