"""`resnet-exp`: a thin dispatcher. `train` is a full Hydra app (its jobs coordinate through
train.jobs); `probe`, `lesion` and `landscape` are Hydra apps of their own; `report` and `bench` argparse."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import traceback
from dataclasses import replace
from pathlib import Path

from resnet_exp import __version__
from resnet_exp.commandline import (  # noqa: F401  (config_dir: part of this module's API)
    INFO_FLAGS,
    check_one_mode,
    check_out_root,
    config_dir,
    flag_names,
    known_part,
)
from resnet_exp.errors import UserError
from resnet_exp.overrides import check_keys, known_keys, quote_paths
from resnet_exp.term import Console, say, survive_broken_pipes
from resnet_exp.train.jobs import (
    JOBS_FILE_ENV,
    PARENT_PID_ENV,
    STOP_FILE_ENV,
    in_worker_process,
    job_ended_early,
    note_stops_in_worker,
    parallel_jobs,
    read_jobs,
    record_job,
    remove_if_empty_run,
    share_threads,
    stop_file,
    submitit_job,
    sweep_interrupted,
)
from resnet_exp.train.stops import SweepStop

USAGE = f"""resnet-exp {__version__}: reproduce the degradation problem of He et al. (2015) on CIFAR

usage:
  resnet-exp train [KEY=VALUE ...] [-m]   train a net; -m sweeps
  resnet-exp report PATH... [--out DIR]   figures, table and verdict for runs
  resnet-exp probe [KEY=VALUE ...] [-m]   signal statistics per layer (Figure 7)
  resnet-exp probe linear                 the deep linear demonstration
  resnet-exp probe depth                  signals, shattered gradients vs depth
  resnet-exp lesion from=RUN [-m]         delete blocks of trained nets
  resnet-exp landscape from=RUN [-m]      loss surfaces around trained nets
  resnet-exp bench                        your machine's training speed

first steps (on a laptop):
  resnet-exp train depth=20 width=8 iterations=300 data=synthetic
  resnet-exp train -m experiment=degradation_laptop_fig6_w4 \\
      data=imagefolder data.root=PATH
  resnet-exp report outputs/sweeps/degradation_laptop_fig6_w4
Each command's --help lists its keys and examples.
"""


err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _task(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from resnet_exp.build import spec_from_config
    from resnet_exp.train.runner import run

    survive_broken_pipes()  # Hydra has just set up logging
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    submitit = submitit_job(hc)
    if in_worker_process() and not submitit:
        note_stops_in_worker()
    # A sweep stopped by the user skips the jobs that had not started (joblib). Not under
    # submitit: there a job that starts after an interrupted one is that job requeued.
    stopped = (lambda: False) if submitit else sweep_interrupted
    if multirun and stopped():
        remove_if_empty_run(run_dir)  # Hydra made the folder; the job never started
        return
    try:
        spec = spec_from_config(cfg, multirun=multirun, overrides=list(hc.overrides.task))
        n_jobs = parallel_jobs(hc, multirun)
        if n_jobs > 1:
            if spec.loop.threads is None:
                share_threads(n_jobs)
            # Several live progress bars on one terminal garble each other; the log lines stay.
            spec = replace(spec, loop=replace(spec.loop, progress=False))
        if multirun and stopped():  # a stop while this job was being set up
            remove_if_empty_run(run_dir)
            return
        outcome = run(spec, run_dir, stop_file=stop_file())
    except UserError as e:
        remove_if_empty_run(run_dir)
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        job_ended_early(e.exit_code, "bad input", multirun)
        return
    except Exception as e:  # a bug or an environment failure (e.g. out of memory) while setting up
        logging.getLogger("resnet_exp").error("run failed:\n%s", traceback.format_exc())
        err.print(
            f"[bold red]failed:[/] {type(e).__name__}: {e} (traceback in {run_dir / 'train.log'})",
            soft_wrap=True,
        )
        job_ended_early(1, "failed", multirun)
        return
    style = {"completed": "green", "interrupted": "yellow", "diverged": "red", "failed": "red"}[
        outcome.status
    ]
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        say(outcome.message, out, err, style)
    if outcome.then is not None:
        # The cluster's time-limit signal, now that the run has checkpointed: submitit's
        # handler requeues this job and exits; the requeued job resumes the run (and is the
        # one whose status counts).
        out.print(
            f"{spec.name}: handing the time-limit signal to the launcher (requeue)", soft_wrap=True
        )
        try:
            outcome.then()
        except Exception as e:  # submitit refuses, e.g. after max_num_timeout requeues
            err.print(f"{spec.name}: not requeued ({e}); run the same command again to resume")
    record_job(outcome.exit_code, outcome.status)
    if outcome.status == "interrupted" and multirun and not in_worker_process():
        # The user asked to stop: stop the whole sweep, not just this run. (A joblib worker
        # returns instead; the stop reached its parent too, which ends the sweep.)
        raise SystemExit(outcome.exit_code)


def torchrun_args(args: list[str]) -> list[str]:
    """Under torchrun every rank runs this same command; one run, whose folder rank 0 alone
    writes to: the other ranks keep Hydra's config copy and train.log out of it."""
    from resnet_exp.train.jobs import launched_by_torchrun

    if not launched_by_torchrun():
        return args
    if {"-m", "--multirun"} & flag_names(args):
        raise UserError(
            "torchrun trains one run over several processes; start sweeps (-m) without torchrun, e.g. with hydra/launcher=slurm"
        )
    if os.environ.get("RANK", "0") != "0":
        return [*args, "hydra.output_subdir=null", "hydra/job_logging=stdout"]
    return args


