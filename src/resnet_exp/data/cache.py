"""Cache of decoded image arrays: one file per image folder and image size, named
images-<folder and size>-<file list, sizes and mtimes>.pt. When the folder's files change (or are
copied anew, with new mtimes), the new decoding replaces the old file instead of adding a 185 MB
copy for CIFAR-10 beside it, so the cache does not grow without bound."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger("resnet_exp")


def default_cache_dir() -> Path:
    return Path(os.environ.get("RESNET_EXP_CACHE", Path.home() / ".cache" / "resnet_exp"))


def cache_key(files: list[Path], image_size: int) -> tuple[str, str]:
    """(which folder at which size, which version of its files). The first stays the same when
    files in the folder are added, removed or rewritten; the second changes."""
    root = os.path.commonpath([str(p) for p in files]) if files else ""
    which = hashlib.sha256(f"v2 {image_size} {root}".encode()).hexdigest()[:16]
    state = hashlib.sha256()
    for p in files:
        st = p.stat()
        state.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return which, state.hexdigest()[:12]


# Files written before the key had two parts (images-<20 hex>.pt): nothing reads them any more.
_OLD_FORMAT = re.compile(r"images-[0-9a-f]{20}\.pt")


def drop_stale(folder: Path, current: Path, which: str) -> int:
    """Delete the cache files that `current` supersedes: earlier versions of the same folder at
    the same size (`which`, cache_key's first part), and files in the old one-part format.
    Returns the bytes freed."""
    freed = 0
    for old in folder.glob("images-*.pt"):
        if old != current and (
            old.name.startswith(f"images-{which}-") or _OLD_FORMAT.fullmatch(old.name)
        ):
            try:
                size = old.stat().st_size
                old.unlink()
                freed += size
            except OSError:  # a concurrent run removed it first, or the folder is read-only
                pass
    return freed


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
    which, state = cache_key(files, image_size)
    path = folder / f"images-{which}-{state}.pt"
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
        return arrays
    freed = drop_stale(folder, path, which)
    if freed:
        log.info("removed %.1f MB of superseded image caches from %s", freed / 1e6, folder)
    return arrays
