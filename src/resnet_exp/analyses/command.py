"""What the analyses of trained runs (lesion, landscape) do the same way around their own work:
check settings, open every run of `from=` (one run or a sweep folder), go on past a run of a
sweep that cannot be read, and leave nothing that looks like a result when they refuse."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from resnet_exp.errors import UserError


def integer(value, key: str, minimum: int, optional: bool = False) -> int | None:
    """`value` as a setting `key` that must be an integer >= minimum (or None if optional)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        null = " (or null)" if optional else ""
        raise UserError(f"{key}={value} must be an integer >= {minimum}{null}")
    return value


def positive(value, key: str) -> float:
    """`value` as a setting `key` that must be a number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UserError(f"{key}={value} must be a number > 0")
    return float(value)


def each_run(cfg, out_dir: Path, analyse: Callable, verb: str, console) -> tuple[list, int]:
    """Call analyse(run, target_dir) for every run of cfg['from'] (opened read-only with
    cfg.data_root); target_dir is out_dir itself for one run and out_dir/<run folder> for a
    sweep. One run that cannot be read is the user's error; in a sweep it is skipped and named.
    Returns the analyses' results and how many runs there were."""
    from resnet_exp.analyses.runs import expand_runs, open_run

    runs = expand_runs(cfg["from"])
    docs, skipped = [], []
    for path in runs:
        target = out_dir if len(runs) == 1 else out_dir / path.name
        if len(runs) > 1:
            console.print(f"{verb} of {path.name} ...", soft_wrap=True)
        try:
            docs.append(analyse(open_run(path, data_root=cfg.get("data_root")), target))
        except UserError as e:
            if len(runs) == 1:
                raise
            skipped.append(f"{path.name}: {str(e).split(': ', 1)[-1]}")  # a sweep goes on
    for line in skipped:
        console.print(f"skipped {line}", soft_wrap=True)
    if not docs:
        raise UserError(f"from={cfg['from']}: none of its {len(runs)} runs could be analysed")
    return docs, len(runs)


def refuse(error: UserError, out_dir: Path, result: str, multirun: bool, codes: list[int], console):
    """Remove a job folder that holds no `result` file yet, then refuse in one line."""
    from resnet_exp.commandline import refuse_job

    if out_dir.is_dir() and not list(out_dir.rglob(result)):
        shutil.rmtree(out_dir, ignore_errors=True)  # leave nothing that looks like a result
    refuse_job(error, multirun, codes, console)


def analysis_main(command: str, args: list[str], task, codes: list[int], help_screen) -> int:
    """`resnet-exp COMMAND from=... [-m]` for an analysis of trained runs: its help screen,
    from= required, a Hydra app on conf/COMMAND.yaml; the exit code is the worst of its jobs."""
    from resnet_exp.commandline import config_dir, run_hydra_command

    if {"-h", "--help"} & set(args):
        print(help_screen(config_dir()), end="")
        return 0
    if not any(a.split("=", 1)[0] == "from" for a in args):
        raise UserError(
            f"give the runs to analyse: resnet-exp {command} from=RUN_DIR (or a sweep folder)"
        )
    codes.clear()
    run_hydra_command(command, args, task, ("from", "data_root", "out_root"))
    return max(codes, default=0)
