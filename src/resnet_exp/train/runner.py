"""One run, start to finish, in its run directory: resume or skip, train, write the summary.

Statuses (summary.json "status"): running, completed, interrupted (Ctrl-C/SIGTERM, resumable),
diverged (non-finite loss; not resumed), failed (an unexpected error; re-running retries it).
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from resnet_exp.build import (
    build_model,
    identity_differences,
    identity_of_config,
    resolve_compile,
    result_identity,
    unreached_milestones,
)
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.splits import SPLIT_SEED, prepare_data
from resnet_exp.errors import UserError
from resnet_exp.models.net import count_params
from resnet_exp.naming import dataset_key
from resnet_exp.paths import ensure_writable_dir
from resnet_exp.specs import RunSpec
from resnet_exp.train import distributed
from resnet_exp.train.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from resnet_exp.train.distributed import Dist
from resnet_exp.train.loop import EvalSet, Trainer, default_channels_last
from resnet_exp.train.metrics import MetricsWriter
from resnet_exp.train.precision import describe, native_bf16_flags, resolve_precision
from resnet_exp.train.progress import ProgressBar
from resnet_exp.train.provenance import now, provenance
from resnet_exp.train.stops import StopRequest

log = logging.getLogger("resnet_exp")

EXIT_CODES = {"completed": 0, "failed": 1, "diverged": 3, "interrupted": 130}


@dataclass
class Outcome:
    status: str
    exit_code: int
    message: str
    # To call once the outcome is reported: hand a cluster's time-limit signal on to the
    # launcher's own handler (submitit requeues the job); see train.stops.
    then: Callable[[], None] | None = None


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
            raise UserError(
                f"device={requested} but no CUDA device is available (torch {torch.__version__}, {build}); use device=cpu or device=auto"
            )
        return torch.device(requested)
    if requested == "cpu":
        return torch.device("cpu")
    raise UserError(f"device={requested} must be auto, cpu, cuda or cuda:N")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def read_summary(run_dir: Path) -> dict | None:
    path = run_dir / "summary.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_summary(run_dir: Path, summary: dict) -> None:
    tmp = run_dir / f".summary.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    os.replace(tmp, run_dir / "summary.json")


def config_differences(recorded: dict, spec: RunSpec) -> list[str]:
    """How a recorded run's config differs from `spec` in anything that changes the result."""
    return identity_differences(identity_of_config(recorded), result_identity(spec))


def check_same_data(run_dir: Path, recorded: str | None, current: str) -> None:
    """A run resumes only on the images it trained on. Image folders are compared by content
    (`imagefolder:NAME@FINGERPRINT`), so a moved or copied folder is fine; runs recorded before
    fingerprints named a path, which cannot be checked against content."""
    if recorded is None or dataset_key(recorded) == dataset_key(current):
        return
    if recorded.startswith("imagefolder:/"):
        log.warning(
            "%s recorded its images by path (%s), before content fingerprints; now reading %s, "
            "which cannot be checked against it",
            run_dir,
            recorded.removeprefix("imagefolder:"),
            current,
        )
        return
    raise UserError(
        f"{run_dir} trained on {recorded}, but the data now read is {current} (different images); point data.root at the same images, or start a separate run with tag=NAME"
    )


def check_writable(run_dir: Path) -> None:
    try:
        ensure_writable_dir(run_dir)
    except OSError as e:
        raise UserError(
            f"cannot write to the run directory {run_dir} ({e.strerror}); set out_root=PATH to a writable folder"
        ) from None


def run(spec: RunSpec, run_dir: Path, stop_file: Path | None = None) -> Outcome:
    """Train `spec` in `run_dir`. User mistakes raise UserError before anything run-like is written.

    Ctrl-C / SIGTERM are caught from the start (data loading included), not only during training.
    `stop_file`, if given, stops the run like a signal once it exists (see stops.SweepStop).
    Under torchrun, every rank calls this; rank 0 alone writes (see train.distributed).
    """
    with StopRequest(stop_file) as stop:
        outcome = _run(spec, Path(run_dir), stop)
    if outcome.status == "interrupted":
        outcome.then = stop.hand_over()
    return outcome


