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


def run_analysis(
    cfg, split: str, settings_of, analyse_run, result: str, verb: str, codes: list[int], console
):
    """A Hydra job of an analysis: settings_of(cfg) checked once, then for every run of
    cfg['from'] analyse_run(run, settings, (x, y, classes), target) on `split` images drawn
    once per (data, seed) and shared by the runs of a sweep. Returns (results, number of
    runs, the job's folder), or None when it refused (one line, nothing left behind)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from resnet_exp.data.splits import sample_split

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    images: dict = {}
    try:
        settings = settings_of(cfg)

        def analyse(run, target: Path):
            key = (run.spec.data, run.spec.loop.seed)
            if key not in images:
                images[key] = sample_split(
                    run.spec.data, split, settings["images"], settings["seed"], key[1]
                )
            return analyse_run(run, settings, images[key], target)

        docs, runs = each_run(cfg, out_dir, analyse, verb, console)
    except UserError as e:
        refuse(e, out_dir, result, hc.mode == RunMode.MULTIRUN, codes, console)
        return None
    return docs, runs, out_dir


def combine_results(folder: Path, result: str, sort_key, figure, name: str) -> Path | None:
    """Every `result` file one level under `folder`, sorted by sort_key and drawn by
    figure(docs) into folder/name; None when there is none."""
    import json

    from resnet_exp.analyses.figures import save

    docs = [json.loads(p.read_text()) for p in sorted(folder.glob(f"*/{result}"))]
    if not docs:
        return None
    docs.sort(key=sort_key)
    return save(figure(docs), folder / name)
