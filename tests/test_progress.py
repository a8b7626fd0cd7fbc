"""The progress bar stays readable at common terminal widths (issue: fields cut at 80/120)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from resnet_exp.train.progress import ProgressBar, SpeedColumn, short_name

NAME = "residual-20_A_kaiming_normal_s0_batch_size=64_data=imagefolder_iterations=64000"


def render(width: int) -> tuple[str, str]:
    """(what was printed above the bar, the bar line) on a terminal of `width` columns."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    bar = ProgressBar(NAME, total=64000, start=0, enabled=True, console=console)
    now = [0.0]
    bar.progress.get_time = lambda: now[0]  # a fast run: 12345 iterations in 10 s
    bar.advance(1)
    now[0] = 10.0
    bar.update_metrics({"kind": "train", "train_error": 0.41234, "lr": 0.0005})
    bar.update_metrics({"kind": "eval", "test_error": 0.3876})
    bar.advance(12346)
    printed = out.getvalue()
    line = Console(file=io.StringIO(), width=width, color_system=None)
    with line.capture() as cap:
        line.print(bar.progress.make_tasks_table(bar.progress.tasks))
    return printed, cap.get().rstrip("\n")


@pytest.mark.parametrize("width", [80, 120])
def test_every_field_is_whole(width: int) -> None:
    printed, bar = render(width)
    assert f"training {NAME}" in printed  # the full name, once, above the bar
    assert bar.count("\n") == 0 and len(bar) <= width
    assert "…" not in bar
    assert "residual-20 s0" in bar
    assert "12346/64000" in bar
    assert "1234.5 it/s" in bar
    assert "ETA 0:00:42" in bar  # (64000 - 12346) / 1234.5 s
    assert "train 41.2% lr 0.0005" in bar
    if width >= 120:
        assert "test 38.8%" in bar


def test_short_name() -> None:
    assert short_name(NAME) == "residual-20 s0"
    assert short_name("plain-56_A_kaiming_normal_s12") == "plain-56 s12"
    assert short_name("odd") == "odd"


def test_finished_bar_shows_the_average_speed() -> None:
    """Issue 25.8: the non-TTY bar ended with `0.0 it/s` when the final evaluation outlasted
    rich's 30 s speed window. A finished bar shows this session's average instead."""
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    bar = ProgressBar(NAME, total=300, start=100, enabled=True, console=console)
    task = bar.progress.tasks[0]
    now = [0.0]
    bar.progress.get_time = lambda: now[0]
    task.start_time = 0.0
    for i in range(101, 301):  # 200 iterations in 20 s, then a 60 s final evaluation
        now[0] = (i - 100) * 0.1
        bar.advance(i)
    now[0] = 80.0
    bar.advance(300)
    task.stop_time = 80.0
    text = SpeedColumn().render(task).plain
    assert text == "2.5 it/s"  # 200 iterations / 80 s, not 0.0 and not the last window's 10.0