@dataclass
class Session:
    """One process's part of a run, from the moment it exists until it ends."""

    spec: RunSpec
    run_dir: Path
    trainer: Trainer
    dataset: str
    provenance: dict
    summary: dict
    writer: MetricsWriter | None  # rank 0 only
    dist: Dist

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"


def _run(spec: RunSpec, run_dir: Path, stop: StopRequest) -> Outcome:
    previous, resume_from = _open_run_dir(spec, run_dir)
    # A run that is over is judged on its summary alone (in the precision it recorded), before
    # the device is resolved or its checkpoint read: skipping needs neither.
    over = _check_previous(as_recorded(spec, previous), run_dir, previous)
    if over is not None:
        return over
    device = resolve_device(spec.loop.device)
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
    if checkpoint is not None and checkpoint.get("weights_only"):
        raise UserError(
            f"{resume_from} holds a trained net's weights only (exported for analyses, "
            "scripts/export_weights.py), no optimizer state: it cannot resume training"
        )
    # precision=auto becomes fp32 or bf16 before anything compares or records the run: the
    # resolved value is part of its result identity (bf16 and fp32 runs are never pooled).
    spec = with_resolved_auto(spec, device, recorded_precision(previous, checkpoint))
    _check_checkpoint(checkpoint, resume_from, spec)
    d = distributed.start(device.type)
    try:
        # Every process resolved precision=auto on its own machine: they must agree.
        bf16 = spec.loop.precision == "bf16"
        if d.active and d.any(bf16, device) != bf16:
            raise UserError(
                "the processes of this run chose different precisions (their machines differ in bf16 support); set precision=fp32 or precision=bf16"
            )
        if d.active:
            distributed.check_batch_split(spec.loop.batch_size, d.world_size)
            if device.type == "cuda":
                device = torch.device("cuda", d.local_rank)
        if spec.loop.threads:
            torch.set_num_threads(spec.loop.threads)
        ds_name, splits, num_classes = _load_data(spec, run_dir, checkpoint, previous)
        session = _start_session(spec, run_dir, splits, num_classes, ds_name, device, d)
        if checkpoint is not None:
            _resume(session, checkpoint, resume_from)
        return _train(session, stop)
    finally:
        distributed.stop(d)


