"""How the jobs of one `resnet-exp train` invocation coordinate (a sweep's runs, possibly in
joblib worker processes or on a cluster): each records its exit code and status in a jobs file,
a stop file says the user asked the sweep to stop, and workers share the cores and note stops
between runs. The dispatcher (cli.py) uses these; nothing here trains."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

# Where each job of this invocation records its exit code and status: a file, not a list in
# memory, because with `hydra/launcher=joblib` the jobs run in worker processes.
JOBS_FILE_ENV = "RESNET_EXP_JOBS_FILE"
PARENT_PID_ENV = "RESNET_EXP_PARENT_PID"
STOP_FILE_ENV = "RESNET_EXP_STOP_FILE"  # exists once the user asked the sweep to stop
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def record_job(code: int, status: str) -> None:
    path = os.environ.get(JOBS_FILE_ENV)
    # A job that cannot see the folder (an out_root that is not shared with the node it runs
    # on) inherits the variable all the same: there the sweep's tally is the runs' own
    # summary.json files (resnet-exp report).
    if path and Path(path).parent.is_dir():
        with open(path, "a") as f:  # one short line per job: an append is atomic
            f.write(json.dumps({"code": code, "status": status}) + "\n")


def read_jobs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stop_file() -> Path | None:
    path = os.environ.get(STOP_FILE_ENV)
    return Path(path) if path else None


def sweep_interrupted() -> bool:
    """Whether the user asked this invocation to stop, or one of its jobs was interrupted. Jobs
    that start later (a joblib worker taking its next job after Ctrl-C) must not train."""
    stop, jobs = stop_file(), os.environ.get(JOBS_FILE_ENV)
    if stop is not None and stop.exists():
        return True
    return bool(jobs) and any(j["status"] == "interrupted" for j in read_jobs(Path(jobs)))


def in_worker_process() -> bool:
    return os.environ.get(PARENT_PID_ENV, str(os.getpid())) != str(os.getpid())


def submitit_job(hc) -> bool:
    """Whether this job runs under hydra-submitit-launcher (hydra/launcher=slurm or
    submitit_local): submitit owns the job's signals there (see train.stops)."""
    from omegaconf import OmegaConf

    return "submitit" in str(OmegaConf.select(hc, "launcher._target_", default=""))


def parallel_jobs(hc, multirun: bool) -> int:
    """How many jobs the launcher runs at once: joblib's n_jobs (negative counts back from the
    number of cores, as in joblib: -1 is all of them); 1 for Hydra's basic launcher or one run."""
    from omegaconf import OmegaConf

    if not multirun:
        return 1
    n_jobs = int(OmegaConf.select(hc, "launcher.n_jobs", default=1) or 1)
    if n_jobs < 0:
        n_jobs = (os.cpu_count() or 1) + 1 + n_jobs
    return max(1, n_jobs)


def note_stops_in_worker() -> None:
    """A joblib worker is outside any run while Hydra sets up a job and between jobs. A Ctrl-C
    there must not raise (joblib would answer by killing the sibling jobs mid-step), and a
    SIGTERM must not kill it: note the stop for everyone instead. Runs install their own
    handlers and restore these afterwards."""
    stop = stop_file()
    if stop is None or threading.current_thread() is not threading.main_thread():
        return
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda signum, frame: stop.touch())


def share_threads(n_jobs: int) -> None:
    """K parallel jobs each taking every core would oversubscribe them: unless `threads` is
    set, each job gets an equal share."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))


def remove_if_empty_run(run_dir: Path) -> None:
    """After a user mistake, leave nothing that looks like a run (Hydra made the folder already)."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)


def job_ended_early(code: int, status: str, multirun: bool) -> None:
    """Record a job that never trained; a single run exits now, a sweep goes on to the next job."""
    record_job(code, status)
    if not multirun:
        raise SystemExit(code)


def launched_by_torchrun() -> bool:
    """Whether torchrun started this process as one of several ranks (from its environment
    alone: the dispatcher asks before torch is imported)."""
    return all(k in os.environ for k in TORCHRUN_ENV) and int(os.environ["WORLD_SIZE"]) > 1
