"""The real `resnet-exp` CLI in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, only_run_dir, read_jsonl, run_cli, start_cli

from resnet_exp.cli import config_dir


def test_tiny_training_run_end_to_end(tmp_path: Path) -> None:
    r = run_cli(["train", *TINY, "block=plain"], tmp_path)
    assert r.returncode == 0, r.stderr
    run_dir = only_run_dir(tmp_path / "outputs" / "runs")
    assert run_dir.name.startswith("plain-8_A_kaiming_normal_s0")
    s = json.loads((run_dir / "summary.json").read_text())
    assert (
        s["status"] == "completed" and s["block"] == "plain" and s["depth"] == 8 and s["params"] > 0
    )
    assert 0 <= s["train_error"] <= 1 and 0 <= s["test_error"] <= 1 and s["images_per_s"] > 0
    records = read_jsonl(run_dir / "metrics.jsonl")
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert steps == sorted(set(steps)) == [4, 8, 12]
    assert all(
        0 <= r["train_error"] <= 1 and r["train_loss"] > 0 and r["lr"] > 0
        for r in records
        if r["kind"] == "train"
    )
    assert (
        list(run_dir.glob("events.out.tfevents.*"))
        and (run_dir / ".hydra" / "config.yaml").is_file()
    )
    assert (run_dir / "train.log").read_text().count("train error") == 3
    assert "completed 12 iterations" in r.stdout


@pytest.mark.parametrize(
    "override,text", [("depth=57", "6n+2"), ("optim.milestones=[10,5]", "strictly increasing")]
)
def test_bad_input_is_one_line_and_leaves_no_run(tmp_path: Path, override: str, text: str) -> None:
    r = run_cli(["train", *TINY, override], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and text in r.stderr and "Traceback" not in r.stderr
    assert not list((tmp_path / "outputs").rglob("summary.json"))
    assert not any((tmp_path / "outputs" / "runs").iterdir())


def test_unknown_block_lists_the_choices(tmp_path: Path) -> None:
    r = run_cli(["train", "block=dense"], tmp_path)
    assert r.returncode != 0 and "Available options in 'block'" in r.stderr
    assert "plain" in r.stderr and "residual" in r.stderr and "Traceback" not in r.stderr


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    r = run_cli(["train", "depht=20"], tmp_path)
    assert r.returncode != 0 and "depht" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(tmp_path: Path) -> None:
    r = run_cli(["train", *TINY, "device=cuda"], tmp_path)
    assert (
        r.returncode == 2
        and "no CUDA device is available" in r.stderr
        and "Traceback" not in r.stderr
    )


def test_missing_dataset_names_the_root(tmp_path: Path) -> None:
    r = run_cli(
        [
            "train",
            *TINY,
            "data=cifar10",
            f"data.root={tmp_path / 'nowhere'}",
            "data.download=false",
        ],
        tmp_path,
    )
    assert r.returncode == 2 and f"not found under {tmp_path / 'nowhere'}" in r.stderr


def test_unwritable_output_root(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    r = run_cli(["train", *TINY, f"out_root={tmp_path / 'afile' / 'out'}"], tmp_path)
    assert r.returncode == 2 and "cannot write outputs" in r.stderr and "Traceback" not in r.stderr


def test_print_resolved_config_and_help(tmp_path: Path) -> None:
    r = run_cli(["train", "--cfg", "job", "depth=44"], tmp_path)
    assert r.returncode == 0 and "depth: 44" in r.stdout and "lr: 0.1" in r.stdout
    h = run_cli(["train", "--help"], tmp_path)
    for line in ("block=plain", "block=residual*", "shortcut=C", "data=synthetic", "optim=sgd*"):
        assert line in h.stdout
    # Each preset starts a row: its help line beside it, or on the next line for a long name.
    rows = {
        line.split()[0]
        for line in h.stdout.splitlines()
        if line.startswith("  ") and line[2:3].strip()
    }
    for preset in Path(config_dir(), "experiment").glob("*.yaml"):
        assert preset.stem in rows, preset.stem
    # The --flag=value forms too (Hydra takes both).
    eq = run_cli(["train", "--cfg=job", "depth=32"], tmp_path)
    assert eq.returncode == 0 and "depth: 32" in eq.stdout
    assert run_cli(["train", "--info=config", "depth=32"], tmp_path).returncode == 0
    assert not (tmp_path / "outputs").exists()  # --help/--cfg/--info write nothing
    both = run_cli(["train", "-m", "depth=20,56", "--cfg", "job"], tmp_path)
    assert both.returncode == 2 and "Traceback" not in both.stderr
    assert "--cfg shows one run's configuration and cannot be combined with -m" in both.stderr
    info = run_cli(["train", "--multirun", "depth=20,56", "--info=config"], tmp_path)
    assert info.returncode == 2 and "--info shows" in info.stderr and "Traceback" not in info.stderr


@pytest.mark.parametrize(
    "args", [["train", "--help"], ["train", "--cfg", "job"], ["report", "--help"]], ids=" ".join
)
def test_help_and_config_screens_do_not_import_torch(tmp_path: Path, args: list[str]) -> None:
    """They answer before any run starts; importing torch would cost 1.5-4 s here."""
    code = (
        "import sys\n"
        "from resnet_exp.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith("no torch"), r.stderr


def test_dispatcher_usage_and_unknown_command(tmp_path: Path) -> None:
    assert run_cli(["--help"], tmp_path).returncode == 0
    r = run_cli(["frobnicate"], tmp_path)
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_sweep_continues_past_a_bad_run_and_resumes(tmp_path: Path) -> None:
    args = ["train", "-m", *TINY, "depth=8,9", "sweep_name=t"]
    r = run_cli(args, tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr  # depth 9 is bad input; depth 8 still ran
    assert "1 completed, 1 bad input" in r.stdout
    run_dir = only_run_dir(tmp_path / "outputs" / "sweeps" / "t")
    assert run_dir.name.startswith("residual-8")
    again = run_cli(["train", "-m", *TINY, "depth=8", "sweep_name=t"], tmp_path)
    assert (
        again.returncode == 0 and "already completed" in again.stdout and "skipped" in again.stdout
    )
    # Both commands' records stay in the sweep folder: Hydra's multirun.yaml is the second's,
    # the first's was kept under the time it was written instead of being overwritten.
    sweep = tmp_path / "outputs" / "sweeps" / "t"
    assert "- depth=8\n" in (sweep / "multirun.yaml").read_text()
    (first,) = sweep.glob("multirun-*.yaml")
    assert "- depth=8,9\n" in first.read_text()


def test_sigterm_checkpoints_and_the_same_command_resumes(tmp_path: Path) -> None:
    args = [
        "train",
        *TINY,
        "iterations=600",
        "checkpoint_every=200",
        "log_every=10",
        "eval_every=300",
    ]
    proc = start_cli(args, tmp_path)
    metrics = None
    deadline = time.time() + 120
    while time.time() < deadline:
        found = list((tmp_path / "outputs").rglob("metrics.jsonl"))
        if found and found[0].read_text().count("\n") >= 3:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, "training did not start"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    s = json.loads((metrics.parent / "summary.json").read_text())
    assert s["status"] == "interrupted" and 0 < s["iteration"] < 600
    assert "run the same command again to resume" in out

    r = run_cli(args, tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((metrics.parent / "summary.json").read_text())
    assert s["status"] == "completed" and s["provenance"]["resumed_from"]["iteration"] > 0
    steps = [r["step"] for r in read_jsonl(metrics) if r["kind"] == "train"]
    assert steps == list(range(10, 601, 10))  # none duplicated, none missing


JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def test_parallel_sweep_reports_every_job(tmp_path: Path) -> None:
    """With the joblib launcher the jobs run in worker processes; their outcomes still add up."""
    r = run_cli(["train", "-m", *TINY, *JOBLIB, "depth=8,9,14", "sweep_name=p"], tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "2 completed" in r.stdout and "1 bad input" in r.stdout
    summaries = list((tmp_path / "outputs" / "sweeps" / "p").rglob("summary.json"))
    assert len(summaries) == 2


@pytest.mark.parametrize("to_group", [True, False], ids=["group", "parent-only"])
def test_parallel_sweep_stops_on_sigterm_and_resumes(tmp_path: Path, to_group: bool) -> None:
    """SIGTERM to the process group (what Ctrl-C and schedulers do), or to the launching process
    alone (`kill PID`, which the workers never see): both running jobs checkpoint, the third
    never starts, and the same command finishes the sweep."""
    # Long enough that both jobs are still running when the signal comes (it is sent as soon as
    # each has logged twice, 20 of 1000 iterations), short enough to resume quickly.
    args = ["train", "-m", *TINY, *JOBLIB, "seed=0,1,2", "iterations=1000",
            "checkpoint_every=250", "log_every=10", "eval_every=500", "sweep_name=p"]  # fmt: skip
    # Its own process group, as a shell gives a command.
    proc = start_cli(args, tmp_path, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        found = list((tmp_path / "outputs").rglob("metrics.jsonl"))
        if len(found) == 2 and all(f.read_text().count("\n") >= 2 for f in found):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the two parallel jobs did not start")
    if to_group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("summary.json")]
    assert sorted(s["status"] for s in summaries) == ["interrupted", "interrupted"]
    assert all(0 < s["iteration"] < 1000 for s in summaries)

    again = run_cli(args, tmp_path, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 completed" in again.stdout


def test_parallel_jobs_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from omegaconf import OmegaConf

    from resnet_exp.train import jobs as coordination

    threads = torch.get_num_threads()
    monkeypatch.setattr(coordination.os, "cpu_count", lambda: 8)
    try:

        def jobs(launcher: dict, multirun: bool = True) -> int:
            return coordination.parallel_jobs(OmegaConf.create({"launcher": launcher}), multirun)

        assert jobs({"n_jobs": 4}) == 4
        assert jobs({"n_jobs": -1}) == 8 and jobs({"n_jobs": -2}) == 7  # joblib's convention
        assert jobs({}) == 1  # Hydra's basic launcher
        assert jobs({"n_jobs": 4}, multirun=False) == 1  # one run keeps every core
        coordination.share_threads(4)
        assert torch.get_num_threads() == 2
        coordination.share_threads(16)
        assert torch.get_num_threads() == 1  # never zero
    finally:
        torch.set_num_threads(threads)


def test_tiny_sweep_then_report(tmp_path: Path) -> None:
    r = run_cli(
        [
            "train",
            "-m",
            *TINY,
            "iterations=8",
            "depth=8,14",
            "block=plain,residual",
            "sweep_name=fig6",
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    sweep = tmp_path / "outputs" / "sweeps" / "fig6"
    names = sorted(p.parent.name for p in sweep.rglob("summary.json"))
    assert [n.split("_")[0] for n in names] == ["plain-14", "plain-8", "residual-14", "residual-8"]
    rep = run_cli(["report", str(sweep), "--tensorboard"], tmp_path)
    assert rep.returncode == 0, rep.stderr
    out = sweep / "report"
    for f in (
        "figure6.png",
        "figure6.svg",
        "error_vs_depth.png",
        "table.md",
        "table.csv",
        "verdict.md",
        "gaps.md",
    ):
        assert (out / f).stat().st_size > 0, f
    gaps = (out / "gaps.md").read_text()
    assert "## plain-14 minus plain-8" in gaps and "## residual-14 minus residual-8" in gaps
    rows = (out / "table.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("depth,block,params")
    assert "plain" in rep.stdout and "residual" in rep.stdout  # the table is printed too
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_report_without_runs_is_one_line(tmp_path: Path) -> None:
    r = run_cli(["report", str(tmp_path)], tmp_path)
    assert r.returncode == 2 and "no runs found" in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_built_wheel_carries_its_configs(tmp_path: Path) -> None:
    """The configs must work from an installed wheel, not only from this checkout."""
    import zipfile

    from conftest import REPO

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        timeout=600,
    )
    wheel = next((tmp_path / "dist").glob("resnet_exp-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "resnet_exp/conf/train.yaml" in names and "resnet_exp/conf/block/plain.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Run the unpacked wheel from a folder far from the checkout: it must find its own configs.
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run(
        [sys.executable, "-m", "resnet_exp", "train", "--cfg", "job", "depth=32"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "depth: 32" in r.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import resnet_exp.cli as c; print(c.config_dir())"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
    )
    assert where.stdout.strip().startswith(str(site))


def test_run_dir_with_an_interpolation_is_not_created_literally(tmp_path: Path) -> None:
    r = run_cli(["train", *TINY, "hydra.run.dir=out/fixed/${name}"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "out" / "fixed" / "${name}").exists()
    assert (only_run_dir(tmp_path / "out" / "fixed").parent) == tmp_path / "out" / "fixed"


def test_path_values_are_quoted_for_hydra() -> None:
    from resnet_exp.cli import TRAIN_PATH_KEYS
    from resnet_exp.overrides import quote_paths

    def q(arg: str) -> str:
        return quote_paths(arg, TRAIN_PATH_KEYS)

    assert q("resume=out/x_data=y/checkpoint.pt") == "resume='out/x_data=y/checkpoint.pt'"
    assert q("data.root=~/cifar") == "data.root='~/cifar'"
    assert q("out_root=a=1,b") == "out_root='a=1','b'"  # a sweep over two roots stays one
    assert q("resume='already'") == "resume='already'"
    assert q("out_root=${oc.env:SCRATCH}/x") == "out_root=${oc.env:SCRATCH}/x"
    assert q("resume=null") == "resume=null"
    assert q("depth=20") == "depth=20" and q("tag=a=b") == "tag=a=b"


def test_resume_from_a_run_folder_with_equals_signs(tmp_path: Path) -> None:
    """Issue 25.2: every run with an override has `=` in its folder name, and `resume=PATH` to it
    used to end in Hydra's `mismatched input '='`. The path is taken as typed, the checkpoint or
    the run folder itself."""
    first = run_cli(["train", *TINY, "out_root=a"], tmp_path)
    assert first.returncode == 0, first.stderr
    run_dir = only_run_dir(tmp_path / "a")
    assert "=" in run_dir.name
    for given in (run_dir / "checkpoint.pt", run_dir):
        r = run_cli(
            ["train", *TINY, f"resume={given.relative_to(tmp_path)}", "out_root=b"],
            tmp_path,
        )
        assert r.returncode == 0, r.stderr
        summary = json.loads(only_run_dir(tmp_path / "b").joinpath("summary.json").read_text())
        assert summary["status"] == "completed" and summary["iteration"] == 12
        assert "resuming" in (only_run_dir(tmp_path / "b") / "train.log").read_text()
        shutil.rmtree(tmp_path / "b")
    empty = tmp_path / "empty_data=x"
    empty.mkdir()
    r = run_cli(["train", *TINY, f"resume={empty.name}", "out_root=c"], tmp_path)
    assert r.returncode == 2 and "no checkpoint.pt in that folder" in r.stderr
    assert r.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(
    "typo, expected",
    [
        ("depht=56", "unknown key 'depht'; did you mean depth=56?"),
        (
            "+depht=56",
            "unknown key 'depht' (a key added with + would be read by nothing); did you mean depth=56?",
        ),
        ("optim.lrr=0.05", "did you mean optim.lr=0.05?"),
        ("+depth=56", "depth is already a key; write depth=56"),
    ],
)
def test_a_typo_is_refused_with_the_nearest_key(tmp_path: Path, typo: str, expected: str) -> None:
    """Issue 25.5: `+depht=56` (Hydra's own advice for `depht=56`) trained a depth-20 net named
    `..._depht=56`. Unknown keys are refused, with or without +, in one line, before any run."""
    r = run_cli(["train", *TINY, typo, "out_root=out"], tmp_path)
    assert r.returncode == 2, r.stdout
    assert expected in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("summary.json"))


def _flat_keys(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        keys.append(prefix + k)
        if isinstance(v, dict):
            keys += _flat_keys(v, f"{prefix}{k}.")
    return keys


def test_every_key_of_the_configs_is_known() -> None:
    """The key check must never refuse a real key: every key of the composed train and probe
    configs is known (and Hydra's own keys pass)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from resnet_exp.cli import config_dir
    from resnet_exp.naming import register_resolvers
    from resnet_exp.overrides import check_keys, known_keys

    register_resolvers()
    conf = config_dir()
    for name, groups in (("train", ["data=imagefolder"]), ("train", []), ("probe", [])):
        known = known_keys(conf, name)
        with initialize_config_dir(str(conf), version_base="1.3"):
            cfg = compose(name, overrides=groups)
        flat = _flat_keys(OmegaConf.to_container(cfg, resolve=False))
        assert set(flat) <= known, set(flat) - known
        check_keys([f"{k}=1" for k in flat], known, name)  # none refused
    extra = ["hydra/launcher=joblib", "+hydra.launcher.x=1", "experiment=degradation_cpu"]
    check_keys(extra, known_keys(conf, "train"), "train")


def test_train_help_explains_every_key_within_80_columns(tmp_path: Path) -> None:
    """Issue 25.4: Hydra's help dumped the config without its comments. Ours lists every key
    with its default and meaning, the groups with their options, the presets, and examples."""
    from resnet_exp.cli import config_dir
    from resnet_exp.overrides import known_keys

    r = run_cli(["train", "--help"], tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    text = r.stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    for key in known_keys(config_dir(), "train"):
        if key in ("block", "shortcut", "init", "data", "optim", "experiment"):
            assert f"{key}=" in text, key  # a group: its options are listed as group=option
        elif not key.endswith(".name") and key != "name":  # names come from the groups
            assert f"  {key}=" in text, key
    assert "norm=batch                batch (the paper's) | none" in text  # with its meaning
    assert "downloads CIFAR-10" in text and "64,000 iterations" in text
    assert "experiment=degradation_laptop_fig6_w4" in text and "data=synthetic" in text
    assert "degradation_laptop_fig6" in text  # the presets, each with its help line
    assert not (tmp_path / "outputs").exists()  # help starts nothing


def test_probe_help_is_the_probes_own(tmp_path: Path) -> None:
    r = run_cli(["probe", "--help"], tmp_path)
    assert r.returncode == 0
    assert "outputs/probes" in r.stdout and "outputs/runs/<name>," not in r.stdout
    assert "from=null" in r.stdout and "probe_batch=128" in r.stdout
    assert all(len(line) <= 80 for line in r.stdout.splitlines())


def test_every_help_screen_fits_80_columns_and_has_examples(tmp_path: Path) -> None:
    for args in (
        ["--help"],
        ["report", "--help"],
        ["probe", "linear", "--help"],
        ["probe", "depth", "--help"],
        ["lesion", "--help"],
        ["landscape", "--help"],
        ["bench", "--help"],
    ):
        r = run_cli(args, tmp_path, env={"COLUMNS": "80"})  # argparse wraps to $COLUMNS
        assert r.returncode == 0, args
        assert all(len(line) <= 80 for line in r.stdout.splitlines()), args
        assert "example" in r.stdout.lower() or "first steps" in r.stdout, args
