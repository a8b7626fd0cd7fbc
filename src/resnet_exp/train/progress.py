"""A rich progress bar: iteration, it/s, ETA and the latest errors. Silent when disabled.

Run names are long (`residual-20_A_kaiming_normal_s0_batch_size=64_data=imagefolder`), so the
full name is printed once above the bar and the bar carries only `residual-20 s0`: at 80
columns the counts, speed, ETA, training error and lr must stay whole.
"""

from __future__ import annotations

import logging
import re

from rich.file_proxy import FileProxy
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from resnet_exp.term import Console


class SpeedColumn(ProgressColumn):
    """Iterations per second: rich's recent-window speed while the run trains; at the end (and
    whenever that window holds no progress, e.g. during a long final evaluation, where rich
    reports 0.0) the average over this session's iterations."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        if task.finished or not speed:
            done = task.completed - task.fields.get("first", 0)
            elapsed = task.elapsed or 0.0
            speed = done / elapsed if done > 0 and elapsed > 0 else None
        return Text(f"{speed:.1f} it/s" if speed else "-- it/s")


_NAME_RE = re.compile(r"^(?P<net>[A-Za-z]+-\d+)_.*?_s(?P<seed>\d+)(?:_|$)")
# Below this width the bar leaves out the test error: the fields that must stay whole
# and narrows the bar: count, speed, ETA, training error and lr then fit in 80 columns even at
# 64000/64000 and 1234.5 it/s.
WIDE = 110


def terminal_log_handlers() -> list[logging.StreamHandler]:
    """The logging handlers that write to a terminal (Hydra's console handler, on the root
    logger): a record they write while a live bar is on screen lands on the bar's own line and
    leaves a frozen copy of the bar behind. Files (train.log) and pipes are not affected."""
    loggers = [logging.getLogger(), logging.getLogger("resnet_exp")]
    found = []
    for handler in (h for lg in loggers for h in lg.handlers):
        stream = getattr(handler, "stream", None)
        if (
            type(handler) is logging.StreamHandler
            and handler not in found
            and stream is not None
            and getattr(stream, "isatty", lambda: False)()
        ):
            found.append(handler)
    return found


def short_name(name: str) -> str:
    """`residual-20_A_kaiming_normal_s0_width=8` -> `residual-20 s0`."""
    m = _NAME_RE.match(name)
    return f"{m['net']} s{m['seed']}" if m else name[:16]


class ProgressBar:
    def __init__(
        self,
        name: str,
        total: int,
        start: int = 0,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        self.enabled = enabled
        self._redirected: list[tuple[logging.StreamHandler, object]] = []
        self.latest: dict[str, str] = {}  # "train" / "eval" -> "train 41.2% lr 0.1" ...
        if enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=10),  # narrowed below on narrow terminals
                MofNCompleteColumn(),
                SpeedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=console if console is not None else Console(),
            )
            if self.progress.console.width < WIDE:
                self.progress.columns[1].bar_width = 5
            self.progress.console.print(
                f"training {name}", markup=False, highlight=False, soft_wrap=True
            )
            self.task = self.progress.add_task(
                short_name(name), total=total, completed=start, metrics="", first=start
            )

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self.progress.start()
            if self.progress.console.is_terminal:
                # Log records go through the bar's console, which prints them above the bar
                # and redraws the bar below (the console handler keeps its format and level).
                for handler in terminal_log_handlers():
                    proxy = FileProxy(self.progress.console, handler.stream)
                    self._redirected.append((handler, handler.setStream(proxy)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            for handler, stream in self._redirected:
                handler.stream.flush()
                handler.setStream(stream)
            self._redirected.clear()
            self.progress.stop()

    def advance(self, iteration: int) -> None:
        if self.enabled:
            self.progress.update(self.task, completed=iteration, metrics=self.metrics_text())

    def metrics_text(self) -> str:
        """The latest training error and lr, and the test error where the terminal is wide."""
        parts = [self.latest[k] for k in ("train", "eval") if k in self.latest]
        if self.progress.console.width < WIDE:
            parts = parts[:1]
        return " | ".join(parts)

    def update_metrics(self, record: dict) -> None:
        parts = [
            f"{k.removesuffix('_error')} {100 * v:.1f}%"
            for k, v in record.items()
            if k.endswith("_error") and v is not None
        ]
        if record.get("kind") == "train" and record.get("lr") is not None:
            parts.append(f"lr {record['lr']:g}")
        if parts:
            self.latest[record["kind"]] = " ".join(parts)
