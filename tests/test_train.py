"""The trainer: learning, exact resume after interruption, divergence, checkpoints, provenance."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from conftest import TINY, read_jsonl
from test_config import compose_train

from resnet_exp.build import spec_from_config
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import make_synthetic
from resnet_exp.errors import UserError
from resnet_exp.models import build_net
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train import runner
from resnet_exp.train.checkpoint import load_checkpoint
from resnet_exp.train.loop import Trainer, param_groups
from resnet_exp.train.schedule import lr_at


def tiny_spec(*extra: str):
    return spec_from_config(compose_train([*TINY, *extra]))


def final_weights(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoint.pt")["trainer"]["model"]


def comparable(records: list[dict]) -> list[dict]:
    # Timing fields differ between any two runs; everything else must be identical.
    return [
        {k: v for k, v in r.items() if k not in ("images_per_s", "wall_time_s")} for r in records
    ]


def test_schedule_is_the_paper_step_schedule() -> None:
    ms = (32000, 48000)
    assert [lr_at(i, 0.1, ms) for i in (0, 31999, 32000, 47999, 48000, 63999)] == [
        0.1,
        0.1,
        0.01,
        0.01,
        0.001,
        0.001,
    ]
    assert lr_at(100, 0.1, ms, warming_up=True, warmup_lr=0.01) == 0.01


def small_trainer(
    net: torch.nn.Module, optim: OptimSpec, images: int = 128, batch: int = 16
) -> tuple[Trainer, torch.Tensor, torch.Tensor]:
    """A trainer on generated images, without augmentation, and a fixed batch of 128 of them."""
    ds = make_synthetic(images, 16)
    mean = pixel_mean(ds.train_x)
    cpu = torch.device("cpu")
    batches = Batches(ds.train_x, ds.train_y, mean, batch, seed=0, device=cpu, augment=False)
    trainer = Trainer(net, batches, [], mean, optim, LoopSpec(batch_size=batch), cpu)
    x, y = Batches(ds.train_x, ds.train_y, mean, 128, seed=1, device=cpu, augment=False).next()
    return trainer, x, y


def test_a_few_steps_lower_the_loss() -> None:
    trainer, x, y = small_trainer(
        build_net(8, "residual", width=4, seed=0),
        OptimSpec(lr=0.05, milestones=(1000,)),
        images=256,
        batch=32,
    )

    def loss() -> float:
        trainer.model.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(trainer.model(x), y).item()

    before = loss()
    for _ in range(25):
        trainer.step()
    assert loss() < 0.8 * before


def test_fixup_scalars_learn_at_a_tenth_of_the_schedules_lr() -> None:
    # depth 14: 6 residual branches with 5 scalars each (4 biases, 1 multiplier), the net's
    # two biases around the trunk (one tensor), the stem conv's and the classifier's bias: 33.
    net = build_net(14, "residual", width=4, norm="none", init="fixup", seed=0)
    full, scalar = param_groups(net)
    expected = {
        id(p)
        for b in net.stages.modules()
        if hasattr(b, "fixup") and b.fixup is not None
        for p in b.fixup.parameters()
    }
    expected |= {id(net.fixup_biases), id(net.conv1.bias), id(net.fc.bias)}
    assert len(expected) == 33
    assert {id(p) for p in scalar["params"]} == expected
    assert {id(p) for p in full["params"]} == {id(p) for p in net.parameters()} - expected
    assert (full["lr_scale"], scalar["lr_scale"]) == (1.0, 0.1)

    trainer, _, _ = small_trainer(net, OptimSpec(lr=0.05, milestones=(2,)))
    lrs = []
    for _ in range(3):
        trainer.step()
        lrs += [g["lr"] for g in trainer.optimizer.param_groups]
    assert lrs == pytest.approx([0.05, 0.005, 0.05, 0.005, 0.005, 0.0005])
    assert trainer.lr_used_last() == pytest.approx(0.005)  # the schedule's lr, not a tenth


@pytest.mark.parametrize(
    "kwargs",
    [
        {"block": "residual"},
        {"block": "plain"},
        {"block": "preact", "norm": "none", "skipinit": True},
    ],
)
def test_every_other_net_trains_every_parameter_at_the_schedules_lr(kwargs: dict) -> None:
    net = build_net(8, width=4, seed=0, **kwargs)
    (group,) = param_groups(net)
    assert len(group["params"]) == len(list(net.parameters())) and group["lr_scale"] == 1.0


def test_a_fixup_checkpoint_with_one_parameter_group_is_refused_in_one_line() -> None:
    net = build_net(8, "residual", width=4, norm="none", init="fixup", seed=0)
    trainer, _, _ = small_trainer(net, OptimSpec(lr=0.05))
    state = trainer.state_dict()
    state["optimizer"] = torch.optim.SGD(net.parameters(), lr=0.05).state_dict()
    with pytest.raises(UserError, match="1 parameter group.*start the run afresh"):
        trainer.load_state_dict(state)


def test_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    outcome = runner.run(tiny_spec(), tmp_path)
    assert outcome.status == "completed" and outcome.exit_code == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "completed" and s["iteration"] == s["iterations"] == 12
    for key in (
        "name",
        "block",
        "depth",
        "width",
        "shortcut",
        "init",
        "seed",
        "params",
        "iterations",
        "train_error",
        "test_error",
        "train_loss",
        "status",
        "wall_time_s",
        "images_per_s",
        "device",
        "torch",
    ):
        assert s[key] is not None, key
    assert 0 <= s["train_error"] <= 1 and 0 <= s["test_error"] <= 1
    prov = s["provenance"]
    assert (
        prov["versions"]["torch"] == torch.__version__ and prov["seed"] == 0 and "command" in prov
    )
    assert "git_commit" in prov
    # Timings are only comparable on one CPU: every run names its CPU and this process.
    assert prov["cpu"] and prov["cpu_count"] >= 1 and prov["pid"] == os.getpid()
    assert prov["processes"] == 1
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "train"] == [4, 8, 12]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [6, 12]


def interrupt_at(monkeypatch: pytest.MonkeyPatch, iteration: int) -> None:
    """Send a real SIGTERM to ourselves right after `iteration` completes."""
    real_advance = runner.ProgressBar.advance

    def advance(self, it: int) -> None:
        real_advance(self, it)
        if it == iteration:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(runner.ProgressBar, "advance", advance)


def test_interrupted_and_resumed_run_is_bit_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tiny_spec()
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert runner.run(spec, straight).status == "completed"

    # SIGTERM during iteration 7 (between the checkpoints at 4 and 8): the run must finish the
    # step, checkpoint at 7 and report `interrupted`.
    with monkeypatch.context() as m:
        interrupt_at(m, 7)
        first = runner.run(spec, broken)
    assert (first.status, first.exit_code) == ("interrupted", 130)
    assert json.loads((broken / "summary.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(broken / "checkpoint.pt")["trainer"]["iteration"] == 7

    second = runner.run(spec, broken)  # the same command again: continues from iteration 7
    assert second.status == "completed"
    a, b = final_weights(straight), final_weights(broken)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert comparable(read_jsonl(straight / "metrics.jsonl")) == comparable(
        read_jsonl(broken / "metrics.jsonl")
    )
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (straight, broken))
    assert (sa["train_error"], sa["test_error"]) == (sb["train_error"], sb["test_error"])
    assert sb["provenance"]["resumed_from"]["iteration"] == 7

    # TensorBoard: every logged step exactly once across both sessions' event files.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(broken)).Reload()
    assert [e.step for e in acc.Scalars("train/error")] == [4, 8, 12]
    assert [e.step for e in acc.Scalars("test/error")] == [6, 12]


def test_resume_after_a_crash_drops_what_was_logged_after_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tiny_spec()
    runner.run(spec, tmp_path / "ref")
    reference = read_jsonl(tmp_path / "ref" / "metrics.jsonl")
    crashed = tmp_path / "crashed"
    with monkeypatch.context() as m:
        interrupt_at(m, 5)
        runner.run(spec, crashed)
    # As if the process had logged steps 6..12 and then died mid-line, without a checkpoint.
    with open(crashed / "metrics.jsonl", "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in reference if r["step"] > 5)
        f.write('{"kind": "tra')
    runner.run(spec, crashed)
    assert comparable(read_jsonl(crashed / "metrics.jsonl")) == comparable(reference)


def nan_loss_from(monkeypatch: pytest.MonkeyPatch, step: int) -> dict:
    """Make every training loss from the `step`-th on NaN; returns the call counter."""
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def blows_up(logits, target, *args, **kwargs):
        loss = real(logits, target, *args, **kwargs)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] >= step:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", blows_up)
    return calls


def test_divergence_stops_with_its_iteration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = torch.nn.functional.cross_entropy
    nan_loss_from(monkeypatch, 6)  # the 6th training step produces a NaN loss
    outcome = runner.run(tiny_spec(), tmp_path)
    assert (outcome.status, outcome.exit_code) == ("diverged", 3)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["status"] == "diverged" and s["diverged_at"] == 6
    # The last good checkpoint (iteration 4) is kept; NaN weights are never saved.
    assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["iteration"] == 4
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", real)
    again = runner.run(tiny_spec(), tmp_path)  # re-running does not train a diverged run again
    assert again.status == "diverged" and "skipped" in again.message


def test_completed_run_is_skipped_not_retrained(tmp_path: Path) -> None:
    runner.run(tiny_spec(), tmp_path)
    before = (tmp_path / "metrics.jsonl").read_text()
    outcome = runner.run(tiny_spec(), tmp_path)
    assert outcome.status == "completed" and "skipped" in outcome.message
    assert (tmp_path / "metrics.jsonl").read_text() == before


def test_corrupted_checkpoint_is_refused_not_overwritten(tmp_path: Path) -> None:
    runner.run(tiny_spec("iterations=8"), tmp_path)
    (tmp_path / "summary.json").unlink()
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupted or unreadable"):
        runner.run(tiny_spec("iterations=8"), tmp_path)
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"garbage"


def test_foreign_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a resnet-exp checkpoint"):
        runner.run(tiny_spec(f"resume={tmp_path / 'other.pt'}"), tmp_path / "run")


def test_resuming_with_a_different_model_is_refused(tmp_path: Path) -> None:
    runner.run(tiny_spec(), tmp_path / "a")
    with pytest.raises(UserError, match=r"different config \(model.depth: 8 -> 14"):
        runner.run(
            tiny_spec("depth=14", f"resume={tmp_path / 'a' / 'checkpoint.pt'}"), tmp_path / "b"
        )


def test_same_directory_different_config_is_refused(tmp_path: Path) -> None:
    runner.run(tiny_spec(), tmp_path)
    with pytest.raises(UserError, match=r"optim.lr: 0.1 -> 0.05.*tag=NAME"):
        runner.run(tiny_spec("optim.lr=0.05"), tmp_path)


@pytest.mark.parametrize("keep", ["checkpoint.pt", "summary.json"])
def test_resume_never_does_not_overwrite_a_run(tmp_path: Path, keep: str) -> None:
    runner.run(tiny_spec(), tmp_path)
    other = "summary.json" if keep == "checkpoint.pt" else "checkpoint.pt"
    (tmp_path / other).unlink()
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(UserError, match="resume=never would overwrite"):
        runner.run(tiny_spec("resume=never"), tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text() == before


def test_equivalent_settings_resume_without_complaint(tmp_path: Path) -> None:
    runner.run(tiny_spec(), tmp_path)
    again = runner.run(tiny_spec("optim.milestones=[6,9]", "log_every=2"), tmp_path)
    assert again.status == "completed" and "skipped" in again.message


def test_a_stop_after_the_last_step_still_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_at(monkeypatch, 12)
    outcome = runner.run(tiny_spec(), tmp_path)
    assert outcome.status == "completed"


def test_a_stop_while_loading_data_is_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.prepare_data

    def slow_loading(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before the first step
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "prepare_data", slow_loading)
    outcome = runner.run(tiny_spec(), tmp_path)
    assert (outcome.status, outcome.exit_code) == ("interrupted", 130)
    assert json.loads((tmp_path / "summary.json").read_text())["iteration"] == 0


def test_unwritable_output_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot write to the run directory"):
        runner.run(tiny_spec(), tmp_path / "file" / "run")


def test_cuda_without_cuda_is_a_user_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="no CUDA device is available"):
        runner.run(tiny_spec("device=cuda"), tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_warmup_holds_a_small_lr_until_the_error_falls(tmp_path: Path) -> None:
    runner.run(
        tiny_spec(
            "iterations=60",
            "log_every=4",
            "optim.warmup=true",
            "optim.warmup_error=0.85",
            "optim.lr=0.05",
            "optim.warmup_lr=0.02",
            "optim.milestones=[1000]",
        ),
        tmp_path,
    )
    lrs = [r["lr"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "train"]
    assert lrs[0] == 0.02 and lrs[-1] == 0.05 and sorted(set(lrs)) == [0.02, 0.05]


def test_compiled_run_saves_the_plain_module_and_resumes_eagerly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compile=true is a speed setting: same run name, and checkpoints an eager run continues."""
    compiled, eager = tiny_spec("compile=true"), tiny_spec()
    assert compiled.loop.compile == "default" and compiled.name == eager.name
    with monkeypatch.context() as m:
        interrupt_at(m, 7)  # after the compiled evaluation at 6
        assert runner.run(compiled, tmp_path).status == "interrupted"
    assert not any(k.startswith("_orig_mod") for k in final_weights(tmp_path))
    assert runner.run(eager, tmp_path).status == "completed"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["provenance"]["resumed_from"]["iteration"] == 7
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "eval"] == [6, 12]
    assert all(0 <= r["test_error"] <= 1 for r in records if r["kind"] == "eval")


