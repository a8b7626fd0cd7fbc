"""`resnet-exp report PATH... [--out DIR] [--tensorboard] [--formats png,svg]`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from resnet_exp.errors import UserError
from resnet_exp.term import Console

from .collect import (
    Cell,
    Group,
    datasets,
    drop_duplicates,
    find_run_dirs,
    group_cells,
    load_runs,
    relabel_path_dataset,
    split_by_setting,
)
from .gaps import gap_tables
from .gaps import to_markdown as gaps_markdown
from .tables import build_rows, rich_table, to_markdown, write_csv, write_markdown
from .verdict import TEST_NAME, WINDOW_TEXT, Verdict, judge

PROG = "resnet-exp report"
SUPPORTED_FORMATS = ("png", "svg", "pdf")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Tables, figures (He et al. Fig. 6, error vs depth), a verdict and the depth\n"
        "gaps over training (gaps.md) from run directories. PATH may be a run directory,\n"
        "a sweep directory, or any folder above them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples (each takes seconds):
  resnet-exp report outputs/sweeps/degradation_laptop_warmup
      a sweep's report, into outputs/sweeps/degradation_laptop_warmup/report
  resnet-exp report docs/results/degradation_laptop_warmup/runs --out /tmp/rep
      rebuild a committed result from its runs (a checkout's docs/results)
  resnet-exp report outputs/runs/plain-20_A_kaiming_normal_s0 outputs/runs/...
      any runs together; runs that differ in a setting are reported apart""",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="run, sweep or parent directory")
    p.add_argument("--out", metavar="DIR", help="output directory (default: <first PATH>/report)")
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the figures, table, verdict and gaps as a TensorBoard run (<out>/tensorboard;"
        " off by default: `tensorboard --logdir outputs` would list it among the training runs)",
    )
    # The default before the report's TensorBoard output became opt-in; still accepted.
    p.add_argument("--no-tensorboard", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--data-root",
        metavar="PATH",
        help="read runs that recorded their image folder by this path (before content "
        "fingerprints) as the images now at PATH, so they compare with newer runs",
    )
    p.add_argument(
        "--formats",
        default="png,svg",
        help=f"comma-separated figure formats out of {','.join(SUPPORTED_FORMATS)} (default: png,svg)",
    )
    return p


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in SUPPORTED_FORMATS]
    if bad or not formats:
        raise UserError(
            f"unsupported figure format(s) {', '.join(bad) or '(none)'}; "
            f"choose from {', '.join(SUPPORTED_FORMATS)}"
        )
    return list(dict.fromkeys(formats))


def resolve_input(path: Path) -> Path:
    """The directory to search; a run's summary.json / metrics.jsonl stands for its run dir."""
    if not path.exists():
        raise UserError(f"no runs found under {path}: it does not exist")
    if path.is_file():
        if path.name in ("summary.json", "metrics.jsonl"):
            return path.parent
        raise UserError(f"{path} is a file; give a run or sweep directory")
    return path


def collect_run_dirs(paths: list[Path]) -> list[Path]:
    """Run dirs under every PATH; each PATH must hold at least one (a typo should not pass)."""
    dirs: list[Path] = []
    for path in paths:
        found = find_run_dirs(path)
        if not found:
            raise UserError(f"no runs found under {path} (a run directory holds summary.json)")
        dirs += found
    return dirs


