"""The iteration-based training loop. Everything it needs is passed in; its whole state can be
saved and restored, so an interrupted run resumes bit-identically (on CPU, fixed seed)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from resnet_exp.data.pipeline import Batches, evaluate_batches
from resnet_exp.errors import UserError
from resnet_exp.models.blocks import FixupScalars
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train.distributed import Dist
from resnet_exp.train.schedule import lr_at


@dataclass
class EvalSet:
    name: str  # "test" or "val"
    x: torch.Tensor
    y: torch.Tensor


def default_channels_last(device: torch.device, width: int, precision: str = "fp32") -> bool:
    """channels_last=auto, decided by measurement (docs/performance.md): NHWC is what cuDNN's
    tensor-core kernels want; on CPU (oneDNN) it is 24-45% faster at width 16, batch 128, and in
    bf16 at every width (NCHW bf16 convolutions reorder their inputs each call), but in fp32
    2-8% slower at width 8, batch 64."""
    return device.type == "cuda" or width >= 16 or precision == "bf16"


STOP_CHECK_EVERY = 10  # steps between stop agreements of several CUDA processes


def checks_every_step(device: torch.device) -> bool:
    """Whether the loop reads the divergence flag after every step: a host sync is free on CPU
    but stalls the CUDA queue, so there it is read only where something is logged or saved."""
    return device.type == "cpu"


FIXUP_SCALAR_LR_SCALE = 0.1


def param_groups(model: nn.Module) -> list[dict]:
    """The optimizer's parameter groups, each with `lr_scale`, its share of the schedule's lr.

    One group for every net but a Fixup net. There the scalar biases and multipliers (every
    parameter whose name holds "bias" or "scale": Fixup's scalars, the classifier's bias and
    the stem conv's bias; the branch convs have none) learn at a tenth of the lr, as in the
    Fixup authors' CIFAR training code (cifar_train.py: those groups at base_lr/10). At the
    full lr, residual-110 with Fixup left chance for about 100 steps and then fell back to it
    for good (docs/results/deep_laptop, trials); at a tenth it kept improving. The full-lr
    group comes first, so param_groups[0]["lr"] is the schedule's lr."""
    if not any(isinstance(m, FixupScalars) for m in model.modules()):
        return [{"params": list(model.parameters()), "lr_scale": 1.0}]
    full: list[nn.Parameter] = []
    scalar: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        (scalar if "bias" in name or "scale" in name else full).append(p)
    return [
        {"params": full, "lr_scale": 1.0},
        {"params": scalar, "lr_scale": FIXUP_SCALAR_LR_SCALE},
    ]


def make_optimizer(model: nn.Module, spec: OptimSpec) -> torch.optim.SGD:
    # Weight decay on every parameter, BN included, as in the paper's Caffe/Torch setups.
    return torch.optim.SGD(
        param_groups(model),
        lr=spec.lr,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        nesterov=spec.nesterov,
    )


class Trainer:
    """Owns model, optimizer, batches and the running metric window; `run()` trains to the end."""

    def __init__(
        self,
        model: nn.Module,
        batches: Batches,
        eval_sets: list[EvalSet],
        mean: torch.Tensor,
        optim: OptimSpec,
        loop: LoopSpec,
        device: torch.device,
        channels_last: bool = False,
        dist: Dist | None = None,
    ) -> None:
        # `auto` is resolved (per device) before a Trainer exists.
        if loop.precision not in ("fp32", "bf16") or loop.compile == "auto":
            raise ValueError(
                f"Trainer needs resolved settings, not {loop.precision=}, {loop.compile=}"
            )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(device, memory_format=self.memory_format)
        self.dist = dist or Dist()
        # Steps and evaluations call `run_model`; `model`, the plain module, is what is saved and
        # loaded, so a checkpoint is the same with or without torch.compile or DDP, and with any
        # number of processes.
        wrapped: nn.Module = self.model
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            wrapped = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.run_model = torch.compile(wrapped, mode=loop.compile) if loop.compile else wrapped
        # Rank 0 evaluates alone, so never through DDP (whose forward is a collective).
        self.eval_model = self.run_model
        if self.dist.active:
            self.eval_model = (
                torch.compile(self.model, mode=loop.compile) if loop.compile else self.model
            )
        self.batches, self.eval_sets, self.mean = batches, eval_sets, mean
        self.optim_spec, self.loop, self.device = optim, loop, device
        self.optimizer = make_optimizer(self.model, optim)
        self.iteration = 0
        self.warming_up = optim.warmup
        self.recent_errors: deque[float] = deque(maxlen=20)  # warm-up criterion
        self.wall_time_s = 0.0  # training + evaluation time summed over every session of this run
        self.step_time_s = 0.0  # training steps only (for images/s)
        self.eval_time_s = 0.0  # evaluations only (what dense test curves cost)
        self.diverged_at: int | None = None
        self.last_train: dict = {}
        self.last_eval: dict = {}
        self.last_batch: tuple[torch.Tensor, torch.Tensor] | None = None
        self._reset_window()

    # --- state --------------------------------------------------------------------------------
    def _reset_window(self) -> None:
        # Kept on the device so a step never waits for the GPU just to book-keep.
        self.win_wrong = torch.zeros((), dtype=torch.int64, device=self.device)
        self.win_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        self.win_steps = 0
        self.win_start = time.perf_counter()
        self.first_bad = torch.full((), -1, dtype=torch.int64, device=self.device)

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(),
            "iteration": self.iteration,
            "warming_up": self.warming_up,
            "recent_errors": list(self.recent_errors),
            "wall_time_s": self.wall_time_s,
            "step_time_s": self.step_time_s,
            "eval_time_s": self.eval_time_s,
            "window": {
                "wrong": self.win_wrong.cpu(),
                "loss": self.win_loss.cpu(),
                "steps": self.win_steps,
            },
            "last_train": self.last_train,
            "last_eval": self.last_eval,
            "scaler": None,  # bf16 autocast needs no loss scaler; kept for format stability
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        saved_groups = len(state["optimizer"]["param_groups"])
        if saved_groups != len(self.optimizer.param_groups):
            # Only a Fixup run checkpointed before its scalars got their own lr lands here.
            raise UserError(
                f"this checkpoint's optimizer has {saved_groups} parameter group(s), this "
                f"resnet-exp makes {len(self.optimizer.param_groups)} (it now trains Fixup's scalar "
                "biases and multipliers at lr/10): start the run afresh in a new folder"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.load_state_dict(state["batches"])
        self.iteration = int(state["iteration"])
        self.warming_up = bool(state["warming_up"])
        self.recent_errors = deque(state["recent_errors"], maxlen=20)
        self.wall_time_s = float(state["wall_time_s"])
        self.step_time_s = float(state["step_time_s"])
        self.eval_time_s = float(state.get("eval_time_s", 0.0))  # absent in older checkpoints
        # The saved window is global (folded into rank 0): only one rank may carry it on, or
        # a resume under K processes would count it K times.
        keep = 1 if self.dist.is_main else 0
        self.win_wrong = state["window"]["wrong"].to(self.device) * keep
        self.win_loss = state["window"]["loss"].to(self.device) * keep
        self.win_steps = int(state["window"]["steps"])
        self.last_train, self.last_eval = dict(state["last_train"]), dict(state["last_eval"])

    # --- one step -------------------------------------------------------------------------------
    def autocast(self):
        if self.loop.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def lr(self) -> float:
        o = self.optim_spec
        return lr_at(self.iteration, o.lr, o.milestones, o.gamma, self.warming_up, o.warmup_lr)

    def step(self) -> None:
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # absent in older checkpoints
        # The record_function labels cost about a microsecond when no profiler listens; they let
        # scripts/profile_step.py split a step into its phases (docs/performance.md).
        with record_function("rx.data"):
            x, y = self.batches.next()
            x = x.contiguous(memory_format=self.memory_format)
        self.last_batch = (x, y)  # what the signal statistics look at (no copy)
        self.model.train()
        with record_function("rx.forward"), self.autocast():
            logits = self.run_model(x)
            loss = F.cross_entropy(logits.float(), y)
        with record_function("rx.backward"):
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with record_function("rx.optimizer"):
            self.optimizer.step()
        self.iteration += 1
        loss = loss.detach()
        wrong = (logits.detach().argmax(1) != y).sum()
        self.win_wrong += wrong
        self.win_loss += loss.double() * len(y)
        self.win_steps += 1
        bad = ~torch.isfinite(loss)
        self.first_bad = torch.where(bad & (self.first_bad < 0), self.iteration, self.first_bad)
        if self.warming_up:
            # Every rank must leave warm-up at the same step: judge it on the global batch.
            self.recent_errors.append(self.dist.sum_(wrong.clone()).item() / self.loop.batch_size)
            if (
                len(self.recent_errors) == self.recent_errors.maxlen
                and sum(self.recent_errors) / len(self.recent_errors) < self.optim_spec.warmup_error
            ):
                self.warming_up = False

    def check_divergence(self) -> bool:
        bad = int(self.first_bad.item())
        if self.dist.active:  # all ranks stop together, at the first bad step of any of them
            none = self.loop.iterations + 1
            bad = self.dist.min_int(bad if bad >= 0 else none, self.device)
            bad = -1 if bad == none else bad
        if bad >= 0:
            self.diverged_at = bad
        return self.diverged_at is not None

    def fold_window(self) -> None:
        """Sum the ranks' running window counts into rank 0 (others restart from zero), so the
        window is the global one; before a record, and before a checkpoint, which rank 0 writes."""
        if not self.dist.active:
            return
        t = self.dist.sum_(torch.stack([self.win_wrong.double(), self.win_loss]))
        keep = 1.0 if self.dist.is_main else 0.0
        self.win_wrong = (t[0] * keep).round().to(torch.int64)
        self.win_loss = t[1] * keep

    # --- metrics --------------------------------------------------------------------------------
    def window_record(self) -> dict:
        """Training error/loss over the augmented batches since the last record (Figure 6's curve)."""
        self.fold_window()
        n = self.win_steps * self.loop.batch_size
        now = time.perf_counter()
        record = {
            "kind": "train",
            "step": self.iteration,
            "train_error": self.win_wrong.item() / n,
            "train_loss": self.win_loss.item() / n,
            "lr": self.lr_used_last(),
            "epoch": round(self.batches.epochs_done, 4),
            "images_per_s": n / max(now - self.win_start, 1e-9),
            "wall_time_s": round(self.wall_time_s, 3),
        }
        self.last_train = record
        self._reset_window()
        return record

    def lr_used_last(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def evaluate(self, final: bool = True) -> dict:
        # inference_mode skips autograd's bookkeeping entirely; a compiled model gets no_grad,
        # since inference tensors inside compiled (and CUDA-graphed) models have open bugs.
        with torch.no_grad() if self.loop.compile else torch.inference_mode():
            return self._evaluate(final)

    def _evaluate(self, final: bool) -> dict:
        """Error and loss on every eval set, in the training's precision and layout. With
        `loop.eval_subset`, a non-final evaluation reads only the first N images of each set
        (EvalSet order is a fixed shuffle, see runner) and says how many it read."""
        self.model.eval()
        record: dict = {"kind": "eval", "step": self.iteration}
        for es in self.eval_sets:
            n = len(es.y)
            if not final and self.loop.eval_subset is not None:
                n = min(n, self.loop.eval_subset)
            # Summed on the device and read once per set: an .item() per batch would make the
            # host wait for every batch before queueing the next one.
            wrong = torch.zeros((), dtype=torch.int64, device=self.device)
            loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            for x, y in evaluate_batches(
                es.x[:n], es.y[:n], self.mean, self.loop.eval_batch_size, self.device
            ):
                with self.autocast():
                    logits = self.eval_model(x.contiguous(memory_format=self.memory_format))
                    logits = logits.float()
                loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
                wrong += (logits.argmax(1) != y).sum()
            record[f"{es.name}_error"] = wrong.item() / n
            record[f"{es.name}_loss"] = loss_sum.item() / n
            record[f"{es.name}_images"] = n
        record["wall_time_s"] = round(self.wall_time_s, 3)
        return record

    def signal_record(self) -> dict:
        """Per-stage response std and gradient norm, and the fraction of dead feature maps at the
        classifier, on the latest training batch, taken on a copy of the model
        (resnet_exp.layerstats), so training and evaluation are left exactly as they were."""
        from resnet_exp.layerstats import layer_stats_and_dead_features, stage_summary

        x, y = self.last_batch
        stats, dead = layer_stats_and_dead_features(self.model, x, y)
        return {
            "kind": "signal",
            "step": self.iteration,
            **stage_summary(stats),
            "dead_features": dead,
        }

    # --- the loop -------------------------------------------------------------------------------
    def run(
        self,
        emit: Callable[[dict], None],
        checkpoint: Callable[[], None],
        should_stop: Callable[[], bool],
        on_step: Callable[[Trainer], None] | None = None,
    ) -> str:
        """Train until `loop.iterations`; returns 'completed', 'interrupted' or 'diverged'.

        `should_stop` is polled after every step (Ctrl-C / SIGTERM finish the current step).
        """
        L = self.loop
        check_every_step = checks_every_step(self.device)
        while self.iteration < L.iterations:
            t0 = time.perf_counter()
            self.step()
            if self.device.type == "cuda" and (self.iteration % L.log_every == 0):
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            self.wall_time_s += dt
            self.step_time_s += dt
            it = self.iteration
            # Checked before anything is logged (no NaN records); checkpoints check again below.
            emits = it % L.log_every == 0 or it % L.eval_every == 0 or it == L.iterations
            if (check_every_step or emits) and self.check_divergence():
                return "diverged"
            if it % L.log_every == 0 or it == L.iterations:
                emit(self.window_record())
            if it % L.eval_every == 0 or it == L.iterations:
                t1 = time.perf_counter()
                # Rank 0 evaluates (its weights and BN statistics are the ones checkpointed).
                record = self.evaluate(final=it == L.iterations) if self.dist.is_main else {}
                self.eval_time_s += time.perf_counter() - t1
                # Weights can turn non-finite in this step's update while its loss was finite:
                # the evaluation is the first to see it. Such a record is never written.
                if self.dist.any(not all(_finite(v) for v in record.values()), self.device):
                    self.diverged_at = it
                    return "diverged"
                if self.dist.is_main:
                    self.last_eval = record
                    emit(record)
                if L.signals and self.last_batch is not None:
                    signal_record = self.signal_record()
                    if all(_finite(v) for v in signal_record.values()):
                        emit(signal_record)
                self.wall_time_s += time.perf_counter() - t1
                self.win_start += time.perf_counter() - t1  # keep eval time out of images/s
            if on_step is not None:
                on_step(self)
            stopping = self.agreed_stop(should_stop(), check_every_step) and it < L.iterations
            if stopping or it % L.checkpoint_every == 0 or it == L.iterations:
                if self.check_divergence():  # never save non-finite weights
                    return "diverged"
                self.fold_window()
                checkpoint()
                self.dist.barrier()  # no rank leaves before the checkpoint is written
            if stopping:
                return "interrupted"
        return "completed"

    def agreed_stop(self, requested: bool, every_step: bool) -> bool:
        """One process: the request itself. Several: every rank stops at the same step if any
        was asked to; the ranks compare every step on CPU, every STOP_CHECK_EVERY steps on CUDA
        (a collective per step would stall the GPU queue), so that the stop and rank 0's
        checkpoint fit in the 30 s that torchrun gives its workers between passing a signal on
        and killing them (not measured on GPUs)."""
        if not self.dist.active:
            return requested
        if every_step or self.iteration % STOP_CHECK_EVERY == 0:
            return self.dist.any(requested, self.device)
        return False


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
