"""`resnet-exp bench` end to end at toy scale (a depth-8, width-4 net, a few steps)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from resnet_exp.bench import main
from resnet_exp.train.precision import native_bf16_flags

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
    # The product's CPU defaults: bf16 + channels_last where the CPU computes bf16 natively.
    native = bool(native_bf16_flags())
    assert settings["precision"] == ("bf16" if native else "fp32")
    assert settings["channels_last"] is native
    assert data["device"]["cpu_bf16_flags"] == native_bf16_flags()
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


def test_bf16_on_a_cpu_without_native_bf16_runs_with_one_warning(
    tmp_path: Path, keep_threads, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnet_exp.train import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    out = tmp_path / "bench.json"
    argv = [*TINY, "--threads", "1", "--only", "resnet-exp", "--precision", "bf16"]
    assert main([*argv, "--json", str(out)]) == 0
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "emulated" in warnings[0]
    settings = json.loads(out.read_text())["settings"]
    assert settings["precision"] == "bf16" and settings["channels_last"] is True


@pytest.mark.parametrize(
    "argv",
    [
        ["--depths", "9"],
        ["--depths", "20,x"],
        ["--bogus"],
        ["--steps", "0"],
        ["--batch-size", "128", "--train-size", "64"],
        ["--json", "/no/such/folder/bench.json"],
        ["--block", "plain,bottleneck"],
        ["--processes", "0"],
        ["--processes", "2", "--only", "baseline"],
        ["--sweep-iterations", "0"],
        ["--compile-mode", "reduce-overhead"],
    ],
)
def test_bad_flags_return_2_with_one_line(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


def test_blocks_and_projection(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = [
        *TINY,
        "--only",
        "resnet-exp",
        "--block",
        "plain,residual",
        "--sweep-iterations",
        "3000",
    ]
    assert main([*argv, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [(r["block"], r["net"]) for r in data["results"]] == [
        ("plain", "plain-8-w4"),
        ("residual", "residual-8-w4"),
    ]
    p = data["projection"]
    assert (
        p["processes"] == 1
        and p["iterations"] == 3000
        and p["nets"] == ["plain-8-w4", "residual-8-w4"]
    )
    for run, row in zip(p["runs"], data["results"], strict=True):
        assert run["train_s"] == pytest.approx(3000 * row["ms_per_step"] / 1000)
        assert 0 < run["eval_s_estimate"] < run["train_s"]
    # One process: the runs follow one another.
    assert p["sweep_s"] == pytest.approx(sum(r["total_s"] for r in p["runs"]))
    assert data["paper_figure6"] is False


def test_processes_share_the_device_and_add_up(tmp_path: Path, capsys) -> None:
    """Two spawned copies time their windows side by side; the row is their sum."""
    out = tmp_path / "bench.json"
    assert main([*TINY, "--windows", "2", "--processes", "2", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    (row,) = data["results"]  # --processes implies --only resnet-exp
    assert row["path"] == "resnet-exp" and row["processes"] == 2
    ips = row["images_per_s"]
    assert len(ips["per_process_medians"]) == 2 and len(ips["windows"]) == 2
    assert ips["wall"] > 0
    # The machine's cores shared out between the two, at least one each.
    assert row["config"]["threads"] == max(1, torch.get_num_threads() // 2)
    # ms/step is one process's step: K images batches per (sum of rates).
    assert row["ms_per_step"] == pytest.approx(1000 * 8 * 2 / ips["median"])
    assert row["peak_memory"]["kind"].startswith("sum over 2 processes")
    p = data["projection"]
    assert p["processes"] == 2 and p["sweep_s"] == pytest.approx(p["runs"][0]["total_s"])
    assert "2 at a time" in capsys.readouterr().out


def test_combine_adds_window_rates_and_keeps_the_wall_clock() -> None:
    from resnet_exp.bench.measure import Measurement, combine

    def part(rates: list[float], start: float, end: float) -> Measurement:
        return Measurement(
            "residual-8", "residual", 8, "resnet-exp", 10, rates, 1.0, 100, "kind", 1.0, 3.0,
            {"threads": 1, "start": start, "end": end},
        )  # fmt: skip

    m = combine([part([100.0, 200.0], 0.0, 2.0), part([50.0, 70.0], 0.5, 4.0)], steps=5)
    assert m.window_images_per_s == [150.0, 270.0] and m.processes == 2
    assert m.per_process_images_per_s == [150.0, 60.0]
    assert m.wall_images_per_s == pytest.approx(2 * 2 * 5 * 10 / 4.0)  # 200 images in 4 s
    assert m.peak_memory_bytes == 200 and "start" not in m.config


@pytest.mark.parametrize(
    ("iterations", "every", "n"), [(64000, 2000, 32), (3000, 750, 4), (1000, 300, 4)]
)
def test_evaluations_count_the_final_one_once(iterations: int, every: int, n: int) -> None:
    from resnet_exp.bench.projection import evaluations

    assert evaluations(iterations, every) == n


def test_figure6_is_recognised() -> None:
    from resnet_exp.bench.cli import is_figure6
    from resnet_exp.bench.settings import parse_settings

    assert is_figure6(parse_settings(["--block", "plain,residual", "--depths", "20,32,44,56"]))
    assert not is_figure6(parse_settings(["--block", "plain,residual", "--depths", "20,56"]))
    assert not is_figure6(
        parse_settings(["--block", "residual,plain", "--depths", "20,32,44,56", "--width", "8"])
    )


def test_rows_print_as_measured_and_ctrl_c_keeps_them(tmp_path: Path, monkeypatch, capsys) -> None:
    """Issue 25.7: the bench printed nothing until the end and threw its finished measurements
    away on Ctrl-C. Each row is printed when taken; Ctrl-C keeps them (table, JSON) and exits 130."""
    import resnet_exp.bench.cli as bench_cli

    real = bench_cli.measure
    calls = {"n": 0}

    def measure_then_stop(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bench_cli, "measure", measure_then_stop)
    out = tmp_path / "bench.json"
    assert main([*TINY, "--threads", "1", "--json", str(out)]) == 130
    printed = capsys.readouterr()
    assert "residual-8-w4 resnet-exp: " in printed.out and "images/s" in printed.out
    assert "interrupted: 1 of 2 measurements kept" in printed.err
    data = json.loads(out.read_text())
    assert data["interrupted"] is True and [r["path"] for r in data["results"]] == ["resnet-exp"]


def test_experiment_measures_a_presets_nets_as_its_sweep_runs_them() -> None:
    """`--experiment NAME` takes the nets, width, batch, precision, runs at a time and the
    evaluation schedule from the preset, to project its sweep's time on this machine."""
    from resnet_exp.bench.settings import parse_settings

    s = parse_settings(["--experiment", "degradation_laptop_fig6"])
    assert s.depths == (56, 44, 32, 20) and s.blocks == ("plain", "residual")
    assert (s.width, s.batch_size, s.processes, s.precision) == (8, 64, 2, "auto")
    assert (s.sweep_iterations, s.eval_every, s.eval_subset) == (6000, 500, 2500)
    warm = parse_settings(["--experiment", "degradation_laptop_warmup"])
    assert warm.depths == (56, 20) and warm.precision == "fp32" and warm.eval_subset is None
    default = parse_settings([])
    assert (default.depths, default.width, default.sweep_iterations) == ((20, 56), 16, 64000)


