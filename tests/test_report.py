"""Tests for `resnet-exp report` on hand-made run directories with known numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import PLAIN, RESIDUAL, make_run

from resnet_exp.report.cli import main
from resnet_exp.report.collect import find_run_dirs, group_cells, load_runs
from resnet_exp.report.verdict import judge


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
    # One seed in most cells: the directions are stated, but nothing is called a result.
    assert (
        "Plain nets degrade with depth: inconclusive. Training error 11.0% at depth 20 -> 25.0% "
        "at depth 56, +14.0 points, resting on 2 seeds vs 1 seed" in verdict
    )
    assert "Per depth: 20: 11.0%, 32: 15.0%, 44: 20.0%, 56: 25.0%" in verdict
    assert (
        "Residual nets improve with depth: inconclusive. Training error 12.0% at depth 20 -> 8.0% "
        "at depth 56" in verdict
    )
    assert "plain-56: 1 of 2 seeds diverged, excluded from the mean" in verdict
    assert "residual-44: 1 of 2 seeds unfinished, excluded from the mean" in verdict
    assert "not included: plain-56 s1 diverged at iteration 812" in verdict
    assert "not included: residual-44 s1 still running (at iteration 200 of 400)" in verdict
    assert "Plain nets degrade with depth" in out  # also printed
    assert (
        json.loads((rep / "verdict.json").read_text())["comparisons"][0]["both_halves_hold"]
        is False
    )


def test_verdict_numbers(sweep: Path) -> None:
    runs, problems = load_runs(find_run_dirs(sweep))
    assert problems == []
    v = judge(group_cells(runs))
    assert v.plain.conclusion == "inconclusive" and v.residual.conclusion == "inconclusive"
    # residual: 12 -> 10 -> 8 (running 1% ignored) -> 8 (mean of 7 and 9)
    assert v.plain.means == pytest.approx([0.11, 0.15, 0.20, 0.25])
    assert v.residual.means == pytest.approx([0.12, 0.10, 0.08, 0.08])
    assert [c.a for c in v.plain_vs_residual] == ["plain-20", "plain-32", "plain-44", "plain-56"]
    text = v.to_text()
    assert "At depth 56, residual vs plain: inconclusive. Training error 8.0% vs 25.0%" in text
    assert len(v.excluded) == 2


def test_verdict_when_residual_gets_worse_and_plain_does_not(tmp_path: Path) -> None:
    for depth, err in {20: 0.30, 56: 0.20}.items():
        for seed in range(3):
            make_run(tmp_path, "plain", depth, seed, err + seed / 100)
    for depth, err in {20: 0.52, 56: 0.65}.items():
        for seed in range(3):
            make_run(tmp_path, "residual", depth, seed, err + seed / 100)
    runs, _ = load_runs(find_run_dirs(tmp_path))
    v = judge(group_cells(runs))
    assert v.plain.conclusion == "does not hold" and v.residual.conclusion == "does not hold"
    assert [c.conclusion for c in v.plain_vs_residual] == ["does not hold"] * 2
    text = v.to_text()
    assert (
        "Not both halves: the plain half is contradicted, the residual half is contradicted" in text
    )
    assert (
        "Plain nets degrade with depth: does NOT hold, the opposite holds. Training error 31.0% "
        "at depth 20 -> 21.0%" in text
    )
    assert "At depth 56, residual vs plain: residual trains WORSE (the opposite holds)" in text


def test_single_block_and_single_depth_say_what_cannot_be_judged(tmp_path: Path) -> None:
    make_run(tmp_path, "plain", 20, 0, 0.3)
    make_run(tmp_path, "plain", 56, 0, 0.4, status="failed", error="CUDA out of memory")
    runs, _ = load_runs(find_run_dirs(tmp_path))
    v = judge(group_cells(runs))
    assert v.plain.conclusion == "inconclusive" and v.residual is None
    assert v.plain_vs_residual == [] and not v.both_halves_hold
    text = v.to_text()
    assert "only depth 20 has a completed run" in text
    assert "Depth 56 is left out: no completed seed (1 failed)" in text
    assert "no residual runs" in text
    assert "can't compare them" in text
    assert "not included: plain-56 s0 failed at iteration 400 of 400: CUDA out of memory" in text


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
    # Off by default (issue 25.8: `tensorboard --logdir outputs` listed it as a run) ...
    assert not (tmp_path / "report" / "tensorboard").exists()
    # ... and there on request.
    code, _, err = run_cli(capsys, str(tmp_path), "--formats", "png", "--tensorboard")
    assert code == 0, err
    events = list((tmp_path / "report" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    data = events[0].read_bytes()
    assert b"report/figure6" in data and b"report/error_vs_depth" in data
    assert b"report/gaps" in data and b"report/verdict" in data
    assert b"\x89PNG" in data  # the figures went in as images


def test_unreadable_summary_is_named_and_skipped(tmp_path: Path, capsys) -> None:
    make_run(tmp_path, "plain", 20, 0, 0.3)
    bad = make_run(tmp_path, "plain", 56, 0, 0.5)
    (bad / "summary.json").write_text('{"name": "plain-56_A_kaiming_normal_s0", "sta')
    code, _, err = run_cli(capsys, str(tmp_path), "--no-tensorboard", "--formats", "png")
    assert code == 0
    assert f"warning: skipped {bad}: summary.json unreadable" in err
    assert set(read_csv(tmp_path / "report" / "table.csv")) == {(20, "plain")}

    only = tmp_path / "only"
    worse = make_run(only, "plain", 20, 0, 0.3)
    (worse / "summary.json").write_text("")
    code, _, err = run_cli(capsys, str(only), "--no-tensorboard")
    assert code == 2
    assert f"warning: skipped {worse}: summary.json unreadable" in err
    assert "nothing readable under" in err and "1 run directory could not be read" in err
    assert "no runs found" not in err


def test_one_image_folder_at_two_paths_is_one_dataset(tmp_path: Path, capsys) -> None:
    # Seeds run on two machines: the same images under two folder names, one content fingerprint.
    make_run(tmp_path / "m1", "plain", 20, 0, 0.30, dataset="imagefolder:cifar10-jpeg@0123456789ab")
    make_run(tmp_path / "m2", "plain", 20, 1, 0.32, dataset="imagefolder:images@0123456789ab")
    make_run(tmp_path / "m2", "plain", 56, 1, 0.50, dataset="imagefolder:images@0123456789ab")
    code, out, err = run_cli(capsys, str(tmp_path), "--no-tensorboard", "--formats", "png")
    assert code == 0, err
    rows = read_csv(tmp_path / "report" / "table.csv")
    assert rows[(20, "plain")]["seeds_completed"] == "2"  # one cell, not two datasets
    assert "imagefolder:cifar10-jpeg@0123456789ab = imagefolder:images@0123456789ab" in out
    # Other content, or a run recorded by path before fingerprints: a different dataset.
    make_run(tmp_path / "m3", "plain", 32, 0, 0.4, dataset="imagefolder:/old/abs/path")
    code, _, err = run_cli(capsys, str(tmp_path), "--no-tensorboard")
    assert code == 2 and "different datasets" in err and "/old/abs/path" in err


def test_data_root_reads_path_recorded_runs_by_content(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_data import write_image_folder

    from resnet_exp.data.sources import load_image_folder

    monkeypatch.setenv("RESNET_EXP_CACHE", str(tmp_path / "cache"))
    images = tmp_path / "images"
    write_image_folder(images)
    new_name = load_image_folder(images).name
    make_run(tmp_path / "runs", "plain", 20, 0, 0.30, dataset=f"imagefolder:{images.resolve()}")
    make_run(tmp_path / "runs", "plain", 20, 1, 0.32, dataset=new_name)
    code, _, err = run_cli(capsys, str(tmp_path / "runs"), "--no-tensorboard")
    assert code == 2 and "different datasets" in err  # a path cannot be checked against content
    code, _, err = run_cli(
        capsys, str(tmp_path / "runs"), "--no-tensorboard", "--data-root", str(images)
    )
    assert code == 0, err
    assert f"1 run that recorded their images by the path {images} is read as {new_name}" in err
    assert (
        read_csv(tmp_path / "runs" / "report" / "table.csv")[(20, "plain")]["seeds_completed"]
        == "2"
    )


def _figure6_of(root: Path, setting: str = ""):
    from resnet_exp.report.figures import figure6

    runs, _ = load_runs(find_run_dirs(root))
    fig = figure6(group_cells(runs), setting)
    fig.canvas.draw()  # lay out, so that positions are final
    return fig


def test_figure6_shows_a_single_evaluation_and_keeps_the_legend_off_the_data(
    tmp_path: Path,
) -> None:
    """Issue 25.6: with one evaluation per run the test error was drawn as a line of one point
    (invisible) while the legend promised it, and the legend sat on the final iterations."""
    root = tmp_path / "once"
    for block, errors in (("plain", PLAIN), ("residual", RESIDUAL)):
        for depth, e in errors.items():
            make_run(root, block, depth, 0, e, iterations=100)  # evaluated once, at the end
    fig = _figure6_of(root, "iterations=100")
    panels = [ax for ax in fig.axes if ax.get_title().endswith("nets")]
    assert len(panels) == 2
    for ax in panels:
        test_lines = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
        assert len(test_lines) == 4
        assert all(len(ln.get_xdata()) == 1 and ln.get_marker() == "o" for ln in test_lines)
        legend = ax.get_legend()
        assert "test error" in [t.get_text() for t in legend.get_texts()]
        # The legend lies wholly below the plotting area.
        assert legend.get_window_extent().y1 <= ax.get_window_extent().y0
    title = fig._suptitle.get_text()
    assert "iterations=100" in title and "1 seed per net" in title


def test_report_figures_keep_a_long_setting_title_inside_the_figure(tmp_path: Path) -> None:
    """A report of several settings names the setting in each title; one line of it ran off
    both edges of the image (the session-20 trials), hiding the keys that tell settings apart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from resnet_exp.report.figures import error_vs_depth, figure6

    root = tmp_path / "long"
    for block, errors in (("plain", PLAIN), ("residual", RESIDUAL)):
        for depth, e in errors.items():
            make_run(root, block, depth, 0, e)
    setting = (
        "train_subset=None, batch_size=64, iterations=3200, precision=bf16, zero_residual=False, "
        "zero_residual_padded=False, lr=0.05, milestones=[2400, 2880], warmup=True"
    )
    cells = group_cells(load_runs(find_run_dirs(root))[0])
    for fig in (figure6(cells, setting), error_vs_depth(cells, setting)):
        canvas = FigureCanvasAgg(fig)  # the renderer that savefig uses for png
        canvas.draw()
        renderer = canvas.get_renderer()
        title = fig._suptitle
        box = title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
        # Every word is still there, and the wrapped title sits above the panels' own titles.
        assert " ".join(title._get_wrapped_text().split()) == " ".join(title.get_text().split())
        assert "milestones=[2400, 2880], warmup=True" in " ".join(
            title._get_wrapped_text().split("\n")
        )
        panel_tops = [ax.title.get_window_extent(renderer).y1 for ax in fig.axes]
        assert box.y0 >= max(panel_tops)


