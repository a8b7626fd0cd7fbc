"""Sweeps through hydra-submitit-launcher, tested with submitit's local executor (no cluster)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import read_jsonl, run_cli, start_cli

from resnet_exp.cli import jobs_folder

SUBMITIT_LOCAL = ["hydra/launcher=submitit_local", "threads=1"]


def test_slurm_preset_has_the_keys_a_cluster_user_sets(tmp_path):
    done = run_cli(
        [
            "train",
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.account=proj42",
            "+hydra.launcher.additional_parameters.constraint=a100",
            "--cfg",
            "hydra",
            "-p",
            "hydra.launcher",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in text
    for line in (
        "partition: gpu",
        "account: proj42",
        "gpus_per_node: 1",
        "cpus_per_task: 4",
        "mem_gb: 16",
        "timeout_min: 240",
        "array_parallelism: 16",
        "signal_delay_s: 120",
        "max_num_timeout: 20",
        "constraint: a100",
    ):
        assert line in text, line


def test_jobs_report_to_a_folder_the_cluster_shares_with_the_launching_machine():
    assert jobs_folder(["depth=20"]) is None  # the system's temporary folder
    assert jobs_folder(["hydra/launcher=joblib"]) is None
    assert jobs_folder(["hydra/launcher=slurm"]) == str(Path.cwd() / "outputs")  # absolute
    assert jobs_folder(["hydra/launcher=slurm", "out_root=/scratch/me"]) == "/scratch/me"
    slurm_env = ["hydra/launcher=slurm", "out_root=/scratch/${oc.env:USER}/runs"]
    assert jobs_folder(slurm_env) == "/scratch"  # the part known before Hydra resolves it


def test_submitit_sweep_runs_each_job_in_its_own_process_and_report_reads_them(tmp_path, tiny):
    args = ["train", "-m", *tiny, *SUBMITIT_LOCAL, "block=plain,residual"]
    done = run_cli(args, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep: 2 completed" in done.stdout
    summaries = [
        json.loads(p.read_text()) for p in tmp_path.glob("outputs/sweeps/*/*/summary.json")
    ]
    assert sorted(s["block"] for s in summaries) == ["plain", "residual"]
    assert all(s["status"] == "completed" for s in summaries)
    pids = {s["provenance"]["pid"] for s in summaries}
    assert len(pids) == 2  # separate job processes

    report = run_cli(["report", "outputs/sweeps/sweep", "--no-tensorboard"], tmp_path)
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "outputs/sweeps/sweep/report/table.md").read_text()
    assert "plain" in table and "residual" in table

    again = run_cli(args, tmp_path, timeout=300)  # as locally: finished runs are skipped
    assert again.returncode == 0, again.stderr[-3000:]
    logs = "".join(p.read_text() for p in tmp_path.glob("outputs/sweeps/sweep/.submitit/*/*.out"))
    assert logs.count("; skipped (remove the directory") == 2  # each job's output is its log
    after = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/sweeps/*/*/summary.json")]
    assert sorted(s["updated_at"] for s in after) == sorted(s["updated_at"] for s in summaries)


def test_time_limit_signal_checkpoints_requeues_and_ends_as_if_never_stopped(tmp_path, tiny):
    """What SLURM does `signal_delay_s` before a time limit: USR2 to the job. The run finishes
    its step and checkpoints, then submitit requeues the job, which resumes the run."""
    args = [*tiny, "iterations=400", "log_every=10", "eval_every=200", "checkpoint_every=1000"]
    proc = start_cli(["train", "-m", *args, *SUBMITIT_LOCAL], tmp_path)
    deadline, summary_path = time.time() + 240, None
    while time.time() < deadline:
        found = list(tmp_path.glob("outputs/sweeps/sweep/*/metrics.jsonl"))
        if found and found[0].read_text().count('"train"') >= 2:
            summary_path = found[0].parent / "summary.json"
            break
        time.sleep(0.05)
    assert summary_path is not None
    pid = json.loads(summary_path.read_text())["provenance"]["pid"]
    os.kill(pid, signal.SIGUSR2)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    run_dir = summary_path.parent
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "completed"
    resumed = summary["provenance"]["resumed_from"]
    assert 20 <= resumed["iteration"] < 400 and summary["provenance"]["pid"] != pid
    logs = "".join(p.read_text() for p in run_dir.parent.glob(".submitit/*/*_log.out"))
    assert "Requeued job" in logs and "handing the time-limit signal" in logs

    # An uninterrupted run of the same config, with the ordinary launcher.
    plain = run_cli(["train", *args, "threads=1", "out_root=ref"], tmp_path)
    assert plain.returncode == 0, plain.stderr
    (ref_dir,) = (tmp_path / "ref" / "runs").iterdir()

    def state(d):
        return torch.load(d / "checkpoint.pt", weights_only=False)["trainer"]["model"]

    a, b = state(run_dir), state(ref_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)

    def records(d):
        drop = {"images_per_s", "wall_time_s"}
        return [
            {k: v for k, v in r.items() if k not in drop}
            for r in read_jsonl(d / "metrics.jsonl")
            if r["kind"] in ("train", "eval")
        ]

    assert records(run_dir) == records(ref_dir)


@pytest.mark.slow  # about 60 s: two submitit jobs, stopped, then resumed
def test_one_ctrl_c_on_the_command_stops_every_job_and_the_same_command_resumes(tmp_path, tiny):
    """The jobs are other processes (other machines, on SLURM): they learn of the stop from a
    file in the folder they share with the launching command, checkpoint and end interrupted."""
    args = ["train", "-m", *tiny, *SUBMITIT_LOCAL, "block=plain,residual", "iterations=2000"]
    args += ["log_every=10", "eval_every=1000", "checkpoint_every=5000"]
    proc = start_cli(args, tmp_path)
    deadline, found = time.time() + 240, []
    while time.time() < deadline:
        found = list(tmp_path.glob("outputs/sweeps/sweep/*/metrics.jsonl"))
        if len(found) == 2 and all(p.read_text().count('"train"') >= 2 for p in found):
            break
        time.sleep(0.05)
    assert len(found) == 2
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert "stopped; run the same command again to resume" in err
    stopped = [json.loads((p.parent / "summary.json").read_text()) for p in found]
    assert [s["status"] for s in stopped] == ["interrupted", "interrupted"]
    assert all(s["iteration"] < 2000 for s in stopped)
    assert not list(tmp_path.glob("outputs/.resnet-exp-*"))  # the jobs' folder is cleaned up

    again = run_cli(args, tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    for p, before in zip(found, stopped, strict=True):
        s = json.loads((p.parent / "summary.json").read_text())
        assert s["status"] == "completed"
        assert s["provenance"]["resumed_from"]["iteration"] == before["iteration"]