def test_eval_subset_makes_intermediate_evaluations_cheap_and_the_last_one_whole(
    tmp_path: Path,
) -> None:
    assert runner.run(tiny_spec("eval_subset=16", "eval_every=4"), tmp_path).status == "completed"
    evals = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["kind"] == "eval"]
    assert [(r["step"], r["test_images"]) for r in evals] == [(4, 16), (8, 16), (12, 64)]
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["test_error"] == evals[-1]["test_error"]  # the run's result: all test images
    assert 0 <= s["eval_time_s"] <= s["wall_time_s"]  # rounded to 10 ms in the summary
    assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["eval_time_s"] > 0
    # The subset is a sample, not the first class of a class-sorted split: the same order
    # every time, and not the split's own order.
    x, y = make_synthetic(64, 64, seed=0).test_x, make_synthetic(64, 64, seed=0).test_y
    a, b = (
        runner.eval_order(x, y, 16, torch.device("cpu")),
        runner.eval_order(x, y, 16, torch.device("cpu")),
    )
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], y)
    assert torch.equal(runner.eval_order(x, y, None, torch.device("cpu"))[1], y)


def test_when_and_on_what_it_evaluates_does_not_change_what_is_trained(tmp_path: Path) -> None:
    """Evaluation schedule and subset are not part of a run's result: runs that differ only in
    them (e.g. a preset's 12 subset evaluations against another's 4 full ones) train the same
    weights, bit for bit."""
    plain = runner.run(tiny_spec(), tmp_path / "a")
    sub = runner.run(tiny_spec("eval_subset=16"), tmp_path / "b")
    dense = runner.run(tiny_spec("eval_every=2", "eval_subset=16"), tmp_path / "c")
    assert plain.status == sub.status == dense.status == "completed"
    a = final_weights(tmp_path / "a")
    for other in ("b", "c"):
        b = final_weights(tmp_path / other)
        assert all(torch.equal(a[k], b[k]) for k in a), other


