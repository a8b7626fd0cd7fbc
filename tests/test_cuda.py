"""The CUDA paths: run where a GPU is present (`make test` on a GPU machine), skipped elsewhere.

CI has no GPU, so these are the checks a session with one runs (docs/performance.md). They ask
for agreement within tolerances, not bits: cuDNN kernels and bf16 do not promise bit-equality.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY, only_run_dir, read_jsonl, run_cli
from test_config import compose_train
from test_train import interrupt_at

from resnet_exp.bench import main as bench_main
from resnet_exp.build import spec_from_config
from resnet_exp.data.pipeline import Batches, pixel_mean
from resnet_exp.data.sources import make_synthetic
from resnet_exp.models import build_net
from resnet_exp.specs import LoopSpec, OptimSpec
from resnet_exp.train import runner
from resnet_exp.train.loop import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# The tests that name a precision add it themselves (one precision= per command line).
CUDA = [a for a in TINY if not a.startswith(("device=", "precision="))] + ["device=cuda"]


def test_batches_on_cuda_equal_batches_on_cpu() -> None:
    """One CPU generator drives the order and the augmentation, so both devices see the same data."""
    ds = make_synthetic(256, 16)
    mean = pixel_mean(ds.train_x)
    cpu = Batches(ds.train_x, ds.train_y, mean, 32, seed=3, device=torch.device("cpu"))
    gpu = Batches(ds.train_x, ds.train_y, mean, 32, seed=3, device=torch.device("cuda"))
    for _ in range(10):  # across an epoch boundary (8 batches per epoch)
        (xc, yc), (xg, yg) = cpu.next(), gpu.next()
        assert xg.is_cuda and torch.equal(yc, yg.cpu())
        torch.testing.assert_close(xg.cpu(), xc, rtol=0, atol=1e-6)


@pytest.fixture
def no_tf32():
    """cuDNN may use TF32 for fp32 convolutions (10-bit mantissa); compare real fp32 here."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize(("precision", "atol"), [("fp32", 1e-3), ("bf16", 5e-2)])
def test_a_cuda_step_matches_the_cpu_step(precision: str, atol: float, no_tf32) -> None:
    """channels_last + autocast on CUDA compute the same loss as eager fp32 NCHW on the CPU."""
    ds = make_synthetic(256, 16)
    mean = pixel_mean(ds.train_x)
    losses = {}
    for name, device, cl, prec in [
        ("cpu", "cpu", False, "fp32"),
        ("cuda", "cuda", True, precision),
    ]:
        dev = torch.device(device)
        batches = Batches(ds.train_x, ds.train_y, mean, 32, seed=0, device=dev, augment=False)
        loop = LoopSpec(batch_size=32, device=device, precision=prec, progress=False)
        model = build_net(8, "residual", "A", 4, 10, seed=0)
        trainer = Trainer(model, batches, [], mean, OptimSpec(), loop, dev, channels_last=cl)
        x, y = batches.next()
        with torch.no_grad(), trainer.autocast():
            model.train()
            losses[name] = torch.nn.functional.cross_entropy(
                trainer.model(x.contiguous(memory_format=trainer.memory_format)).float(), y
            ).item()
    assert losses["cuda"] == pytest.approx(losses["cpu"], abs=atol)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_on_cuda_interrupt_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    """The whole run on CUDA: SIGTERM at iteration 7, the same command again finishes the run."""
    spec = spec_from_config(compose_train([*CUDA, f"precision={precision}"]))
    with monkeypatch.context() as m:
        interrupt_at(m, 7)
        first = runner.run(spec, tmp_path)
    assert (first.status, first.exit_code) == ("interrupted", 130)
    second = runner.run(spec, tmp_path)
    assert second.status == "completed"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (
        summary["device"].startswith("cuda")
        and summary["provenance"]["resumed_from"]["iteration"] == 7
    )
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "train"] == [4, 8, 12]
    assert all(math.isfinite(r["train_loss"]) for r in records if r["kind"] == "train")
    assert [r["step"] for r in records if r["kind"] == "eval"] == [6, 12]


def test_train_cli_on_cuda(tmp_path: Path) -> None:
    done = run_cli(["train", *CUDA, "precision=bf16"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((only_run_dir(tmp_path / "outputs") / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["device"].startswith("cuda")


@pytest.mark.parametrize("extra", [[], ["--processes", "2"], ["--compile"]])
def test_bench_on_cuda(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "bench.json"
    argv = [
        "--depths", "8", "--width", "4", "--batch-size", "16", "--windows", "2", "--steps", "2",
        "--warmup", "2", "--num-workers", "0", "--train-size", "128", "--device", "cuda",
        "--json", str(out), *extra,
    ]  # fmt: skip
    assert bench_main(argv) == 0
    data = json.loads(out.read_text())
    assert data["device"]["type"] == "cuda"
    for row in data["results"]:
        assert row["peak_memory"]["kind"].endswith("max_memory_allocated")
        assert row["images_per_s"]["median"] > 0
    assert data["settings"]["precision"] == "bf16" and data["settings"]["channels_last"] is True
