"""What `resnet-exp bench` was asked to measure: flags in, checked `Settings` out."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from resnet_exp.build import COMPILE_MODES
from resnet_exp.commandline import parse_depths
from resnet_exp.errors import UserError
from resnet_exp.models.net import BLOCKS
from resnet_exp.models.shortcuts import SHORTCUTS
from resnet_exp.train.loop import default_channels_last
from resnet_exp.train.precision import resolve_precision
from resnet_exp.train.runner import resolve_device

PROG = "resnet-exp bench"
PATHS = ("resnet-exp", "baseline")
# The paper's protocol: 64k iterations per run, test error every 2000 (our default eval_every).
PAPER_ITERATIONS = 64000
PAPER_EVAL_EVERY = 2000
CIFAR_TEST_SIZE = 10000


@dataclass(frozen=True)
class Settings:
    depths: tuple[int, ...]
    blocks: tuple[str, ...]
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
    processes: int
    num_workers: int
    train_size: int
    seed: int
    sweep_iterations: int
    json: str | None
    eval_every: int = 2000  # the projection's evaluations: every eval_every and at the end
    eval_subset: int | None = None  # images of the intermediate evaluations (None: all 10k)
    experiment: str | None = None  # the preset whose sweep is projected
    outer: str = "block"  # the sweep's job order: "block" (all depths of a block first) or "depth"

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.only,) if self.only else PATHS


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
        description="Training throughput (images/s, median of timed windows) and peak memory\n"
        "of resnet-exp's training step vs a torchvision/DataLoader baseline, on synthetic\n"
        "CIFAR-shaped data, and the time a sweep of the measured nets would take.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples (times on a 2-core AMD EPYC):
  resnet-exp bench
      your machine's speed against a plain PyTorch script (77 s)
  resnet-exp bench --experiment degradation_laptop_fig6_w4
      predicts make sweep-cpu's time on this machine (about 1.5 min)
  resnet-exp bench --depths 20 --width 8 --batch-size 64 --only resnet-exp
      one net at the laptop presets' size (seconds)""",
    )
    p.add_argument("--depths", default=None, help="comma-separated depths 6n+2 (default 20,56)")
    p.add_argument(
        "--block",
        default=None,
        help=f"comma-separated blocks from {', '.join(BLOCKS)} (default residual)",
    )
    p.add_argument("--shortcut", default="A", choices=SHORTCUTS)
    p.add_argument("--width", type=int, default=None, help="base filters (default 16)")
    p.add_argument("--batch-size", type=int, default=None, help="(default 128)")
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
        default=None,
        choices=("auto", "fp32", "bf16"),
        help="resnet-exp path only; auto = bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else fp32 (the baseline is always fp32)",
    )
    p.add_argument(
        "--compile", action="store_true", help="wrap resnet-exp's model in torch.compile"
    )
    p.add_argument("--compile-mode", default="default", choices=COMPILE_MODES)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (per process with --processes; default: the cores shared out)",
    )
    p.add_argument("--only", choices=PATHS, default=None, help="measure one path only")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="run K copies of the resnet-exp path at once on the device and report their sum "
        "(several runs sharing one GPU); implies --only resnet-exp (default 1)",
    )
    p.add_argument(
        "--num-workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="baseline DataLoader workers (default min(4, cpu count))",
    )
    p.add_argument("--train-size", type=int, default=5000, help="synthetic training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sweep-iterations",
        type=int,
        default=None,
        help=f"iterations per run for the projected sweep time (default {PAPER_ITERATIONS}, the paper's)",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="also write every number here")
    p.add_argument(
        "--experiment",
        metavar="NAME",
        default=None,
        help="measure the nets of a preset (conf/experiment/NAME.yaml) as its sweep runs them "
        "(width, batch, precision, runs at a time) and project that sweep's time on this machine",
    )
    return p


# Flags that --experiment sets from the preset; giving them too would measure something else.
PRESET_FLAGS = (
    "depths",
    "block",
    "width",
    "batch_size",
    "precision",
    "processes",
    "sweep_iterations",
)