def test_compile_auto_is_eager_where_it_was_not_measured_to_pay() -> None:
    from resnet_exp.build import resolve_compile

    assert tiny_spec().loop.compile == "auto"
    assert resolve_compile("auto", "cpu") is None and resolve_compile("auto", "cuda") is None
    assert resolve_compile("default", "cpu") == "default" and resolve_compile(None, "cpu") is None


@pytest.mark.parametrize(
    ("value", "mode"),
    [(False, None), (True, "default"), ("reduce-overhead", "reduce-overhead"), ("auto", "auto")],
)
def test_compile_values(value: object, mode: str | None) -> None:
    from resnet_exp.build import compile_mode

    assert compile_mode(value) == mode


def test_unknown_compile_mode_is_a_user_error() -> None:
    with pytest.raises(UserError, match="compile=fast"):
        tiny_spec("compile=fast")


def _strict_records(path: Path) -> list[dict]:
    """metrics.jsonl parsed so that NaN / Infinity (which json.dumps writes) fail the test."""

    def refuse(token: str) -> None:
        raise AssertionError(f"non-finite value {token} written to {path.name}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("every_step", [True, False], ids=["cpu-path", "sparse-cuda-path"])
def test_divergence_on_both_check_paths_writes_no_non_finite_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_step: bool
) -> None:
    from resnet_exp.train import loop

    # The sparse path (CUDA's: the flag is read only where something is logged or saved) forced
    # on CPU. A NaN loss from step 5 on: on the sparse path it is first seen at step 6 (an eval
    # step in TINY), and both paths must still name step 5.
    monkeypatch.setattr(loop, "checks_every_step", lambda device: every_step)
    calls = nan_loss_from(monkeypatch, 5)
    outcome = runner.run(tiny_spec(), tmp_path)
    assert outcome.status == "diverged"
    summary = json.loads((tmp_path / "summary.json").read_text(), parse_constant=float)
    assert summary["diverged_at"] == 5
    records = _strict_records(tmp_path / "metrics.jsonl")
    assert records and max(r["step"] for r in records) == 4  # nothing logged after the NaN
    assert calls["n"] == (5 if every_step else 6)  # how far each path trained before seeing it
    assert load_checkpoint(tmp_path / "checkpoint.pt")["trainer"]["iteration"] == 4


