"""The one place where the Hydra config becomes typed objects. Everything downstream takes plain
arguments; nothing else reads the config."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from omegaconf import DictConfig, OmegaConf

from resnet_exp.data.sources import dataset_identity
from resnet_exp.errors import UserError
from resnet_exp.models.blocks import ACTIVATIONS, NORMS
from resnet_exp.models.init import INITIALIZERS
from resnet_exp.models.net import BLOCKS, check_branch_options, check_depth
from resnet_exp.models.shortcuts import SHORTCUTS
from resnet_exp.specs import DataSpec, LoopSpec, ModelSpec, OptimSpec, RunSpec
from resnet_exp.train.precision import PRECISIONS

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def compile_mode(value: Any) -> str | None:
    """compile=false (eager) | true (torch.compile's default mode) | a mode name | auto
    (decided per device when the run starts: resolve_compile)."""
    if value is False or value is None:
        return None
    if value == "auto":
        return "auto"
    if value is True:
        return "default"
    if value in COMPILE_MODES:
        return str(value)
    raise UserError(
        f"compile={value} must be auto, false, true or one of {', '.join(COMPILE_MODES)}"
    )


def resolve_compile(mode: str | None, device_type: str) -> str | None:
    """compile=auto: where torch.compile makes a whole run faster, compile time included.

    Measured on whole laptop runs (docs/performance.md): on CPU the compiled step is at best a
    few percent faster than eager bf16 + channels_last and slower for the deeper nets, so a run
    does not win back its 20-75 s of compiling; off. On CUDA nothing has been measured yet
    (issue 28); off until a measurement says otherwise. Explicit true/modes are kept.
    """
    if mode != "auto":
        return mode
    return None


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UserError(f"{key}={value} must be one of {', '.join(choices)}")
    return str(value)


def _integer(value: Any, key: str, minimum: int | None = 1) -> int:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and float(value).is_integer()
    )
    if not ok or (minimum is not None and value < minimum):
        want = (
            "an integer"
            if minimum is None
            else ("a positive integer" if minimum == 1 else f"an integer >= {minimum}")
        )
        raise UserError(f"{key}={value} must be {want}")
    return int(value)


def _number(
    value: Any, key: str, low: float = 0.0, high: float = float("inf"), low_open: bool = True
) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or value < low or (low_open and value == low) or value >= high:
        bounds = f"{'>' if low_open else '>='} {low:g}" + (
            f" and < {high:g}" if high != float("inf") else ""
        )
        raise UserError(f"{key}={value} must be a number {bounds}")
    return float(value)


def _optional_integer(value: Any, key: str) -> int | None:
    return None if value is None else _integer(value, key)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{key}={value} must be true or false")
    return value


def _flag(value: Any, key: str) -> bool | None:
    """auto -> None (decided later, per device); otherwise true/false."""
    return None if value in ("auto", None) else _bool(value, key)


def milestones_for(iterations: int, milestones: Any) -> tuple[int, ...]:
    """The paper drops lr at 32k and 48k of 64k: 50% and 75%, scaled to `iterations` by default."""
    if milestones is None:
        # A default drop at or after the last iteration (iterations <= 2) would never happen:
        # leave it out instead of warning about a milestone the user never set.
        return tuple(
            m for m in (round(iterations * 0.5), round(iterations * 0.75)) if 0 < m < iterations
        )
    if not isinstance(milestones, list):
        raise UserError(
            f"optim.milestones={milestones} must be a list of iterations, e.g. optim.milestones=[32000,48000]"
        )
    drops = tuple(_integer(m, f"optim.milestones entry {m}") for m in milestones)
    if any(b <= a for a, b in zip(drops, drops[1:], strict=False)):
        raise UserError(
            f"optim.milestones={list(drops)} must be strictly increasing (each lr drop after the one before), e.g. optim.milestones=[32000,48000]"
        )
    return drops


def unreached_milestones(iterations: int, milestones: tuple[int, ...]) -> list[int]:
    """Milestones at or after the last iteration: their lr drop never takes effect."""
    return [m for m in milestones if m >= iterations]


def spec_from_config(
    cfg: DictConfig, multirun: bool = False, overrides: list[str] | None = None
) -> RunSpec:
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
    # Residual branches only: a plain net has none, so for it the flag changes nothing and is
    # recorded as false (its result identity is that of the plain net without it).
    # `.get`: configs recorded before this key existed read as false, as they ran.
    zero_residual = _bool(c["init"].get("zero_residual", False), "init.zero_residual") and c[
        "block"
    ]["name"] in ("residual", "preact")
    model = ModelSpec(
        depth=depth,
        block=c["block"]["name"],
        shortcut=c["shortcut"]["name"],
        width=_integer(c["width"], "width"),
        init=c["init"]["name"],
        zero_residual=zero_residual,
        # Only where it changes the net: zero_residual on, shortcut A. `.get`: configs recorded
        # before this key existed zeroed the padded channels' branches too, so they read as true.
        # (Checked as a bool first, whether or not it matters.)
        zero_residual_padded=_bool(
            c["init"].get("zero_residual_padded", True), "init.zero_residual_padded"
        )
        and zero_residual
        and c["shortcut"]["name"] == "A",
        # `.get`: configs recorded before these keys existed ran the paper's BN + ReLU.
        norm=_choice(c.get("norm", "batch"), "norm", NORMS),
        activation=_choice(c.get("activation", "relu"), "activation", ACTIVATIONS),
        # The slope only matters for leaky_relu; for relu it is recorded as 0 (the same net).
        leaky_slope=_number(c.get("leaky_slope", 0.01), "leaky_slope", low_open=False)
        if c.get("activation", "relu") == "leaky_relu"
        else 0.0,
        # `.get`: configs recorded before this key existed ran without it.
        skipinit=_bool(c["init"].get("skipinit", False), "init.skipinit"),
        # `.get`: configs recorded before this key existed ran without it.
        zero_classifier=_bool(c["init"].get("zero_classifier", False), "init.zero_classifier"),
    )
    if model.zero_residual and model.norm != "batch" and model.block == "residual":
        # The residual block's branch ends in a BN whose gamma is zeroed; a pre-activation
        # branch ends in a conv, zeroed with or without BatchNorm.
        raise UserError("init.zero_residual=true needs BatchNorm; use norm=batch")
    check_branch_options(model.block, model.norm, model.init == "fixup", model.skipinit)
    d = c["data"]
    data = DataSpec(
        source=d["name"],
        root=str(d["root"]),
        download=_bool(d["download"], "data.download"),
        verify=_bool(d["verify"], "data.verify"),
        image_size=_integer(d["image_size"], "data.image_size"),
        cache_dir=d["cache_dir"],
        train_subset=_optional_integer(d["train_subset"], "data.train_subset"),
        test_subset=_optional_integer(d["test_subset"], "data.test_subset"),
        val_size=_integer(d["val_size"] or 0, "data.val_size", minimum=0),
        augment=_bool(d["augment"], "data.augment"),
        synthetic_train_size=_integer(d["synthetic_train_size"], "data.synthetic_train_size"),
        synthetic_test_size=_integer(d["synthetic_test_size"], "data.synthetic_test_size"),
        num_classes=_integer(d["num_classes"], "data.num_classes"),
    )
    iterations = _integer(c["iterations"], "iterations")
    o = c["optim"]
    warmup = (
        depth >= 110 if o["warmup"] == "auto" else _flag(o["warmup"], "optim.warmup")
    )  # paper: ResNet-110 only
    optim = OptimSpec(
        lr=_number(o["lr"], "optim.lr"),
        momentum=_number(o["momentum"], "optim.momentum", 0.0, 1.0, low_open=False),
        weight_decay=_number(o["weight_decay"], "optim.weight_decay", low_open=False),
        nesterov=_bool(o["nesterov"], "optim.nesterov"),
        milestones=milestones_for(iterations, o["milestones"]),
        gamma=_number(o["gamma"], "optim.gamma"),
        warmup=bool(warmup),
        warmup_lr=_number(o["warmup_lr"], "optim.warmup_lr"),
        warmup_error=_number(o["warmup_error"], "optim.warmup_error", 0.0, 1.0),
    )
    # .get: configs recorded before `auto` existed ran in fp32 unless they said bf16.
    precision = _choice(c.get("precision", "fp32"), "precision", PRECISIONS)
    loop = LoopSpec(
        iterations=iterations,
        batch_size=_integer(c["batch_size"], "batch_size"),
        log_every=_integer(c["log_every"], "log_every"),
        eval_every=_integer(c["eval_every"], "eval_every"),
        checkpoint_every=_integer(c["checkpoint_every"], "checkpoint_every"),
        eval_batch_size=_integer(c["eval_batch_size"], "eval_batch_size"),
        # .get: configs recorded before the key existed evaluated every image every time.
        eval_subset=_optional_integer(c.get("eval_subset"), "eval_subset"),
        seed=_integer(c["seed"], "seed", minimum=0),
        device=str(c["device"]),
        precision=precision,
        channels_last=_flag(c["channels_last"], "channels_last"),
        threads=_optional_integer(c["threads"], "threads"),
        # .get: configs recorded before the key existed must still resume and report.
        compile=compile_mode(c.get("compile", False)),
        progress=_bool(c["progress"], "progress"),
        signals=_bool(c.get("signals", True), "signals"),
        sync_bn=_bool(c.get("sync_bn", False), "sync_bn"),
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
        overrides=list(overrides or []),
    )


def build_model(spec: RunSpec, num_classes: int):
    """The run's net, initialized from its seed (weights depend on nothing else)."""
    from resnet_exp.models.net import build_net

    m = spec.model
    return build_net(
        m.depth,
        m.block,
        m.shortcut,
        m.width,
        num_classes,
        m.init,
        seed=spec.loop.seed,
        zero_residual=m.zero_residual,
        zero_residual_padded=m.zero_residual_padded,
        norm=m.norm,
        activation=m.activation,
        slope=m.leaky_slope,
        skipinit=m.skipinit,
        zero_classifier=m.zero_classifier,
    )


def result_identity(spec: RunSpec) -> dict:
    """What a run computes, from the *resolved* spec: two runs agree on this iff they train the
    same net on the same data the same way. Resolved, so `milestones=null` equals the explicit
    [32000, 48000] it stands for; where and how often things are logged is left out."""
    d = spec.data
    return {
        **{f"model.{k}": v for k, v in asdict(spec.model).items()},
        **{
            f"optim.{k}": list(v) if isinstance(v, tuple) else v
            for k, v in asdict(spec.optim).items()
        },
        "data": dataset_identity(d.source, d.root),
        **{
            f"data.{k}": getattr(d, k)
            for k in ("image_size", "train_subset", "test_subset", "val_size", "augment")
        },
        **(
            {
                f"data.{k}": getattr(d, k)
                for k in ("synthetic_train_size", "synthetic_test_size", "num_classes")
            }
            if d.source == "synthetic"
            else {}
        ),
        **{
            f"loop.{k}": getattr(spec.loop, k)
            for k in ("iterations", "batch_size", "seed", "precision")
        },
    }


def identity_of_config(config: dict) -> dict:
    """result_identity of a run recorded earlier (its resolved config from summary/checkpoint)."""
    try:
        return result_identity(spec_from_config(OmegaConf.create(config)))
    except (UserError, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"the recorded config cannot be read by this version of resnet-exp ({type(e).__name__}: {e}); start a separate run with tag=NAME"
        ) from None


def identity_differences(old: dict, new: dict) -> list[str]:
    return [
        f"{k}: {old.get(k)} -> {new.get(k)}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
