"""`resnet-exp bench` end to end at toy scale (a depth-8, width-4 net, a few steps)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from resnet_exp.bench import main

TINY = [
    "--depths", "8",
    "--width", "4",
    "--batch-size", "8",
    "--windows", "1",
    "--steps", "2",
    "--warmup", "1",
    "--num-workers", "0",
    "--train-size", "64",
    "--device", "cpu",
]  # fmt: skip


@pytest.fixture
def keep_threads():
    """--threads changes a process-wide setting; give the other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_tiny_bench_writes_both_paths(tmp_path: Path, keep_threads, capsys) -> None:
    out = tmp_path / "bench.json"
    # One thread: the suite must not fight a busy machine's cores (and --threads gets exercised).
    assert main([*TINY, "--threads", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"timestamp", "torch", "device", "settings", "results", "ratios"} <= set(data)
    assert data["device"]["type"] == "cpu" and data["device"]["threads"] == 1
    settings = data["settings"]
    assert settings["precision"] == "fp32" and settings["channels_last"] is False  # CPU defaults
    assert settings["requested"] == {"device": "cpu", "channels_last": "auto", "precision": "auto"}
    assert settings["depths"] == [8] and settings["steps"] == 2 and settings["windows"] == 1

    paths = {r["path"]: r for r in data["results"]}
    assert set(paths) == {"resnet-exp", "baseline"}
    for r in paths.values():
        ips = r["images_per_s"]
        assert ips["median"] > 0 and ips["min"] <= ips["median"] <= ips["max"]
        assert len(ips["windows"]) == 1
        assert r["ms_per_step"] > 0
        assert r["peak_memory"]["kind"] == "process max RSS" and r["peak_memory"]["bytes"] > 0
        assert r["achieved_flops_per_s"] == pytest.approx(
            r["flops_per_image"]["train"] * ips["median"]
        )

    flops = [paths[p]["flops_per_image"] for p in ("resnet-exp", "baseline")]
    assert flops[0] == flops[1]  # the same net: the FLOP count must not depend on the pipeline
    assert flops[0]["train"] > flops[0]["forward"] > 0

    net = paths["resnet-exp"]["net"]
    ratio = data["ratios"][net]
    assert ratio > 0 and math.isfinite(ratio)
    assert ratio == pytest.approx(
        paths["resnet-exp"]["images_per_s"]["median"] / paths["baseline"]["images_per_s"]["median"]
    )
    printed = capsys.readouterr().out
    assert "resnet-exp" in printed and "baseline" in printed and "torch" in printed


def test_only_one_path(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main([*TINY, "--only", "resnet-exp", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["path"] for r in data["results"]] == ["resnet-exp"]
    assert data["ratios"] == {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_one_line_error(capsys) -> None:
    assert main(["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cuda" in err.lower()


@pytest.mark.parametrize(
    "argv",
    [
        ["--depths", "9"],
        ["--depths", "20,x"],
        ["--bogus"],
        ["--steps", "0"],
        ["--batch-size", "128", "--train-size", "64"],
        ["--device", "cpu", "--precision", "bf16"],
        ["--json", "/no/such/folder/bench.json"],
    ],
)
def test_bad_flags_return_2_with_one_line(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""
