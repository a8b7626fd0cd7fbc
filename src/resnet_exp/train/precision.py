"""precision=auto: bf16 autocast where the hardware computes in bf16 natively, fp32 elsewhere.

CUDA GPUs and CPUs with AMX or AVX512-BF16 run bf16 matrix and convolution kernels natively
(oneDNN picks them from the CPU's flags); on other CPUs bf16 is emulated through fp32 and is
slower than fp32 itself (measured: docs/performance.md). The CPU is asked, never guessed from
its model name: the Linux kernel's flag list first, torch's own cpuinfo reading elsewhere.
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


def resolve_precision(
    requested: str,
    device: torch.device,
    flags: frozenset[str] | None = None,
    recorded: str | None = None,
) -> tuple[str, str | None]:
    """(fp32 | bf16, a one-line warning or None) for `requested` on `device`.

    `recorded`: the precision a run being resumed trained in. `auto` keeps it, so a run never
    changes precision half-way (its result identity includes the precision), even when it is
    resumed on another machine; the warning then says if it is not native there.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision={requested} must be one of {', '.join(PRECISIONS)}")
    native = device.type == "cuda" or bool(native_bf16_flags(flags))
    if requested == "auto":
        chosen = recorded if recorded in ("fp32", "bf16") else ("bf16" if native else "fp32")
    else:
        chosen = requested
    if chosen == "bf16" and not native:
        return chosen, (
            "precision=bf16 on a CPU without AMX or AVX512-BF16: bf16 is emulated here and "
            "usually slower than fp32 (precision=auto picks fp32 on this CPU)"
        )
    return chosen, None


def describe(precision: str, device: torch.device, flags: frozenset[str] | None = None) -> str:
    """For logs and provenance: the precision and why it is native (or not) here."""
    if device.type == "cuda":
        return f"{precision} (cuda)"
    have = native_bf16_flags(flags)
    return f"{precision} (cpu bf16 flags: {', '.join(have) if have else 'none'})"