def test_non_finite_evaluation_is_divergence_not_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Weights can go non-finite in a step whose own loss was finite; the evaluation right after
    # is the first to see it. Simulated by a NaN test loss at the first evaluation (step 6).
    real = torch.nn.functional.cross_entropy

    def nan_in_eval(logits, target, *args, **kwargs):
        loss = real(logits, target, *args, **kwargs)
        return loss if torch.is_grad_enabled() else loss * float("nan")

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", nan_in_eval)
    outcome = runner.run(tiny_spec(), tmp_path)
    assert outcome.status == "diverged"
    assert json.loads((tmp_path / "summary.json").read_text())["diverged_at"] == 6
    records = _strict_records(tmp_path / "metrics.jsonl")
    assert not [r for r in records if r["kind"] == "eval"]
    summary = (tmp_path / "summary.json").read_text()
    assert "NaN" not in summary and "Infinity" not in summary


def test_milestone_beyond_the_run_is_a_warning_not_silence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="resnet_exp"):
        outcome = runner.run(tiny_spec("optim.milestones=[6,12,50]"), tmp_path)
    assert outcome.status == "completed"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("lr drop at iteration 50 will never happen" in w for w in warned)
    assert any("lr drop at iteration 12 will never happen" in w for w in warned)
    assert not any("iteration 6 " in w for w in warned)


