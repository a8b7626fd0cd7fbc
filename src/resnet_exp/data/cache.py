"""Cache of decoded image arrays, keyed by the file list (paths, sizes, mtimes) and image size."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger("resnet_exp")


def default_cache_dir() -> Path:
    return Path(os.environ.get("RESNET_EXP_CACHE", Path.home() / ".cache" / "resnet_exp"))


def cache_key(files: list[Path], image_size: int) -> str:
    h = hashlib.sha256(f"v1 {image_size}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cached(
    decode: Callable[[], dict],
    files: list[Path],
    image_size: int,
    cache_dir: str | Path | None = None,
) -> dict:
    """Return decode()'s arrays (tensors, and anything else torch.load reads back safely), from the cache when the same files were decoded before.

    A cache that cannot be read is rebuilt; one that cannot be written is skipped (the data
    root may be read-only and the cache is only a speed-up).
    """
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    path = folder / f"images-{cache_key(files, image_size)}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:
            pass
    # A cold cache takes seconds per 10k images (15-20 s for CIFAR-10's 60k JPEGs on 2 cores):
    # say so, or the terminal stays blank while it happens.
    log.info("decoding %d images (once: cached in %s for later runs) ...", len(files), folder)
    arrays = decode()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(arrays, tmp)
        os.replace(tmp, path)  # atomic: a concurrent run never reads half a file
    except OSError:
        pass
    return arrays