# --- phase 1: the run directory and what it already holds -----------------------------------------
def _open_run_dir(spec: RunSpec, run_dir: Path) -> tuple[dict | None, Path | None]:
    """Check the folder can hold the run: returns (previous summary, checkpoint to resume from)."""
    check_writable(run_dir)
    for m in unreached_milestones(spec.loop.iterations, spec.optim.milestones):
        log.warning(
            "optim.milestones: the lr drop at iteration %d will never happen (the run stops at "
            "iterations=%d)",
            m,
            spec.loop.iterations,
        )
    previous = read_summary(run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    if spec.resume == "never" and (previous is not None or ckpt_path.exists()):
        raise UserError(
            f"{run_dir} already holds a run; resume=never would overwrite it. Use tag=NAME or out_root=PATH for a fresh run, or remove the directory"
        )
    resume_from: Path | None = None
    if spec.resume not in ("auto", "never"):
        resume_from = Path(spec.resume).expanduser()
        if resume_from.is_dir():  # a run folder: its checkpoint
            resume_from = resume_from / "checkpoint.pt"
            if not resume_from.is_file():
                raise UserError(
                    f"resume={spec.resume}: no checkpoint.pt in that folder; give a run folder of resnet-exp train or its checkpoint.pt"
                )
    elif ckpt_path.exists():
        resume_from = ckpt_path
    return previous, resume_from


def recorded_precision(previous: dict | None, checkpoint: dict | None) -> str | None:
    """The precision an earlier session of this run trained in (None: a new run)."""
    for record in (checkpoint, previous):
        config = (record or {}).get("config")
        if isinstance(config, dict):
            # Recorded before `auto` existed: fp32 unless it said bf16 (the old default).
            return str(config.get("precision", "fp32"))
    return None


def as_recorded(spec: RunSpec, previous: dict | None) -> RunSpec:
    """`spec` with precision=auto read as the precision an earlier session recorded, for
    comparing against that session (no device needed); unchanged for a new run."""
    recorded = recorded_precision(previous, None)
    if spec.loop.precision != "auto" or recorded is None:
        return spec
    return replace(spec, loop=replace(spec.loop, precision=recorded))


def with_resolved_auto(spec: RunSpec, device: torch.device, recorded: str | None) -> RunSpec:
    """The spec with precision=auto and compile=auto replaced by what runs on `device` (a
    resumed run keeps its own precision). The precision goes into the config that summary and
    checkpoint record too; compile is a speed setting and stays out of it."""
    chosen, warning = resolve_precision(spec.loop.precision, device, recorded=recorded)
    if warning:
        log.warning("%s", warning)
    loop = replace(
        spec.loop, precision=chosen, compile=resolve_compile(spec.loop.compile, device.type)
    )
    config = {**spec.config, "precision": chosen}
    return replace(spec, loop=loop, config=config, requested_precision=spec.loop.precision)


def _check_previous(spec: RunSpec, run_dir: Path, previous: dict | None) -> Outcome | None:
    """A folder that holds another config is refused; a run already over is skipped."""
    if previous is not None and isinstance(previous.get("config"), dict):
        diffs = config_differences(previous["config"], spec)
        if diffs:
            raise UserError(
                f"{run_dir} holds a run with a different config ({'; '.join(diffs[:4])}); use tag=NAME or out_root=PATH for a separate run, or remove the directory"
            )
        if previous.get("status") in ("completed", "diverged") and spec.resume == "auto":
            code = EXIT_CODES[previous["status"]] if previous["status"] == "diverged" else 0
            return Outcome(
                previous["status"],
                code,
                f"{spec.name}: already {previous['status']} in {run_dir}; skipped (remove the directory to run it again)",
            )
    return None


def _check_checkpoint(checkpoint: dict | None, resume_from: Path | None, spec: RunSpec) -> None:
    if checkpoint is None:
        return
    diffs = config_differences(checkpoint.get("config", {}), spec)
    if diffs:
        raise UserError(
            f"checkpoint {resume_from} was made with a different config ({'; '.join(diffs[:4])}); resume with the same settings, or start a separate run with tag=NAME"
        )


# --- phase 2: data ---------------------------------------------------------------------------------
def _load_data(
    spec: RunSpec, run_dir: Path, checkpoint: dict | None, previous: dict | None
) -> tuple[str, dict[str, tuple[torch.Tensor, torch.Tensor]], int]:
    ds, splits, num_classes = prepare_data(spec.data, spec.loop.seed)
    recorded_data = (checkpoint or {}).get("dataset") or (previous or {}).get("dataset")
    check_same_data(run_dir, recorded_data, ds.name)
    if spec.loop.batch_size > len(splits["train"][0]):
        raise UserError(
            f"batch_size={spec.loop.batch_size} is larger than the {len(splits['train'][0])} training images"
        )
    return ds.name, splits, num_classes


# --- phase 3: model, batches, trainer, and the summary that says the run exists ----------------
def _start_session(
    spec: RunSpec,
    run_dir: Path,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    ds_name: str,
    device: torch.device,
    d: Dist,
) -> Session:
    # From here on the run exists: model weights depend only on the seed.
    model = build_model(spec, num_classes)
    if d.active and spec.loop.sync_bn:
        distributed.global_batchnorm(model)
    train_x, train_y = splits["train"]
    mean = pixel_mean(train_x)
    batches = Batches(
        train_x,
        train_y,
        mean,
        spec.loop.batch_size,
        spec.loop.seed,
        device,
        augment=spec.data.augment,
        rank=d.rank,
        world_size=d.world_size,
    )
    # Resident on the device like the training set (uint8, 29 MiB for CIFAR's test split), so an
    # evaluation copies nothing from the host.
    eval_sets = [
        EvalSet(k, *eval_order(*splits[k], spec.loop.eval_subset, device))
        for k in ("test", "val")
        if k in splits
    ]
    channels_last = spec.loop.channels_last
    if channels_last is None:
        channels_last = default_channels_last(device, spec.model.width, spec.loop.precision)
    trainer = Trainer(
        model, batches, eval_sets, mean, spec.optim, spec.loop, device, channels_last, dist=d
    )
    prov = provenance(describe_device(device), spec.loop.seed)
    # This job's own overrides: the command line may be a whole sweep.
    prov["overrides"] = spec.overrides
    prov["processes"] = d.world_size
    # What ran, not what was asked for: `precision` is resolved (see with_resolved_auto).
    prov["precision"] = spec.loop.precision
    prov["precision_requested"] = spec.requested_precision
    prov["cpu_bf16_flags"] = native_bf16_flags()
    prov["channels_last"] = channels_last
    prov["compile"] = spec.loop.compile  # resolved: None = eager
    if d.active:
        prov["sync_bn"] = spec.loop.sync_bn
    summary = _initial_summary(spec, model, splits, num_classes, ds_name, prov)
    if d.is_main:
        log.info(
            "%s on %s, precision %s, %s",
            spec.name,
            prov["device"],
            describe(spec.loop.precision, device),
            "channels_last" if channels_last else "NCHW",
        )
    return Session(spec, run_dir, trainer, ds_name, prov, summary, None, d)


def _initial_summary(
    spec: RunSpec,
    model: torch.nn.Module,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    ds_name: str,
    prov: dict,
) -> dict:
    """summary.json as the run starts (status running); `_finish` fills in the results."""
    return {
        "name": spec.name,
        "status": "running",
        **asdict(spec.model),
        "seed": spec.loop.seed,
        "params": count_params(model),
        "dataset": ds_name,
        "num_classes": num_classes,
        "train_size": len(splits["train"][0]),
        "test_size": len(splits["test"][0]),
        "val_size": len(splits["val"][0]) if "val" in splits else 0,
        "iterations": spec.loop.iterations,
        "iteration": 0,
        "batch_size": spec.loop.batch_size,
        "train_error": None,
        "train_loss": None,
        "test_error": None,
        "test_loss": None,
        "val_error": None,
        "val_loss": None,
        "diverged_at": None,
        "error": None,
        "wall_time_s": None,
        "eval_time_s": None,
        "images_per_s": None,
        "device": prov["device"],
        "precision": spec.loop.precision,
        "torch": torch.__version__,
        "config": spec.config,
        "provenance": prov,
        "updated_at": now(),
    }


def eval_order(
    x: torch.Tensor, y: torch.Tensor, subset: int | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval split on the device; with `eval_subset`, in a fixed shuffled order, so that its
    first N images (what an intermediate evaluation reads) are a random sample, not the first
    classes of a class-sorted folder. The same order in every run and session."""
    if subset is not None:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
        x, y = x[order], y[order]
    return x.to(device), y.to(device)


def bn_batch(batch_size: int, processes: int, sync_bn: bool) -> int:
    """How many images BatchNorm normalizes over in one step."""
    return batch_size if sync_bn or processes == 1 else batch_size // processes


# --- phase 4: resume -------------------------------------------------------------------------------
def _resume(session: Session, checkpoint: dict, resume_from: Path | None) -> None:
    """Weights, optimizer, data position and RNG from the checkpoint: the run continues exactly
    (with any number of processes: nothing in a checkpoint depends on it)."""
    t = session.trainer
    t.load_state_dict(checkpoint["trainer"])
    restore_rng(checkpoint["rng"])
    saved = checkpoint.get("provenance") or {}
    previous_processes = saved.get("processes", 1)
    batch, spec = session.spec.loop.batch_size, session.spec
    before = bn_batch(batch, previous_processes, saved.get("sync_bn", False))
    after = bn_batch(batch, session.dist.world_size, spec.loop.sync_bn)
    if before != after and session.dist.is_main and spec.model.norm == "batch":
        log.warning(
            "%s: BatchNorm normalized over %d images per step before this resume (%d processes) "
            "and over %d now: the rest of the run computes differently; sync_bn=true makes the "
            "number of processes irrelevant",
            spec.name,
            before,
            previous_processes,
            after,
        )
    session.provenance["resumed_from"] = {
        "path": str(resume_from),
        "iteration": t.iteration,
        "processes": previous_processes,
    }
    if session.dist.is_main:
        log.info("resuming %s from %s at iteration %d", session.spec.name, resume_from, t.iteration)


# --- phase 5: training under signals ------------------------------------------------------------
def _train(session: Session, stop: StopRequest) -> Outcome:
    spec, trainer, main = session.spec, session.trainer, session.dist.is_main
    session.summary["iteration"] = trainer.iteration
    if main:
        write_summary(session.run_dir, session.summary)
        session.writer = MetricsWriter(session.run_dir, start_step=trainer.iteration)

    def save() -> None:
        if main:
            save_checkpoint(
                session.checkpoint_path,
                {
                    "trainer": trainer.state_dict(),
                    "rng": capture_rng(),
                    "config": spec.config,
                    "name": spec.name,
                    "dataset": session.dataset,
                    "provenance": session.provenance,
                },
            )

    try:
        # Stopped while loading: nothing trained since the last checkpoint. (Agreed by all
        # ranks: one leaving now would strand the others in DDP's first step.)
        if session.dist.any(stop.requested, trainer.device):
            return _finish(session, "interrupted")
        with ProgressBar(
            spec.name, spec.loop.iterations, trainer.iteration, enabled=spec.loop.progress and main
        ) as bar:
            status = trainer.run(
                _emitter(session.writer, bar),
                save,
                lambda: stop.requested,
                on_step=lambda t: bar.advance(t.iteration),
            )
    except KeyboardInterrupt:
        # A second Ctrl-C: stop now; the last periodic checkpoint stays the resume point.
        return _finish(session, "interrupted")
    except Exception as e:
        log.error("run failed:\n%s", traceback.format_exc())
        return _finish(session, "failed", f"{type(e).__name__}: {e}")
    return _finish(session, status)


def _emitter(writer: MetricsWriter | None, bar: ProgressBar) -> Callable[[dict], None]:
    """Where each record goes: metrics.jsonl + TensorBoard, the bar, the log (rank 0 only)."""

    def emit(record: dict) -> None:
        if writer is None:
            return
        writer.write(record)
        bar.update_metrics(record)
        if record["kind"] == "train":
            log.info(
                "it %d  train error %.4f  loss %.4f  lr %g  %.0f img/s",
                record["step"],
                record["train_error"],
                record["train_loss"],
                record["lr"],
                record["images_per_s"],
            )
        elif record["kind"] == "eval":
            log.info(
                "it %d  %s",
                record["step"],
                "  ".join(
                    f"{k} {v:.4f}"
                    for k, v in record.items()
                    if k.endswith(("_error", "_loss")) and v is not None
                ),
            )

    return emit


# --- phase 6: finish -------------------------------------------------------------------------------
def _finish(session: Session, status: str, error: str | None = None) -> Outcome:
    spec, t, summary = session.spec, session.trainer, session.summary
    summary.update(
        status=status,
        iteration=t.iteration,
        error=error,
        diverged_at=t.diverged_at,
        train_error=t.last_train.get("train_error"),
        train_loss=t.last_train.get("train_loss"),
        test_error=t.last_eval.get("test_error"),
        test_loss=t.last_eval.get("test_loss"),
        val_error=t.last_eval.get("val_error"),
        val_loss=t.last_eval.get("val_loss"),
        wall_time_s=round(t.wall_time_s, 2),
        eval_time_s=round(t.eval_time_s, 2),
        images_per_s=round(t.iteration * spec.loop.batch_size / t.step_time_s, 1)
        if t.step_time_s
        else None,
        updated_at=now(),
    )
    if session.writer is not None:
        write_summary(session.run_dir, summary)
        if status == "completed":
            m = spec.model
            session.writer.hparams(
                {
                    "block": m.block,
                    "depth": m.depth,
                    "width": m.width,
                    "shortcut": m.shortcut,
                    "init": m.init,
                    "seed": spec.loop.seed,
                    "iterations": spec.loop.iterations,
                    "lr": spec.optim.lr,
                    "batch_size": spec.loop.batch_size,
                    "dataset": session.dataset,
                },
                {k: summary[k] for k in ("train_error", "test_error", "train_loss", "test_loss")},
            )
        session.writer.close()
    msg = {
        "completed": f"{spec.name}: completed {t.iteration} iterations; train error {_pct(summary['train_error'])}, test error {_pct(summary['test_error'])}",
        "interrupted": f"{spec.name}: interrupted at iteration {t.iteration}; run the same command again to resume from the last checkpoint",
        "diverged": f"{spec.name}: diverged (non-finite loss) at iteration {t.diverged_at}",
        "failed": f"{spec.name}: failed at iteration {t.iteration}: {error}",
    }[status]
    return Outcome(status, EXIT_CODES[status], msg)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"
