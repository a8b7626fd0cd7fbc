"""The results table: one row per (depth, block), as Markdown, CSV and a rich terminal table."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from .collect import STATUS_ORDER, Cell, block_rank, mean_std

CSV_COLUMNS = (
    "depth",
    "block",
    "params",
    "train_error_pct",
    "train_error_std_pct",
    "test_error_pct",
    "test_error_std_pct",
    "seeds_completed",
    "seeds_total",
    "status",
)


@dataclass
class Row:
    """One table row; errors are fractions, None where no completed seed has the value."""

    depth: int
    block: str
    params: str
    train_mean: float | None
    train_std: float | None
    test_mean: float | None
    test_std: float | None
    n_completed: int
    n_total: int
    status: str


def status_text(statuses: list[str]) -> str:
    """`completed` when all runs agree, else counts such as `2 completed, 1 diverged`."""
    counts = Counter(statuses)
    if len(counts) == 1:
        return statuses[0]
    order = list(STATUS_ORDER) + sorted(set(counts) - set(STATUS_ORDER))
    return ", ".join(f"{counts[s]} {s}" for s in order if counts[s])


def build_rows(cells: list[Cell]) -> list[Row]:
    """Rows sorted by depth, then block; means and stds over completed seeds only."""
    rows = []
    for cell in sorted(cells, key=lambda c: (c.depth, block_rank(c.block))):
        done = cell.completed
        train = mean_std([r.train_error for r in done if r.train_error is not None])
        test = mean_std([r.test_error for r in done if r.test_error is not None])
        # Seeds share an architecture, so params agree; show every distinct value if not.
        params = sorted({r.params for r in cell.runs if r.params is not None})
        rows.append(
            Row(
                depth=cell.depth,
                block=cell.block,
                params="/".join(str(p) for p in params),
                train_mean=train[0] if train else None,
                train_std=train[1] if train else None,
                test_mean=test[0] if test else None,
                test_std=test[1] if test else None,
                n_completed=len(done),
                n_total=len(cell.runs),
                status=status_text([r.status for r in cell.runs]),
            )
        )
    return rows


def fmt_pct(mean: float | None, std: float | None) -> str:
    """`10.00 ± 0.50` in percent; no `±` for a single seed, `–` for no completed seed."""
    if mean is None:
        return "–"
    return f"{mean * 100:.2f}" + (f" ± {std * 100:.2f}" if std is not None else "")


def _cells(row: Row) -> list[str]:
    return [
        str(row.depth),
        row.block,
        row.params,
        fmt_pct(row.train_mean, row.train_std),
        fmt_pct(row.test_mean, row.test_std),
        f"{row.n_completed}/{row.n_total}",
        row.status,
    ]


_HEADERS = ["depth", "block", "params", "train error (%)", "test error (%)", "seeds", "status"]


def to_markdown(rows: list[Row]) -> str:
    """The table as GitHub Markdown, with a line saying what the numbers are."""
    lines = [
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---:" if h in ("depth", "params") else "---" for h in _HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    lines += [
        "",
        "Errors in %, mean ± sample std over completed seeds; seeds = completed/total. "
        "Runs that are not completed are counted in `status` but never averaged in.",
    ]
    return "\n".join(lines) + "\n"


def _csv_pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.4f}"


def write_csv(rows: list[Row], path: Path) -> None:
    """CSV with numeric columns (percent, 4 decimals; empty where undefined)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            w.writerow(
                [
                    r.depth,
                    r.block,
                    r.params,
                    _csv_pct(r.train_mean),
                    _csv_pct(r.train_std),
                    _csv_pct(r.test_mean),
                    _csv_pct(r.test_std),
                    r.n_completed,
                    r.n_total,
                    r.status,
                ]
            )


def write_markdown(rows: list[Row], path: Path) -> None:
    path.write_text(to_markdown(rows), encoding="utf-8")


def rich_table(rows: list[Row], title: str = "Results") -> Table:
    """The same table for the terminal."""
    table = Table(title=title)
    # Short headers so that on an 80-column terminal the numbers stay on one line and only the
    # status text wraps.
    for h in ("depth", "block", "params", "train err %", "test err %", "seeds", "status"):
        table.add_column(
            h,
            justify="right" if h in ("depth", "params", "seeds") else "left",
            no_wrap=h != "status",
        )
    for r in rows:
        table.add_row(*_cells(r), style=None if r.n_completed == r.n_total else "yellow")
    return table
