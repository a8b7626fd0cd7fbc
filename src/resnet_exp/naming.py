"""What a run and its data are called: the resolvers conf/train.yaml names runs with, the keys
that stay out of a name, and when two recorded datasets are the same images. Kept free of
torch: `resnet-exp train --help`, `--cfg`, the key checks and `report` use only this, and should
not pay for importing torch (1.5-4 s on a 2-core machine)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from omegaconf import OmegaConf

# Keys that do not change what a run computes: they may differ when a run is resumed, and they
# stay out of the run's name.
NON_RESULT_KEYS = frozenset(
    {
        "device",
        "progress",
        "resume",
        "out_root",
        "sweep_name",
        "log_every",
        "eval_every",
        "checkpoint_every",
        "eval_batch_size",
        "eval_subset",  # intermediate evaluations only; the final one always uses every image
        "threads",
        "channels_last",
        "compile",
        "name",
        "tag",
        "data.root",
        "data.download",
        "data.verify",
        "data.cache_dir",
        "experiment",
        "signals",
        # How many processes share a run (recorded in its provenance) and whether they share
        # BatchNorm statistics: a checkpoint resumes under any number of processes.
        "sync_bn",
        "probe_batch",  # resnet-exp probe's own keys: what is probed, not what it is
        "probe_seed",
        "from",
    }
)
# Keys already spelled out in the name: block-depth_shortcut_init_sSEED.
NAMED_KEYS = frozenset({"block", "depth", "shortcut", "init", "seed"})


def name_suffix(task_overrides: list[str], tag: str = "", single_run: bool = False) -> str:
    """`_key=value` for each command-line override that changes the result and is not in the name.

    In a single run the experiment preset is named too (a sweep's folder already carries it),
    so a laptop-scale run never lands in the folder of a paper-scale one.
    """
    parts = []
    for o in task_overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key.startswith("hydra.") or key in NAMED_KEYS:
            continue
        if key in NON_RESULT_KEYS and not (single_run and key == "experiment"):
            continue
        parts.append(f"{key}={value}".replace("/", "-").replace(" ", ""))
    parts.sort()
    if tag:
        parts.append(str(tag))
    return "".join(f"_{p}" for p in parts)


def register_resolvers() -> None:
    """Resolvers used by conf/train.yaml: `${rx_suffix:TAG}` (the name suffix from this job's
    overrides) and `${rx_path:PATH}` (~ expanded, as the user meant it)."""

    def rx_suffix(tag: str = "") -> str:
        try:
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            hc = HydraConfig.get()
            overrides, single = list(hc.overrides.task), hc.mode == RunMode.RUN
        except Exception:  # composed outside a Hydra app (e.g. in tests): no overrides
            overrides, single = [], False
        return name_suffix(overrides, tag, single_run=single)

    if not OmegaConf.has_resolver("rx_suffix"):
        OmegaConf.register_new_resolver("rx_suffix", rx_suffix)
    if not OmegaConf.has_resolver("rx_probe_name"):
        # conf/probe.yaml: a probe of a run is named after the run's folder.
        OmegaConf.register_new_resolver(
            "rx_probe_name",
            lambda source, default: f"from_{Path(str(source)).name}" if source else default,
        )
    if not OmegaConf.has_resolver("rx_path"):
        OmegaConf.register_new_resolver("rx_path", lambda p: os.path.expanduser(str(p)))


_IMAGEFOLDER_NAME = re.compile(r"^imagefolder:(?P<label>.*)@(?P<fp>[0-9a-f]{12})$")


def dataset_key(name: str | None) -> str | None:
    """What makes two recorded dataset names the same data: `imagefolder:cifar10-jpeg@3f2a...`
    and `imagefolder:copy@3f2a...` agree (same content). Names written before content
    fingerprints (`imagefolder:/abs/path`) are kept as they are."""
    if name is None:
        return None
    m = _IMAGEFOLDER_NAME.match(name)
    return f"imagefolder@{m['fp']}" if m else name