def run_report(argv: list[str] | None, console: Console) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's own usage error (already printed)
        return int(exc.code or 0)

    formats = parse_formats(args.formats)
    roots = [resolve_input(Path(p)) for p in args.paths]
    runs, problems = load_runs(collect_run_dirs(roots))
    for line in problems:
        print(f"{PROG}: warning: skipped {line}", file=sys.stderr)
    if not runs:
        where = ", ".join(map(str, roots))
        if problems:  # each one was named above, with its reason
            raise UserError(
                f"nothing readable under {where}: {len(problems)} run director"
                f"{'y' if len(problems) == 1 else 'ies'} could not be read (see the warnings above)"
            )
        raise UserError(f"no runs found under {where} (a run directory holds summary.json)")
    if args.data_root:
        relabel_old_runs(runs, Path(args.data_root))
    runs, duplicates = drop_duplicates(runs)
    for line in duplicates:
        print(f"{PROG}: note: {line}", file=sys.stderr)
    by_key = datasets(runs)
    if len(by_key) > 1:
        counts = ", ".join(
            f"{' = '.join(names)} ({sum(r.dataset in names for r in runs)} runs)"
            for names in by_key.values()
        )
        raise UserError(f"runs come from different datasets: {counts}; report one at a time")
    names = next(iter(by_key.values()), [])

    out = Path(args.out) if args.out else roots[0] / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory {out}: {exc.strerror}") from exc

    # Runs that differ in anything but block, depth and seed are never averaged together: each
    # setting gets its own table, figures and verdict (in a subfolder when there are several).
    groups, unplaced = split_by_setting(runs)
    for r in unplaced:
        print(
            f"{PROG}: warning: {r.path}: its setting is unknown (no summary.json), so it "
            "belongs to no comparison",
            file=sys.stderr,
        )
    if len(groups) > 1:
        console.print(
            f"These runs differ in more than block, depth and seed: {len(groups)} settings, "
            f"reported one by one ({'; '.join(g.label for g in groups)}).",
            markup=False,
            highlight=False,
            soft_wrap=not console.is_terminal,
        )
    verdicts, written = [], []
    for g in groups:
        where = out if len(groups) == 1 else out / slug(g.label)
        where.mkdir(parents=True, exist_ok=True)
        cells = group_cells(g.runs)
        verdict = report_group(g, cells, where, names, problems, console)
        verdicts.append(verdict)
        setting = g.label if len(groups) > 1 else ""
        gaps = gaps_markdown(gap_tables(cells), setting)
        (where / "gaps.md").write_text(gaps, encoding="utf-8")
        written += [
            where / "table.md",
            where / "table.csv",
            where / "verdict.md",
            where / "gaps.md",
        ]
        tensorboard = args.tensorboard and not args.no_tensorboard
        written += figures_for(cells, where, formats, verdict, gaps, tensorboard, setting)

    document = {
        "schema": 1,
        "final_train_error": WINDOW_TEXT,
        "test": TEST_NAME,
        "comparisons": [v.to_json() for v in verdicts],
        "duplicates_counted_once": duplicates,
        "unplaced_runs": [str(r.path) for r in unplaced],
        "unreadable_runs": problems,
    }
    (out / "verdict.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    written.append(out / "verdict.json")
    if len(groups) > 1:
        parts = ["# Verdict", "", f"{len(groups)} settings, each judged on its own:", ""]
        parts += [
            v.to_markdown(f"## {v.label} ([{slug(v.label)}/]({slug(v.label)}/))") for v in verdicts
        ]
        (out / "verdict.md").write_text("\n".join(parts), encoding="utf-8")
        written.append(out / "verdict.md")

    console.print(
        f"Report written to {out}: {', '.join(sorted({str(p.relative_to(out)) for p in written}))}",
        markup=False,
        highlight=False,
        soft_wrap=not console.is_terminal,
    )
    return 0


def relabel_old_runs(runs: list, root: Path) -> None:
    """--data-root: fingerprint the images at `root` and read path-recorded runs as them."""
    from resnet_exp.data.sources import load_image_folder

    name = load_image_folder(root).name  # decoded once, then cached
    changed = relabel_path_dataset(runs, root, name)
    if not changed:
        print(
            f"{PROG}: note: --data-root {root}: no run here recorded its images by that path; "
            "nothing relabelled",
            file=sys.stderr,
        )
        return
    n = len(changed)
    print(
        f"{PROG}: note: {n} run{'' if n == 1 else 's'} that recorded their images by the path "
        f"{root} {'is' if n == 1 else 'are'} read as {name}, the images now there",
        file=sys.stderr,
    )


def slug(label: str) -> str:
    """A folder name for a setting's label: `iterations=12000, optim.lr=0.05` ->
    `iterations=12000_optim.lr=0.05`."""
    # A list value reads as its items joined by '-': `optim.milestones=[100, 150]` ->
    # `optim.milestones=100-150` (it used to become `milestones=_100_150`).
    label = re.sub(r"\[([^\]]*)\]", lambda m: "-".join(m[1].replace(",", " ").split()), label)
    return re.sub(r"[^A-Za-z0-9=._+-]+", "_", label).strip("_") or "runs"


def report_group(
    group: Group,
    cells: list[Cell],
    out: Path,
    names: list[str],
    problems: list[str],
    console: Console,
) -> Verdict:
    """Table and verdict of one setting (its runs grouped into `cells`), written to `out` and
    shown on the console."""
    rows = build_rows(cells)
    write_markdown(rows, out / "table.md")
    write_csv(rows, out / "table.csv")
    title = f"Results ({' = '.join(names) if names else 'dataset unknown'})"
    if group.label:
        title += f": {group.label}"
    console.print(rich_table(rows, title=title))
    verdict = judge(cells, problems, label=group.label, setting=group.setting)
    (out / "verdict.md").write_text(verdict.to_markdown(), encoding="utf-8")
    # One line per claim when piped (grep-able, as in the committed report-output.txt files);
    # wrapped at word boundaries in a terminal, where a hard cut would split words.
    soft = not console.is_terminal
    console.print(verdict.to_text(), markup=False, highlight=False, soft_wrap=soft)
    return verdict


def figures_for(
    cells: list[Cell],
    out: Path,
    formats: list[str],
    verdict: Verdict,
    gaps: str,
    tensorboard: bool,
    setting: str = "",
) -> list[Path]:
    """Figures last: the table and verdict are the essentials and should exist even if plotting
    fails on an odd run."""
    from .figures import build_figures, save_figures

    figures = build_figures(cells, setting)
    written = save_figures(figures, out, formats)
    if tensorboard:
        from .tb import write_tensorboard

        texts = {
            "table": to_markdown(build_rows(cells)),
            "verdict": verdict.to_markdown(),
            "gaps": gaps,
        }
        try:
            written.append(write_tensorboard(figures, texts, out / "tensorboard"))
        except ImportError as exc:
            print(f"{PROG}: warning: TensorBoard output skipped ({exc})", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point for the dispatcher; returns the exit status (0 ok, 2 bad input)."""
    try:
        return run_report(argv, Console())
    except UserError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
