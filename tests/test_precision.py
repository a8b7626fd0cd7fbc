"""precision=auto: resolved from the device and the CPU's flags, recorded, and kept per run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY, make_run, read_jsonl
from test_config import compose_train
from test_train import comparable, final_weights, interrupt_at

from resnet_exp.build import result_identity, spec_from_config
from resnet_exp.report.collect import find_run_dirs, load_runs, split_by_setting
from resnet_exp.train import precision as P
from resnet_exp.train import runner
from resnet_exp.train.checkpoint import load_checkpoint, save_checkpoint
from resnet_exp.train.loop import default_channels_last

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a device object needs no GPU
AMX = frozenset({"avx512f", "amx_tile", "amx_bf16", "avx512_bf16"})
ZEN4 = frozenset({"avx2", "avx512f", "avx512_bf16"})
OLD = frozenset({"avx2", "avx512f", "avx512bw"})


def with_precision(value: str) -> list[str]:
    return [o for o in TINY if not o.startswith("precision=")] + [f"precision={value}"]


@pytest.mark.parametrize(
    ("flags", "expected"), [(AMX, "bf16"), (ZEN4, "bf16"), (OLD, "fp32"), (frozenset(), "fp32")]
)
def test_auto_follows_the_cpu_flags(flags: frozenset[str], expected: str) -> None:
    assert P.resolve_precision("auto", CPU, flags) == (expected, None)


def test_auto_on_cuda_follows_the_gpu_not_the_host_cpu() -> None:
    assert P.resolve_precision("auto", CUDA, OLD, cuda_bf16=True) == ("bf16", None)
    assert P.resolve_precision("auto", CUDA, AMX, cuda_bf16=False) == ("fp32", None)
    chosen, warning = P.resolve_precision("bf16", CUDA, AMX, cuda_bf16=False)
    assert chosen == "bf16" and "compute capability" in warning


def test_explicit_choices_are_kept_and_emulated_bf16_warns() -> None:
    assert P.resolve_precision("fp32", CPU, AMX) == ("fp32", None)
    assert P.resolve_precision("bf16", CPU, ZEN4) == ("bf16", None)
    chosen, warning = P.resolve_precision("bf16", CPU, OLD)
    assert chosen == "bf16" and warning and "\n" not in warning and "AVX512-BF16" in warning


def test_auto_keeps_the_precision_a_resumed_run_trained_in() -> None:
    assert P.resolve_precision("auto", CPU, AMX, recorded="fp32") == ("fp32", None)
    chosen, warning = P.resolve_precision("auto", CPU, OLD, recorded="bf16")
    assert chosen == "bf16" and warning  # continues as it began, and says it is emulated here


def test_flags_are_read_from_the_kernel_list() -> None:
    flags = P.cpu_flags()
    assert isinstance(flags, frozenset)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    line = next((x for x in lines if x.startswith("flags")), None)  # x86 Linux only
    if line is None:
        pytest.skip("no x86 flags line here (not Linux on x86)")
    assert set(P.native_bf16_flags()) == {
        f for f in P.NATIVE_BF16_FLAGS if f in line.split(":", 1)[1].split()
    }


def test_channels_last_auto_in_bf16_on_cpu() -> None:
    assert default_channels_last(CPU, 8, "bf16") is True
    assert default_channels_last(CPU, 8, "fp32") is False
    assert default_channels_last(CPU, 16, "fp32") is True
    assert default_channels_last(CUDA, 8, "fp32") is True


def test_auto_is_the_default_and_unknown_values_are_refused() -> None:
    spec = spec_from_config(compose_train([o for o in TINY if not o.startswith("precision=")]))
    assert spec.loop.precision == "auto"
    from resnet_exp.errors import UserError

    with pytest.raises(UserError, match="precision=fp16 must be one of auto, fp32, bf16"):
        spec_from_config(compose_train(with_precision("fp16")))


def fake_cpu(monkeypatch: pytest.MonkeyPatch, flags: frozenset[str]) -> None:
    monkeypatch.setattr(P, "cpu_flags", lambda: flags)


@pytest.mark.parametrize(("flags", "expected"), [(ZEN4, "bf16"), (OLD, "fp32")])
def test_summary_and_provenance_record_the_resolved_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: frozenset[str], expected: str
) -> None:
    fake_cpu(monkeypatch, flags)
    spec = spec_from_config(compose_train(with_precision("auto")))
    assert runner.run(spec, tmp_path).status == "completed"
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["precision"] == s["provenance"]["precision"] == s["config"]["precision"] == expected
    assert s["provenance"]["precision_requested"] == "auto"
    assert s["provenance"]["cpu_bf16_flags"] == [f for f in P.NATIVE_BF16_FLAGS if f in flags]
    assert load_checkpoint(tmp_path / "checkpoint.pt")["config"]["precision"] == expected


def test_a_bf16_cpu_run_resumes_bit_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_from_config(compose_train(with_precision("bf16")))
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert runner.run(spec, straight).status == "completed"
    with monkeypatch.context() as m:
        interrupt_at(m, 7)
        assert runner.run(spec, broken).status == "interrupted"
    assert runner.run(spec, broken).status == "completed"
    a, b = final_weights(straight), final_weights(broken)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert comparable(read_jsonl(straight / "metrics.jsonl")) == comparable(
        read_jsonl(broken / "metrics.jsonl")
    )
    # bf16 really ran: its weights differ from the same run in fp32.
    fp32 = tmp_path / "fp32"
    runner.run(spec_from_config(compose_train(with_precision("fp32"))), fp32)
    c = final_weights(fp32)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_auto_run_resumed_on_another_cpu_keeps_its_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = spec_from_config(compose_train(with_precision("auto")))
    with monkeypatch.context() as m:
        fake_cpu(m, ZEN4)
        interrupt_at(m, 5)
        assert runner.run(spec, tmp_path).status == "interrupted"
    fake_cpu(monkeypatch, OLD)  # "moved" to a CPU without native bf16: auto would pick fp32
    with caplog.at_level("WARNING", logger="resnet_exp"):
        assert runner.run(spec, tmp_path).status == "completed"
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["precision"] == "bf16"
    assert "emulated" in caplog.text


def test_resuming_in_another_explicit_precision_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        interrupt_at(m, 5)
        runner.run(spec_from_config(compose_train(with_precision("fp32"))), tmp_path)
    from resnet_exp.errors import UserError

    with pytest.raises(UserError, match="loop.precision: fp32 -> bf16"):
        runner.run(spec_from_config(compose_train(with_precision("bf16"))), tmp_path)


def test_precision_is_part_of_the_result_identity() -> None:
    a = result_identity(spec_from_config(compose_train(with_precision("fp32"))))
    b = result_identity(spec_from_config(compose_train(with_precision("bf16"))))
    assert {k for k in a if a[k] != b[k]} == {"loop.precision"}


def test_the_report_never_pools_bf16_and_fp32_runs(tmp_path: Path) -> None:
    """Runs recorded with their resolved precision fall into two settings of one report."""
    base = compose_train(with_precision("fp32"))
    for prec, sub in (("fp32", "fp32"), ("bf16", "bf16")):
        config = json.loads(json.dumps(spec_from_config(base).config))
        config["precision"] = prec
        for block, err in (("plain", 0.3), ("residual", 0.2)):
            make_run(tmp_path / sub, block, 8, 0, err, config=config, precision=prec)
    runs, problems = load_runs(find_run_dirs(tmp_path))
    assert not problems
    groups, unplaced = split_by_setting(runs)
    assert not unplaced and len(groups) == 2
    assert sorted(g.label for g in groups) == ["precision=bf16", "precision=fp32"]
    for g in groups:
        assert {r.block for r in g.runs} == {"plain", "residual"}


def test_a_run_recorded_before_auto_continues_in_fp32_on_a_bf16_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs written before precision=auto recorded fp32 (or no key at all): auto keeps them."""
    old = spec_from_config(compose_train(with_precision("fp32")))
    with monkeypatch.context() as m:
        interrupt_at(m, 5)
        assert runner.run(old, tmp_path).status == "interrupted"
    # As an older version wrote them: no precision anywhere in summary or checkpoint.
    s = json.loads((tmp_path / "summary.json").read_text())
    del s["config"]["precision"], s["precision"]
    (tmp_path / "summary.json").write_text(json.dumps(s))
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    del ckpt["config"]["precision"]
    save_checkpoint(tmp_path / "checkpoint.pt", ckpt)
    fake_cpu(monkeypatch, ZEN4)
    auto = spec_from_config(compose_train(with_precision("auto")))
    assert runner.run(auto, tmp_path).status == "completed"
    assert json.loads((tmp_path / "summary.json").read_text())["precision"] == "fp32"


def test_a_finished_run_is_skipped_without_reading_its_checkpoint(tmp_path: Path) -> None:
    spec = spec_from_config(compose_train(with_precision("auto")))
    assert runner.run(spec, tmp_path).status == "completed"
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    again = runner.run(spec, tmp_path)
    assert again.status == "completed" and "skipped" in again.message
