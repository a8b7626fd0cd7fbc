"""`resnet-exp`: a thin dispatcher. `train` is a full Hydra app; `report` and `bench` are argparse."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import replace
from pathlib import Path

from resnet_exp import __version__
from resnet_exp.errors import UserError
from resnet_exp.overrides import check_keys, known_keys, quote_paths
from resnet_exp.paths import ensure_writable_dir
from resnet_exp.term import Console, say, survive_broken_pipes
from resnet_exp.train.signals import SweepStop

USAGE = f"""resnet-exp {__version__}: reproduce the degradation problem of He et al. (2015) on CIFAR

usage:
  resnet-exp train [KEY=VALUE ...] [-m]   train a net; -m sweeps
  resnet-exp report PATH... [--out DIR]   figures, table and verdict for runs
  resnet-exp probe [KEY=VALUE ...] [-m]   signal statistics per layer (Figure 7)
  resnet-exp probe linear                 the deep linear demonstration
  resnet-exp probe depth                  signals, shattered gradients vs depth
  resnet-exp lesion from=RUN [-m]         delete blocks of trained nets
  resnet-exp bench                        your machine's training speed

first steps (on a laptop):
  resnet-exp train depth=20 width=8 iterations=300 data=synthetic
  resnet-exp train -m experiment=degradation_laptop_warmup \\
      data=imagefolder data.root=PATH
  resnet-exp report outputs/sweeps/degradation_laptop_warmup
Each command's --help lists its keys and examples.
"""


err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def config_dir() -> Path:
    """conf/ shipped inside the wheel, or the checkout's top-level conf/ (editable install)."""
    for candidate in (Path(__file__).parent / "conf", Path(__file__).resolve().parents[2] / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError("resnet-exp's configs are missing (conf/train.yaml); reinstall the package")


# Where each job of this invocation records its exit code and status: a file, not a list in
# memory, because with `hydra/launcher=joblib` the jobs run in worker processes.
JOBS_FILE_ENV = "RESNET_EXP_JOBS_FILE"
PARENT_PID_ENV = "RESNET_EXP_PARENT_PID"
STOP_FILE_ENV = "RESNET_EXP_STOP_FILE"  # exists once the user asked the sweep to stop


def _record_job(code: int, status: str) -> None:
    path = os.environ.get(JOBS_FILE_ENV)
    # A job that cannot see the folder (an out_root that is not shared with the node it runs
    # on) inherits the variable all the same: there the sweep's tally is the runs' own
    # summary.json files (resnet-exp report).
    if path and Path(path).parent.is_dir():
        with open(path, "a") as f:  # one short line per job: an append is atomic
            f.write(json.dumps({"code": code, "status": status}) + "\n")


def _read_jobs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stop_file() -> Path | None:
    path = os.environ.get(STOP_FILE_ENV)
    return Path(path) if path else None


def _sweep_interrupted() -> bool:
    """Whether the user asked this invocation to stop, or one of its jobs was interrupted. Jobs
    that start later (a joblib worker taking its next job after Ctrl-C) must not train."""
    stop, jobs = _stop_file(), os.environ.get(JOBS_FILE_ENV)
    if stop is not None and stop.exists():
        return True
    return bool(jobs) and any(j["status"] == "interrupted" for j in _read_jobs(Path(jobs)))


def _in_worker_process() -> bool:
    return os.environ.get(PARENT_PID_ENV, str(os.getpid())) != str(os.getpid())


def _submitit_job(hc) -> bool:
    """Whether this job runs under hydra-submitit-launcher (hydra/launcher=slurm or
    submitit_local): submitit owns the job's signals there (see train.signals)."""
    from omegaconf import OmegaConf

    return "submitit" in str(OmegaConf.select(hc, "launcher._target_", default=""))


def _parallel_jobs(hc, multirun: bool) -> int:
    """How many jobs the launcher runs at once: joblib's n_jobs (negative counts back from the
    number of cores, as in joblib: -1 is all of them); 1 for Hydra's basic launcher or one run."""
    from omegaconf import OmegaConf

    if not multirun:
        return 1
    n_jobs = int(OmegaConf.select(hc, "launcher.n_jobs", default=1) or 1)
    if n_jobs < 0:
        n_jobs = (os.cpu_count() or 1) + 1 + n_jobs
    return max(1, n_jobs)


def _note_stops_in_worker() -> None:
    """A joblib worker is outside any run while Hydra sets up a job and between jobs. A Ctrl-C
    there must not raise (joblib would answer by killing the sibling jobs mid-step), and a
    SIGTERM must not kill it: note the stop for everyone instead. Runs install their own
    handlers and restore these afterwards."""
    stop = _stop_file()
    if stop is None or threading.current_thread() is not threading.main_thread():
        return
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda signum, frame: stop.touch())


def _share_threads(n_jobs: int) -> None:
    """K parallel jobs each taking every core would oversubscribe them: unless `threads` is
    set, each job gets an equal share."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))


def _remove_if_empty_run(run_dir: Path) -> None:
    """After a user mistake, leave nothing that looks like a run (Hydra made the folder already)."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)


def _job_ended_early(code: int, status: str, multirun: bool) -> None:
    """Record a job that never trained; a single run exits now, a sweep goes on to the next job."""
    _record_job(code, status)
    if not multirun:
        raise SystemExit(code)