def test_figure6_promises_only_what_it_draws(tmp_path: Path) -> None:
    root = tmp_path / "no_eval"
    for depth, seed in ((20, 0), (56, 0), (20, 1)):
        d = make_run(root, "plain", depth, seed, PLAIN[depth])
        lines = (d / "metrics.jsonl").read_text().splitlines()
        (d / "metrics.jsonl").write_text("\n".join(x for x in lines if '"train"' in x) + "\n")
    (ax,) = [ax for ax in _figure6_of(root).axes if ax.get_title().endswith("nets")]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "training error" in labels and "test error" not in labels
    assert "1-2 seeds per net" in ax.figure._suptitle.get_text()


def test_setting_folders_read_like_their_settings() -> None:
    from resnet_exp.report.cli import slug

    assert slug("iterations=200, optim.milestones=[100, 150]") == (
        "iterations=200_optim.milestones=100-150"
    )
    assert slug("iterations=12000, optim.lr=0.05") == "iterations=12000_optim.lr=0.05"


def test_preact_runs_are_their_own_block_next_to_plain_and_residual(sweep: Path, capsys) -> None:
    for depth, err in RESIDUAL.items():
        make_run(sweep, "preact", depth, 0, err - 0.01)
    code, _, err = run_cli(capsys, str(sweep), "--formats", "png")
    assert code == 0, err
    rows = read_csv(sweep / "report" / "table.csv")
    assert (56, "preact") in rows and float(rows[(56, "preact")]["train_error_pct"]) == 6.0
    order = [b for (_, b) in rows if _ == 20]
    assert order == ["plain", "residual", "preact"]
    # The verdict's two halves are still the paper's plain and residual nets.
    verdict = (sweep / "report" / "verdict.md").read_text()
    assert "Residual nets improve with depth" in verdict and "preact" not in verdict.split("\n")[0]


def test_verdict_wraps_at_word_boundaries_in_a_terminal_and_not_when_piped(
    sweep: Path, tmp_path: Path
) -> None:
    """An 80-column terminal must not split words; piped output keeps one line per claim."""
    import io

    from rich.console import Console

    from resnet_exp.report.cli import run_report

    tty, pipe = io.StringIO(), io.StringIO()
    run_report(
        [str(sweep), "--out", str(tmp_path / "a"), "--no-tensorboard"],
        Console(file=tty, width=80, force_terminal=True, color_system=None),
    )
    run_report(
        [str(sweep), "--out", str(tmp_path / "b"), "--no-tensorboard"],
        Console(file=pipe, width=80, force_terminal=False),
    )
    claim = next(line for line in pipe.getvalue().splitlines() if line.startswith("Plain nets"))
    assert len(claim) > 80  # the claim is one long line when piped
    shown = tty.getvalue().splitlines()
    assert all(len(line) <= 80 for line in shown)
    # Every word of the claim survives whole in the terminal's wrapped lines.
    words = set(" ".join(shown).split())
    assert all(word in words for word in claim.split())