def jobs_folder(args: list[str]) -> str | None:
    """Where the jobs of this invocation report their statuses: the system's temporary folder,
    except for a launcher whose jobs may run on other machines (hydra/launcher=slurm): there,
    under out_root, which a cluster's jobs share with the machine that launched them."""
    launcher = next((a.split("=", 1)[1] for a in args if a.startswith("hydra/launcher=")), None)
    if launcher in (None, "basic", "joblib"):
        return None
    root = next((a.split("=", 1)[1] for a in args if a.startswith("out_root=")), "outputs")
    # Absolute, since the jobs may start in another working directory.
    return str(known_part(root).resolve())


# Keys whose values are paths (overrides.quote_paths quotes them for Hydra).
TRAIN_PATH_KEYS = ("resume", "data.root", "data.cache_dir", "out_root")


def train_main(args: list[str]) -> int:
    import hydra

    from resnet_exp.naming import register_resolvers

    register_resolvers()
    if {"-h", "--help"} & set(args):
        from resnet_exp.helpscreen import train_help

        print(train_help(config_dir()), end="")
        return 0
    if "--hydra-help" not in args:
        check_keys(args, known_keys(config_dir(), "train"), "train")
    check_one_mode(args)
    check_out_root(args)
    args = torchrun_args(args)
    sys.argv = ["resnet-exp train", *(quote_paths(a, TRAIN_PATH_KEYS) for a in args)]
    app = hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")(_task)
    folder = None if INFO_FLAGS & flag_names(args) else jobs_folder(args)
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".resnet-exp-", dir=folder) as tmp:
        jobs_file, stop_path = Path(tmp) / "jobs.jsonl", Path(tmp) / "stop"
        env = {JOBS_FILE_ENV: jobs_file, PARENT_PID_ENV: os.getpid(), STOP_FILE_ENV: stop_path}
        os.environ.update({k: str(v) for k, v in env.items()})  # before any worker starts
        try:
            with SweepStop(stop_path) as sweep_stop:
                try:
                    app()
                except SystemExit as e:
                    # A stop that reaches joblib's workers while they are still starting (before
                    # any job could catch it) ends them; Hydra then reports the launcher's error
                    # and exits 1. No run had started; it is the stop the user asked for.
                    if not (sweep_stop.requested and e.code not in (0, None)):
                        raise
        finally:
            jobs = read_jobs(jobs_file)
            for key in env:
                os.environ.pop(key, None)
        stopped = sweep_stop.requested
    if len(jobs) > 1:
        statuses = [j["status"] for j in jobs]
        counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        out.print("sweep: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if stopped:
        err.print("stopped; run the same command again to resume")
        return 130
    return max((j["code"] for j in jobs), default=0)


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        raise SystemExit(0 if args else 2)
    if args[0] == "--version":
        print(f"resnet-exp {__version__}")
        raise SystemExit(0)
    command, rest = args[0], args[1:]
    # SIGTERM outside a run (e.g. between the jobs of a sweep) ends like Ctrl-C: exit 130, no
    # traceback. Inside a run, the run's own handler checkpoints first.
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        if command == "train":
            code = train_main(rest)
        elif command == "report":
            from resnet_exp.report.cli import main as report_main

            code = report_main(rest)
        elif command == "probe":
            from resnet_exp.probe.cli import probe_main

            code = probe_main(rest)
        elif command == "lesion":
            from resnet_exp.analyses.lesion_cli import lesion_main

            code = lesion_main(rest)
        elif command == "landscape":
            from resnet_exp.analyses.landscape_cli import landscape_main

            code = landscape_main(rest)
        elif command == "bench":
            from resnet_exp.bench import main as bench_main

            code = bench_main(rest)
        else:
            err.print(
                f"[bold red]error:[/] unknown command {command!r}; use train, report, probe, lesion, landscape or bench (resnet-exp --help)"
            )
            code = 2
    except UserError as e:
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        code = e.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    raise SystemExit(code)