def _task(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from resnet_exp.build import spec_from_config
    from resnet_exp.train.runner import run

    survive_broken_pipes()  # Hydra has just set up logging
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    submitit = _submitit_job(hc)
    if _in_worker_process() and not submitit:
        _note_stops_in_worker()
    # A sweep stopped by the user skips the jobs that had not started (joblib). Not under
    # submitit: there a job that starts after an interrupted one is that job requeued.
    stopped = (lambda: False) if submitit else _sweep_interrupted
    if multirun and stopped():
        _remove_if_empty_run(run_dir)  # Hydra made the folder; the job never started
        return
    try:
        spec = spec_from_config(cfg, multirun=multirun, overrides=list(hc.overrides.task))
        n_jobs = _parallel_jobs(hc, multirun)
        if n_jobs > 1:
            if spec.loop.threads is None:
                _share_threads(n_jobs)
            # Several live progress bars on one terminal garble each other; the log lines stay.
            spec = replace(spec, loop=replace(spec.loop, progress=False))
        if multirun and stopped():  # a stop while this job was being set up
            _remove_if_empty_run(run_dir)
            return
        outcome = run(spec, run_dir, stop_file=_stop_file())
    except UserError as e:
        _remove_if_empty_run(run_dir)
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        _job_ended_early(e.exit_code, "bad input", multirun)
        return
    except Exception as e:  # a bug or an environment failure (e.g. out of memory) while setting up
        logging.getLogger("resnet_exp").error("run failed:\n%s", traceback.format_exc())
        err.print(
            f"[bold red]failed:[/] {type(e).__name__}: {e} (traceback in {run_dir / 'train.log'})",
            soft_wrap=True,
        )
        _job_ended_early(1, "failed", multirun)
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
    _record_job(outcome.exit_code, outcome.status)
    if outcome.status == "interrupted" and multirun and not _in_worker_process():
        # The user asked to stop: stop the whole sweep, not just this run. (A joblib worker
        # returns instead; the stop reached its parent too, which ends the sweep.)
        raise SystemExit(outcome.exit_code)


INFO_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--cfg",
    "-c",
    "--info",
    "--version",
    "--shell-completion",
}


def flag_names(args: list[str]) -> set[str]:
    """The flags among the arguments, by name: Hydra takes --cfg job and --cfg=job alike."""
    return {a.split("=", 1)[0] for a in args if a.startswith("-")}


def known_part(path: str) -> Path:
    """The folder a path override names before Hydra resolves it: hydra.run.dir=out/${name} or
    out_root=${oc.env:SCRATCH}/x are known only up to the first interpolation."""
    return Path(path.split("${", 1)[0] or ".").expanduser()


def check_out_root(args: list[str]) -> None:
    """Hydra creates the run directory before any of our code runs, and fails with a traceback
    if it cannot; so make sure the output root is writable first (one line if not)."""
    if INFO_FLAGS & flag_names(args):
        return
    roots = [
        a.split("=", 1)[1]
        for a in args
        if a.startswith(("out_root=", "hydra.run.dir=", "hydra.sweep.dir="))
    ]
    for root in roots or ["outputs"]:
        path = known_part(root)
        try:
            ensure_writable_dir(path)
        except OSError as e:
            raise UserError(
                f"cannot write outputs under {path} ({e.strerror}); set out_root=PATH to a writable folder"
            ) from None


def torchrun_args(args: list[str]) -> list[str]:
    """Under torchrun every rank runs this same command; one run, whose folder rank 0 alone
    writes to: the other ranks keep Hydra's config copy and train.log out of it."""
    from resnet_exp.train.distributed import launched_by_torchrun

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


def check_one_mode(args: list[str]) -> None:
    """Hydra refuses -m with --cfg/--info in a traceback; say what to do instead."""
    shown = {"--cfg", "-c", "--info"} & flag_names(args)
    if shown and {"-m", "--multirun"} & flag_names(args):
        raise UserError(
            f"{sorted(shown)[0]} shows one run's configuration and cannot be combined with -m; "
            "drop -m and give one value per key (e.g. depth=56 instead of depth=20,56)"
        )


def train_main(args: list[str]) -> int:
    import hydra

    from resnet_exp.build import register_resolvers

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
        jobs_file, stop_file = Path(tmp) / "jobs.jsonl", Path(tmp) / "stop"
        env = {JOBS_FILE_ENV: jobs_file, PARENT_PID_ENV: os.getpid(), STOP_FILE_ENV: stop_file}
        os.environ.update({k: str(v) for k, v in env.items()})  # before any worker starts
        try:
            with SweepStop(stop_file) as sweep_stop:
                try:
                    app()
                except SystemExit as e:
                    # A stop that reaches joblib's workers while they are still starting (before
                    # any job could catch it) ends them; Hydra then reports the launcher's error
                    # and exits 1. No run had started; it is the stop the user asked for.
                    if not (sweep_stop.requested and e.code not in (0, None)):
                        raise
        finally:
            jobs = _read_jobs(jobs_file)
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
        elif command == "bench":
            from resnet_exp.bench import main as bench_main

            code = bench_main(rest)
        else:
            err.print(
                f"[bold red]error:[/] unknown command {command!r}; use train, report, probe, lesion or bench (resnet-exp --help)"
            )
            code = 2
    except UserError as e:
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        code = e.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    raise SystemExit(code)