def preset_values(name: str) -> dict:
    """What a preset's sweep trains: its nets, their width/batch/iterations/evaluations and
    precision, and how many runs its launcher runs at once (composed as `train` composes it)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import MissingConfigException
    from omegaconf import OmegaConf

    from resnet_exp.commandline import config_dir
    from resnet_exp.naming import register_resolvers

    register_resolvers()
    presets = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
    if name not in presets:
        raise UserError(f"--experiment {name}: no such preset; choose from {', '.join(presets)}")
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        try:
            cfg = compose("train", overrides=[f"experiment={name}"], return_hydra_config=True)
        except MissingConfigException as e:  # pragma: no cover - the list above guards it
            raise UserError(f"--experiment {name}: {e}") from None
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default={}) or {}
    # Hydra's sweeper runs the jobs with the first listed key outermost.
    swept = [k for k in params if k in ("depth", "block")]
    n_jobs = int(OmegaConf.select(cfg, "hydra.launcher.n_jobs", default=1) or 1)
    return {
        "depths": str(params.get("depth", cfg.depth)),
        "block": str(params.get("block", cfg.block.name)),
        "width": int(cfg.width),
        "batch_size": int(cfg.batch_size),
        "precision": str(cfg.precision),
        "processes": max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1) + 1 + n_jobs),
        "sweep_iterations": int(cfg.iterations),
        "eval_every": int(cfg.eval_every),
        "eval_subset": None if cfg.eval_subset is None else int(cfg.eval_subset),
        "outer": swept[0] if swept else "block",
    }


def parse_blocks(text: str) -> tuple[str, ...]:
    blocks = tuple(dict.fromkeys(b.strip() for b in text.split(",") if b.strip()))
    unknown = [b for b in blocks if b not in BLOCKS]
    if not blocks or unknown:
        raise UserError(
            f"--block {text!r}: choose from {', '.join(BLOCKS)}, comma-separated (e.g. plain,residual)"
        )
    return blocks


def check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')}={value} must be at least 1")


DEFAULTS = {
    "depths": "20,56",
    "block": "residual",
    "width": 16,
    "batch_size": 128,
    "precision": "auto",
    "processes": 1,
    "sweep_iterations": PAPER_ITERATIONS,
    "eval_every": PAPER_EVAL_EVERY,
    "eval_subset": None,
    "outer": "block",
}


def parse_settings(argv: list[str]) -> Settings:
    a = build_parser().parse_args(argv)
    given = [f for f in PRESET_FLAGS if getattr(a, f) is not None]
    if a.experiment is not None and given:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise UserError(f"--experiment {a.experiment} sets {flags} from the preset; drop them")
    values = preset_values(a.experiment) if a.experiment is not None else {}
    for key, default in DEFAULTS.items():
        if getattr(a, key, None) is None:
            setattr(a, key, values.get(key, default))
    check_positive(
        width=a.width,
        batch_size=a.batch_size,
        steps=a.steps,
        windows=a.windows,
        threads=a.threads,
        processes=a.processes,
        sweep_iterations=a.sweep_iterations,
    )
    if (a.warmup is not None and a.warmup < 0) or a.num_workers < 0:
        raise UserError("--warmup and --num-workers must not be negative")
    if a.train_size < a.batch_size:
        raise UserError(f"--train-size={a.train_size} is smaller than --batch-size={a.batch_size}")
    if a.compile_mode != "default" and not a.compile:
        raise UserError(f"--compile-mode {a.compile_mode} needs --compile")
    if a.processes > 1 and a.only == "baseline":
        raise UserError(
            "--processes shares the device between copies of the resnet-exp path; drop --only baseline"
        )
    if a.json is not None and not Path(a.json).expanduser().parent.is_dir():
        # Checked now, not after minutes of measuring.
        raise UserError(f"--json {a.json}: the folder {Path(a.json).parent} does not exist")
    warmup = a.warmup if a.warmup is not None else (20 if a.compile else 5)
    return Settings(
        depths=parse_depths(a.depths),
        blocks=parse_blocks(a.block),
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
        # The baseline is what one training script does on its own; it is not shared out.
        only="resnet-exp" if a.processes > 1 else a.only,
        processes=a.processes,
        num_workers=a.num_workers,
        train_size=a.train_size,
        seed=a.seed,
        sweep_iterations=a.sweep_iterations,
        json=a.json,
        eval_every=a.eval_every,
        eval_subset=a.eval_subset,
        experiment=a.experiment,
        outer=a.outer,
    )


def resolve(s: Settings, warn: bool = False) -> Resolved:
    """The product's per-device defaults, as `resnet-exp train` decides them: bf16 where the
    device computes it natively (resolve_precision), channels_last by default_channels_last."""
    device = resolve_device(s.device)
    precision, warning = resolve_precision(s.precision, device)
    if warning and warn:
        print(f"warning: {warning}", file=sys.stderr)
    auto = default_channels_last(device, s.width, precision)
    channels_last = {"on": True, "off": False, "auto": auto}[s.channels_last]
    return Resolved(device, channels_last, precision)
