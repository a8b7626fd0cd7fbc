"""Checkpoints: written atomically, read with errors a user can act on."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from resnet_exp.errors import UserError

FORMAT_VERSION = 1


def capture_rng() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        # One state per GPU of the machine that saved it: a checkpoint from a 4-GPU node resumes
        # on a 1-GPU one (training itself draws nothing from the CUDA generators).
        for i, s in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file, fsync, then rename: a crash never leaves half a checkpoint."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save({"format_version": FORMAT_VERSION, **state}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint, or raise a UserError saying what is wrong with it (never ignore it)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        # Our checkpoints hold RNG states (numpy arrays, python tuples), so weights_only=False;
        # only load checkpoints you trust, as with any pickle.
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise UserError(
            f"checkpoint {path} is corrupted or unreadable ({type(e).__name__}); move it away to start over, or pass resume=PATH to another checkpoint"
        ) from None
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"checkpoint {path} is not a resnet-exp checkpoint of format {FORMAT_VERSION}; move it away to start over"
        )
    return state