@pytest.mark.parametrize(
    "argv, text",
    [
        (["--experiment", "degradation_laptop", "--depths", "20"], "sets --depths from the preset"),
        (["--experiment", "nope"], "no such preset; choose from deep_laptop, degradation,"),
    ],
)
def test_experiment_errors_are_one_line(argv: list[str], text: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and err.strip().count("\n") == 0


def test_projection_counts_subset_evaluations() -> None:
    from resnet_exp.bench.measure import Measurement
    from resnet_exp.bench.projection import project_run

    m = Measurement(
        "residual-20", "residual", 20, "resnet-exp", 64, [640.0], 1.0, 1, "kind", 1.0, 3.0, {}
    )  # 640 images/s: 0.1 s a step at batch 64; a forward pass is a third of a step
    full = project_run(m, 6000, eval_every=500)  # 12 evaluations of 10k images
    subset = project_run(m, 6000, eval_every=500, eval_subset=2500)  # 11 x 2500 + 10k
    assert full.train_s == pytest.approx(600.0)
    assert full.eval_s == pytest.approx(12 * 10000 / 3 / 640)
    assert subset.eval_s == pytest.approx((11 * 2500 + 10000) / 3 / 640)


def test_sweep_projection_follows_the_launchers_schedule() -> None:
    """Runs start in the sweep's order, each on the first worker to come free (joblib)."""
    from resnet_exp.bench.cli import job_order
    from resnet_exp.bench.projection import schedule
    from resnet_exp.bench.settings import parse_settings

    # Two workers: 10 and 12 start together; 4 follows 10 (ends 14), 5 follows 12 (ends 17).
    assert schedule([10.0, 12.0, 4.0, 5.0], 2) == 17.0
    assert schedule([10.0, 12.0, 4.0, 5.0], 1) == 31.0
    fig6 = parse_settings(["--experiment", "degradation_laptop_fig6"])  # depth listed first
    assert job_order(fig6)[:3] == ["plain-56-w8", "residual-56-w8", "plain-44-w8"]
    long_ends = parse_settings(["--experiment", "degradation_laptop_long"])  # block first
    assert job_order(long_ends) == [
        "plain-56-w8",
        "plain-20-w8",
        "residual-56-w8",
        "residual-20-w8",
    ]
