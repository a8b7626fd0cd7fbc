"""The one place where the Hydra config becomes typed objects. Everything downstream takes plain
arguments; nothing else reads the config."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from resnet_exp.errors import UserError
from resnet_exp.models.init import INITIALIZERS
from resnet_exp.models.net import BLOCKS, check_depth
from resnet_exp.models.shortcuts import SHORTCUTS
from resnet_exp.specs import DataSpec, LoopSpec, ModelSpec, OptimSpec, RunSpec

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
        "threads",
        "channels_last",
        "name",
        "tag",
        "data.root",
        "data.download",
        "data.verify",
        "data.cache_dir",
        "experiment",
    }
)
# Keys already spelled out in the name: block-depth_shortcut_init_sSEED.
NAMED_KEYS = frozenset({"block", "depth", "shortcut", "init", "seed", "data"})


def _positive(value: Any, key: str, kind: type = int) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise UserError(
            f"{key}={value} must be a positive {'integer' if kind is int else 'number'}"
        )
    return kind(value)


def _optional_positive(value: Any, key: str) -> int | None:
    return None if value is None else _positive(value, key)


def milestones_for(iterations: int, milestones: list[int] | None) -> tuple[int, ...]:
    """The paper drops lr at 32k and 48k of 64k: 50% and 75%, scaled to `iterations` by default."""
    if milestones is None:
        return (round(iterations * 0.5), round(iterations * 0.75))
    return tuple(_positive(m, "optim.milestones") for m in milestones)


def _flag(value: Any, key: str) -> bool | None:
    if value in ("auto", None):
        return None
    if isinstance(value, bool):
        return value
    raise UserError(f"{key}={value} must be auto, true or false")


def spec_from_config(cfg: DictConfig, multirun: bool = False) -> RunSpec:
    """Validate the composed config and turn it into a RunSpec (one line per mistake)."""
    c = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    assert isinstance(c, dict)
    if c["data"].get("root") == "???":
        raise UserError(
            f"data={c['data']['name']} needs data.root=PATH (a folder with train/ and test/)"
        )
    depth = c["depth"]
    check_depth(depth)
    if (
        c["block"]["name"] not in BLOCKS
        or c["shortcut"]["name"] not in SHORTCUTS
        or c["init"]["name"] not in INITIALIZERS
    ):
        raise UserError(
            "block/shortcut/init must name one of the config group options (see resnet-exp train --help)"
        )
    model = ModelSpec(
        depth=depth,
        block=c["block"]["name"],
        shortcut=c["shortcut"]["name"],
        width=_positive(c["width"], "width"),
        init=c["init"]["name"],
    )
    d = c["data"]
    data = DataSpec(
        source=d["name"],
        root=str(d["root"]),
        download=bool(d["download"]),
        verify=bool(d["verify"]),
        image_size=_positive(d["image_size"], "data.image_size"),
        cache_dir=d["cache_dir"],
        train_subset=_optional_positive(d["train_subset"], "data.train_subset"),
        test_subset=_optional_positive(d["test_subset"], "data.test_subset"),
        val_size=int(d["val_size"] or 0),
        augment=bool(d["augment"]),
        synthetic_train_size=_positive(d["synthetic_train_size"], "data.synthetic_train_size"),
        synthetic_test_size=_positive(d["synthetic_test_size"], "data.synthetic_test_size"),
        num_classes=_positive(d["num_classes"], "data.num_classes"),
    )
    if data.val_size < 0:
        raise UserError(f"data.val_size={data.val_size} must be 0 or positive")
    iterations = _positive(c["iterations"], "iterations")
    o = c["optim"]
    warmup = o["warmup"]
    if warmup == "auto":
        warmup = depth >= 110  # the paper warms up ResNet-110 only
    optim = OptimSpec(
        lr=_positive(o["lr"], "optim.lr", float),
        momentum=float(o["momentum"]),
        weight_decay=float(o["weight_decay"]),
        nesterov=bool(o["nesterov"]),
        milestones=milestones_for(iterations, o["milestones"]),
        gamma=_positive(o["gamma"], "optim.gamma", float),
        warmup=bool(warmup),
        warmup_lr=_positive(o["warmup_lr"], "optim.warmup_lr", float),
        warmup_error=float(o["warmup_error"]),
    )
    if not 0 <= optim.momentum < 1 or optim.weight_decay < 0:
        raise UserError(
            f"optim.momentum={optim.momentum} must be in [0, 1) and optim.weight_decay={optim.weight_decay} >= 0"
        )
    if c["precision"] not in ("fp32", "bf16"):
        raise UserError(f"precision={c['precision']} must be fp32 or bf16")
    loop = LoopSpec(
        iterations=iterations,
        batch_size=_positive(c["batch_size"], "batch_size"),
        log_every=_positive(c["log_every"], "log_every"),
        eval_every=_positive(c["eval_every"], "eval_every"),
        checkpoint_every=_positive(c["checkpoint_every"], "checkpoint_every"),
        eval_batch_size=_positive(c["eval_batch_size"], "eval_batch_size"),
        seed=int(c["seed"]),
        device=str(c["device"]),
        precision=c["precision"],
        channels_last=_flag(c["channels_last"], "channels_last"),
        threads=_optional_positive(c["threads"], "threads"),
        progress=bool(c["progress"]),
    )
    return RunSpec(
        name=c["name"],
        model=model,
        data=data,
        optim=optim,
        loop=loop,
        resume=str(c["resume"]),
        multirun=multirun,
        config=c,
    )


def result_config(config: dict) -> dict:
    """The flattened config minus NON_RESULT_KEYS: two runs agree on this iff they compute the same."""
    flat: dict = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}{k}.", v)
        else:
            flat[prefix[:-1]] = node

    walk("", {k: v for k, v in config.items() if k != "hydra"})
    return {
        k: v
        for k, v in flat.items()
        if k not in NON_RESULT_KEYS and k.split(".")[0] not in NON_RESULT_KEYS
    }


def name_suffix(task_overrides: list[str], tag: str = "") -> str:
    """`_key=value` for each command-line override that changes the result and is not in the name."""
    parts = []
    for o in task_overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if (
            key.startswith("hydra.")
            or key in NON_RESULT_KEYS
            or key in NAMED_KEYS
            or key.split(".")[0] in {"experiment"}
        ):
            continue
        parts.append(f"{key}={value}".replace("/", "-").replace(" ", ""))
    parts.sort()
    if tag:
        parts.append(str(tag))
    return "".join(f"_{p}" for p in parts)


def register_resolvers() -> None:
    """`${rx_suffix:TAG}` in conf/train.yaml: the name suffix from this job's overrides."""

    def rx_suffix(tag: str = "") -> str:
        try:
            from hydra.core.hydra_config import HydraConfig

            overrides = list(HydraConfig.get().overrides.task)
        except Exception:  # composed outside a Hydra app (e.g. in tests): no overrides
            overrides = []
        return name_suffix(overrides, tag)

    if not OmegaConf.has_resolver("rx_suffix"):
        OmegaConf.register_new_resolver("rx_suffix", rx_suffix)
