"""A rich progress bar: iteration, it/s, ETA and the latest errors. Silent when disabled."""

from __future__ import annotations

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


class SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.2f} it/s" if task.speed else "-- it/s")


class ProgressBar:
    def __init__(self, name: str, total: int, start: int = 0, enabled: bool = True) -> None:
        self.enabled = enabled
        self.latest: dict[str, str] = {}  # "train" / "eval" -> "train err 41.2%" ...
        if enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                SpeedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
            )
            self.task = self.progress.add_task(name, total=total, completed=start, metrics="")

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def advance(self, iteration: int) -> None:
        if self.enabled:
            self.progress.update(
                self.task, completed=iteration, metrics=" | ".join(self.latest.values())
            )

    def update_metrics(self, record: dict) -> None:
        parts = [
            f"{k.removesuffix('_error')} err {100 * v:.1f}%"
            for k, v in record.items()
            if k.endswith("_error") and v is not None
        ]
        if parts:
            self.latest[record["kind"]] = ", ".join(parts)
