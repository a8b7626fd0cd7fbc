"""Tests for the report's depth gaps over training (`gaps.md`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_run

from resnet_exp.report.cli import main
from resnet_exp.report.collect import Run, find_run_dirs, group_cells, load_runs
from resnet_exp.report.gaps import gap_at_marks, gap_tables, marks_for, to_markdown


def test_marks_tile_the_run_and_end_at_its_last_iteration() -> None:
    assert marks_for(6000) == list(range(500, 6001, 500))
    assert marks_for(3000)[:3] == [250, 500, 750] and marks_for(3000)[-1] == 3000
    assert marks_for(64000)[-1] == 64000 and len(marks_for(64000)) == 12
    assert marks_for(5) == [1, 2, 3, 4, 5]  # never more windows than iterations


def test_gap_is_the_mean_over_each_window_of_common_steps() -> None:
    shallow = [(50, 0.50), (100, 0.40), (150, 0.30), (200, 0.20)]
    deep = [(50, 0.60), (100, 0.40), (150, 0.20), (200, 0.10)]
    # (0, 100]: +0.10 and 0.00 -> +0.05; (100, 200]: -0.10 and -0.10 -> -0.10
    assert gap_at_marks(shallow, deep, [100, 200]) == pytest.approx([0.05, -0.10])
    # A fixed window instead of the span since the previous mark: only (150, 200].
    assert gap_at_marks(shallow, deep, [200], window=50) == pytest.approx([-0.10])
    # A step only one run logged is not compared; a window with no common step says None.
    assert gap_at_marks(shallow, [(100, 0.5), (250, 0.1)], [100, 200]) == [
        pytest.approx(0.10),
        None,
    ]


def sweep(root: Path) -> Path:
    """Two seeds of plain and residual at 20/56, a third seed of residual-56 that diverged."""
    finals = {("plain", 20): 0.10, ("plain", 56): 0.25, ("residual", 20): 0.12}
    finals[("residual", 56)] = 0.07
    for (block, depth), err in finals.items():
        for seed in (0, 1):
            make_run(root, block, depth, seed, err + 0.01 * seed, iterations=1200)
    make_run(root, "residual", 20, 2, 0.12, iterations=1200)
    make_run(root, "residual", 56, 2, 0.90, iterations=1200, status="diverged", iteration=600)
    return root


def test_tables_compare_each_block_with_its_shallowest_depth_on_common_completed_seeds(
    tmp_path: Path,
) -> None:
    runs, _ = load_runs(find_run_dirs(sweep(tmp_path)))
    tables = gap_tables(group_cells(runs))
    assert [(t.block, t.shallow, t.deep) for t in tables] == [
        ("plain", 20, 56),
        ("residual", 20, 56),
    ]
    plain, residual = tables
    assert plain.marks == list(range(100, 1201, 100))
    # make_run's curves fall by the same amount at every depth, so the gap is the final one at
    # every logged step; the diverged seed 2 of residual-56 has no say.
    assert sorted(residual.seeds) == [0, 1]
    for row in residual.seeds.values():
        assert row == pytest.approx([-0.05] * 12)
    assert plain.mean == pytest.approx([0.15] * 12)
    md = to_markdown(tables)
    assert "## residual-56 minus residual-20" in md
    assert "| 0 | " + " | ".join(["-5.0"] * 12) + " |" in md
    assert "| mean of 2 | " + " | ".join(["+15.0"] * 12) + " |" in md


def test_report_writes_gaps_md_and_says_when_nothing_can_be_compared(
    tmp_path: Path, capsys
) -> None:
    root = sweep(tmp_path / "sweep")
    assert main([str(root), "--formats", "png"]) == 0
    assert "gaps.md" in capsys.readouterr().out
    assert "## plain-56 minus plain-20" in (root / "report" / "gaps.md").read_text()

    lone = tmp_path / "lone"
    make_run(lone, "residual", 20, 0, 0.12)
    assert main([str(lone), "--formats", "png"]) == 0
    assert "No block has completed runs at two depths" in (lone / "report" / "gaps.md").read_text()


def _run(block: str, depth: int, seed: int, curve: list[tuple[int, float]], **kw: object) -> Run:
    return Run(
        Path(f"{block}-{depth}-s{seed}"),
        "x",
        "completed",
        block,
        depth,
        seed=seed,
        train_curve=curve,
        **kw,
    )


def test_seeds_keep_their_own_gaps_and_the_mean_needs_every_seed() -> None:
    steps = range(100, 1201, 100)
    base = {s: [(k, 0.5) for k in steps] for s in (0, 1, 2)}
    # Seed 0: the deep net catches up linearly; seed 1: always 0.2 behind; seed 2 logged only
    # the first half (a gap the mean must not paper over).
    deep = {
        0: [(k, 0.5 + 0.2 * (1 - k / 1200)) for k in steps],
        1: [(k, 0.7) for k in steps],
        2: [(k, 0.6) for k in steps if k <= 600],
    }
    runs = [_run("residual", 20, s, c, iterations=1200) for s, c in base.items()]
    runs += [_run("residual", 56, s, c, iterations=1200) for s, c in deep.items()]
    (table,) = gap_tables(group_cells(runs))
    assert table.seeds[0] == pytest.approx([0.2 * (1 - k / 1200) for k in steps])
    assert table.seeds[1] == pytest.approx([0.2] * 12)
    assert table.seeds[2][:6] == pytest.approx([0.1] * 6) and table.seeds[2][6:] == [None] * 6
    assert table.mean[0] == pytest.approx((0.2 * 11 / 12 + 0.2 + 0.1) / 3)
    assert table.mean[6:] == [None] * 6  # not the mean of two seeds labelled "mean of 3"
    assert "| mean of 3 | " in to_markdown([table])


def test_short_runs_get_one_column_per_logged_point_and_planned_iterations_may_be_missing() -> None:
    # 300 iterations logged every 50, no planned count recorded: 6 columns ending at the last
    # logged step, none of them empty.
    curve = [(k, 0.5) for k in range(50, 301, 50)]
    deeper = [(k, 0.4) for k in range(50, 301, 50)]
    runs = [_run("plain", 8, 0, curve), _run("plain", 14, 0, deeper)]
    (table,) = gap_tables(group_cells(runs))
    assert table.marks == [50, 100, 150, 200, 250, 300]
    assert table.seeds[0] == pytest.approx([-0.1] * 6)
