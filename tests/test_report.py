"""Tests for `resnet-exp report` on hand-made run directories with known numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from resnet_exp.report.cli import main
from resnet_exp.report.collect import find_run_dirs, group_cells, load_runs
from resnet_exp.report.verdict import judge

PLAIN = {20: 0.10, 32: 0.15, 44: 0.20, 56: 0.25}
RESIDUAL = {20: 0.12, 32: 0.10, 44: 0.08, 56: 0.07}
PARAMS = {20: 272474, 32: 466906, 44: 661338, 56: 855770}


def make_run(
    root: Path,
    block: str,
    depth: int,
    seed: int,
    train_error: float,
    test_error: float | None = None,
    status: str = "completed",
    dataset: str = "synthetic",
    iterations: int = 400,
    iteration: int | None = None,
    summary: bool = True,
    **extra: object,
) -> Path:
    """Write a run dir: metrics.jsonl with curves ending at the given errors, and summary.json."""
    name = f"{block}-{depth}_A_kaiming_normal_s{seed}"
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    reached = iterations if iteration is None else iteration
    test_error = train_error + 0.05 if test_error is None else test_error
    lines = []
    for step in range(100, reached + 1, 100):
        frac = step / reached  # curves fall linearly onto the final value
        lines.append({"kind": "train", "step": step, "train_error": train_error + 0.5 * (1 - frac)})
        lines.append({"kind": "eval", "step": step, "test_error": test_error + 0.4 * (1 - frac)})
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if summary:
        s = {
            "name": name,
            "status": status,
            "block": block,
            "depth": depth,
            "width": 16,
            "shortcut": "A",
            "init": "kaiming_normal",
            "seed": seed,
            "params": PARAMS.get(depth, 1000),
            "dataset": dataset,
            "iterations": iterations,
            "iteration": reached,
            "train_error": train_error,
            "test_error": test_error,
            "train_loss": 1.0,
            "diverged_at": None,
            "error": None,
        }
        s.update(extra)
        (d / "summary.json").write_text(json.dumps(s))
    return d


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """plain/residual x 20/32/44/56, second seeds in some cells, one diverged and one running run."""
    root = tmp_path / "sweep"
    for depth, err in PLAIN.items():
        make_run(root, "plain", depth, 0, err)
    for depth, err in RESIDUAL.items():
        make_run(root, "residual", depth, 0, err)
    make_run(root, "plain", 20, 1, 0.12, test_error=0.17)  # plain-20: 10% and 12% -> 11 ± 1.414
    make_run(root, "residual", 56, 1, 0.09, test_error=0.13)  # residual-56: 7% and 9% -> 8%
    # Must never be averaged in: a diverged run with a huge error, a running one with a tiny one.
    make_run(root, "plain", 56, 1, 0.90, status="diverged", iteration=200, diverged_at=812)
    make_run(root, "residual", 44, 1, 0.01, status="running", iteration=200)
    return root


def read_csv(path: Path) -> dict[tuple[int, str], dict[str, str]]:
    with path.open() as fh:
        return {(int(r["depth"]), r["block"]): r for r in csv.DictReader(fh)}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_full_report_files_table_and_verdict(sweep: Path, capsys) -> None:
    code, out, err = run_cli(capsys, str(sweep), "--no-tensorboard")
    assert code == 0, err
    rep = sweep / "report"
    for name in ("figure6", "error_vs_depth"):
        for fmt in ("png", "svg"):
            assert (rep / f"{name}.{fmt}").stat().st_size > 1000
    assert not (rep / "tensorboard").exists()
    assert f"Report written to {rep}" in out

    rows = read_csv(rep / "table.csv")
    assert len(rows) == 8
    assert list(rows)[:2] == [(20, "plain"), (20, "residual")]  # sorted by depth, then block
    p20 = rows[(20, "plain")]
    assert p20["params"] == "272474"
    assert float(p20["train_error_pct"]) == pytest.approx(11.0)
    assert float(p20["train_error_std_pct"]) == pytest.approx(1.4142, abs=1e-4)
    assert float(p20["test_error_pct"]) == pytest.approx(16.0)
    assert (p20["seeds_completed"], p20["seeds_total"], p20["status"]) == ("2", "2", "completed")
    # Diverged run shown in status, not averaged in: the mean stays the one remaining seed.
    p56 = rows[(56, "plain")]
    assert float(p56["train_error_pct"]) == pytest.approx(25.0)
    assert p56["train_error_std_pct"] == ""  # one completed seed: no std
    assert (p56["seeds_completed"], p56["seeds_total"]) == ("1", "2")
    assert p56["status"] == "1 completed, 1 diverged"
    r44 = rows[(44, "residual")]
    assert float(r44["train_error_pct"]) == pytest.approx(8.0)
    assert r44["status"] == "1 completed, 1 running"
    r56 = rows[(56, "residual")]
    assert float(r56["train_error_pct"]) == pytest.approx(8.0)
    assert float(r56["test_error_pct"]) == pytest.approx(12.5)
    assert rows[(32, "residual")]["status"] == "completed"

    md = (rep / "table.md").read_text()
    assert "| 20 | plain | 272474 | 11.00 ± 1.41 | 16.00 ± 1.41 | 2/2 | completed |" in md
    assert "| 56 | plain | 855770 | 25.00 | 30.00 | 1/2 | 1 completed, 1 diverged |" in md

    verdict = (rep / "verdict.md").read_text()
    assert (
        "Plain nets degrade with depth: training error 11.0% at depth 20 -> 25.0% at depth 56"
        in verdict
    )
    assert "monotone over 20<32<44<56" in verdict
    assert (
        "Residual nets improve with depth: training error 12.0% at depth 20 -> 8.0% at depth 56"
        in verdict
    )
    assert "not included: plain-56 s1 diverged at iteration 812" in verdict
    assert "not included: residual-44 s1 still running (at iteration 200 of 400)" in verdict
    assert "Plain nets degrade with depth" in out  # also printed


def test_verdict_booleans_and_numbers(sweep: Path) -> None:
    runs, problems = load_runs(find_run_dirs(sweep))
    assert problems == []
    v = judge(group_cells(runs))
    assert v.plain_degrades is True and v.plain_monotone is True
    # residual: 12 -> 10 -> 8 (running 1% ignored) -> 8 (mean of 7 and 9): falls, not strictly.
    assert v.residual_improves is True and v.residual_monotone is False
    assert v.plain.errors == pytest.approx([0.11, 0.15, 0.20, 0.25])
    assert v.residual.errors == pytest.approx([0.12, 0.10, 0.08, 0.08])
    assert v.compare_depth == 56 and v.residual_beats_plain is True
    text = v.to_text()
    assert "not monotone: 20: 12.0%, 32: 10.0%, 44: 8.0%, 56: 8.0%" in text
    assert "residual 8.0% vs plain 25.0%: residual is 17.0 points lower" in text
    assert len(v.excluded) == 2


def test_verdict_when_residual_gets_worse_and_plain_does_not(tmp_path: Path) -> None:
    for depth, err in {20: 0.30, 56: 0.20}.items():
        make_run(tmp_path, "plain", depth, 0, err)
    for depth, err in {20: 0.52, 56: 0.65}.items():
        make_run(tmp_path, "residual", depth, 0, err)
    runs, _ = load_runs(find_run_dirs(tmp_path))
    v = judge(group_cells(runs))
    assert v.plain_degrades is False and v.residual_improves is False
    assert v.residual_beats_plain is False
    text = v.to_text()
    assert (
        "Plain nets do NOT degrade with depth at this scale: training error 30.0% at depth 20 -> 20.0%"
        in text
    )
    assert (
        "Residual nets do NOT improve with depth at this scale: training error 52.0% at depth 20 -> 65.0% at depth 56"
        in text
    )


def test_single_block_and_single_depth_say_what_cannot_be_judged(tmp_path: Path) -> None:
    make_run(tmp_path, "plain", 20, 0, 0.3)
    make_run(tmp_path, "plain", 56, 0, 0.4, status="failed", error="CUDA out of memory")
    runs, _ = load_runs(find_run_dirs(tmp_path))
    v = judge(group_cells(runs))
    assert v.plain_degrades is None and v.residual_improves is None
    assert v.residual_beats_plain is None and v.compare_depth is None
    text = v.to_text()
    assert "only depth 20 has a completed run" in text
    assert "No residual runs" in text
    assert "can't compare them" in text
    assert "not included: plain-56 s0 failed at iteration 400 of 400: CUDA out of memory" in text


def test_single_run_dir_and_run_without_summary(tmp_path: Path, capsys) -> None:
    one = make_run(tmp_path / "runs", "residual", 20, 0, 0.2)
    make_run(tmp_path / "runs", "plain", 20, 0, 0.3, summary=False)  # just started: no summary
    code, _, err = run_cli(capsys, str(one), "--no-tensorboard", "--formats", "png")
    assert code == 0, err
    assert (one / "report" / "figure6.png").exists() and not (
        one / "report" / "figure6.svg"
    ).exists()
    assert len(read_csv(one / "report" / "table.csv")) == 1

    out_dir = tmp_path / "elsewhere"
    code, _, err = run_cli(capsys, str(tmp_path), "--out", str(out_dir), "--no-tensorboard")
    assert code == 0, err
    rows = read_csv(out_dir / "table.csv")
    # The report/ folder written inside the run dir above is not mistaken for a run.
    assert set(rows) == {(20, "plain"), (20, "residual")}
    assert rows[(20, "plain")]["status"] == "unknown"
    assert rows[(20, "plain")]["train_error_pct"] == ""
    assert "plain-20 s0 has no summary.json yet" in (out_dir / "verdict.md").read_text()


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_bad_path_is_one_line_and_exit_2(tmp_path: Path, capsys, kind: str) -> None:
    path = tmp_path / "nope"
    if kind == "empty":
        (path / "sub").mkdir(parents=True)
    code, out, err = run_cli(capsys, str(path))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"resnet-exp report: no runs found under {path}")
    assert not (path / "report").exists()


def test_mixed_datasets_exit_2(tmp_path: Path, capsys) -> None:
    make_run(tmp_path, "plain", 20, 0, 0.1, dataset="cifar10")
    make_run(tmp_path, "plain", 56, 0, 0.1, dataset="synthetic")
    code, _, err = run_cli(capsys, str(tmp_path), "--no-tensorboard")
    assert code == 2
    assert err.count("\n") == 1
    assert "different datasets" in err and "cifar10" in err and "synthetic" in err


def test_bad_format_exit_2(tmp_path: Path, capsys) -> None:
    make_run(tmp_path, "plain", 20, 0, 0.1)
    code, _, err = run_cli(capsys, str(tmp_path), "--formats", "png,gif")
    assert code == 2 and "gif" in err and err.count("\n") == 1


def test_tensorboard_images_written(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch")
    make_run(tmp_path, "plain", 20, 0, 0.1)
    make_run(tmp_path, "residual", 20, 0, 0.1)
    code, _, err = run_cli(capsys, str(tmp_path), "--formats", "png")
    assert code == 0, err
    events = list((tmp_path / "report" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    data = events[0].read_bytes()
    assert b"report/figure6" in data and b"report/error_vs_depth" in data
    assert b"\x89PNG" in data  # the figures went in as images
