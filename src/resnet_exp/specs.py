"""Plain typed descriptions of a run. Built from the Hydra config in build.py, nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    depth: int
    block: str
    shortcut: str
    width: int
    init: str
    zero_residual: bool = False  # residual branches start at gamma=0 (residual nets only)
    # With zero_residual and shortcut A: also zero the branch of every zero-padded channel (what
    # zero_residual did before; those channels then stay exactly zero). False wherever it changes
    # nothing (no zero_residual, no zero-padding shortcut).
    zero_residual_padded: bool = False
    norm: str = "batch"  # batch | none (no BatchNorm, conv biases on)
    activation: str = "relu"  # relu | leaky_relu
    leaky_slope: float = 0.01  # negative slope of leaky_relu (recorded as 0.0 for relu)
    skipinit: bool = False  # a scalar at the end of each residual branch, starting at 0 (SkipInit)
    zero_classifier: bool = False  # the FC layer starts at zero (Fixup does it too)


@dataclass(frozen=True)
class DataSpec:
    source: str
    root: str
    download: bool = True
    verify: bool = True
    image_size: int = 32
    cache_dir: str | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    val_size: int = 0
    augment: bool = True
    synthetic_train_size: int = 512
    synthetic_test_size: int = 256
    num_classes: int = 10


@dataclass(frozen=True)
class OptimSpec:
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    milestones: tuple[int, ...] = (32000, 48000)
    gamma: float = 0.1
    warmup: bool = False
    warmup_lr: float = 0.01
    warmup_error: float = 0.8


@dataclass(frozen=True)
class LoopSpec:
    iterations: int = 64000
    batch_size: int = 128
    log_every: int = 100
    eval_every: int = 2000
    checkpoint_every: int = 2000
    eval_batch_size: int = 1000
    # Evaluations before the last use this many images of each split (a fixed seeded subset,
    # the same every time); the last uses all. None: every evaluation uses all.
    eval_subset: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool | None = None  # None: decide by device
    threads: int | None = None
    # torch.compile mode (default, reduce-overhead, ...), None: eager; "auto" until resolved.
    compile: str | None = None
    progress: bool = True
    signals: bool = True  # per-stage response std / gradient norm at every evaluation
    sync_bn: bool = False  # under torchrun: BatchNorm over the global batch, not each rank's slice


@dataclass
class RunSpec:
    name: str
    model: ModelSpec
    data: DataSpec
    optim: OptimSpec
    loop: LoopSpec
    resume: str = "auto"  # auto | never | path to a checkpoint
    multirun: bool = False
    config: dict = field(default_factory=dict)  # the whole resolved config, for the record
    overrides: list[str] = field(default_factory=list)  # this job's command-line overrides
    # What precision= asked for (auto, fp32, bf16), set where the runner resolves it;
    # loop.precision is then what it resolved to.
    requested_precision: str = ""