def test_resume_checks_the_images_by_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    check = runner.check_same_data
    check(tmp_path, None, "imagefolder:cifar@0123456789ab")  # nothing recorded: nothing to check
    check(tmp_path, "imagefolder:cifar@0123456789ab", "imagefolder:moved@0123456789ab")
    with pytest.raises(UserError, match="different images") as info:
        check(tmp_path, "imagefolder:cifar@0123456789ab", "imagefolder:cifar@ba9876543210")
    assert "\n" not in str(info.value)
    with caplog.at_level("WARNING", logger="resnet_exp"):  # a run recorded by path, before
        check(tmp_path, "imagefolder:/old/path", "imagefolder:cifar@0123456789ab")
    assert "cannot be checked" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("block", ["residual", "preact"])
def test_depth_1202_trains_resumes_and_probes(tmp_path: Path, block: str) -> None:
    """The paper's deepest CIFAR net (issue 27): nothing in the run, checkpoint or probe grows
    worse than linearly with depth (width 2 and batch 4 keep it to seconds)."""
    from conftest import only_run_dir, run_cli

    args = [a for a in TINY if not a.startswith(("depth=", "width=", "batch_size=", "iterations="))]
    args += ["depth=1202", "width=2", "batch_size=4", f"block={block}", "out_root=out"]
    first = run_cli(["train", *args, "iterations=4"], tmp_path, timeout=600)
    assert first.returncode == 0, first.stderr
    run_dir = only_run_dir(tmp_path / "out")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["params"] > 0
    # Its checkpoint loads into a fresh process and a fresh folder (resume=RUN_DIR).
    again = run_cli(
        ["train", *args[:-1], "iterations=4", f"resume={run_dir}", "out_root=again"],
        tmp_path,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert "resuming" in (only_run_dir(tmp_path / "again") / "train.log").read_text()
    probe = run_cli(
        ["probe", f"from={run_dir}", "probe_batch=4", "out_root=probes"], tmp_path, timeout=600
    )
    assert probe.returncode == 0, probe.stderr
    (csv_path,) = (tmp_path / "probes").rglob("probe.csv")
    assert len(csv_path.read_text().splitlines()) == 1 + 1201  # header + every 3x3 conv
