"""Lesions (Veit et al. 2016): deleting blocks of trained nets, and `resnet-exp lesion`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from conftest import TINY, run_cli

from resnet_exp.analyses.lesion import block_list, error_rate, lesion_study
from resnet_exp.models import build_net


def images(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def logits(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    net.eval()
    with torch.no_grad():
        return net(x)


def zero_branches(net: torch.nn.Module, block: str) -> None:
    """Every residual branch outputs zero: its last BN's gamma and beta (post-activation) or its
    last conv (pre-activation) at zero."""
    for _, blk in block_list(net):
        if block == "preact":
            torch.nn.init.zeros_(blk.conv2.weight)
        else:
            torch.nn.init.zeros_(blk.bn2.weight)
            torch.nn.init.zeros_(blk.bn2.bias)


@pytest.mark.parametrize(
    "block,shortcut", [("residual", "A"), ("residual", "B"), ("preact", "A"), ("preact", "B")]
)
def test_deleting_a_zero_branch_leaves_the_output_unchanged(block: str, shortcut: str) -> None:
    net = build_net(14, block, shortcut, width=4, seed=0)
    zero_branches(net, block)
    x, _ = images()
    intact = logits(net, x)
    for _, blk in block_list(net):  # every block, the downsampling ones included
        blk.deleted = True
        assert torch.allclose(logits(net, x), intact, atol=1e-6)
        blk.deleted = False


def test_deleting_a_plain_block_changes_the_output() -> None:
    net = build_net(14, "plain", width=4, seed=0)
    x, _ = images()
    intact = logits(net, x)
    pairs = block_list(net)
    deletable = [blk for info, blk in pairs if info.deletable]
    assert len(deletable) == len(pairs) - 2  # the first blocks of stages 2 and 3 reshape
    assert [info.label for info, _ in pairs if not info.deletable] == ["2.0", "3.0"]
    for blk in deletable:
        blk.deleted = True
        assert not torch.allclose(logits(net, x), intact, atol=1e-3)
        blk.deleted = False
    assert torch.equal(logits(net, x), intact)


def test_lesion_study_works_on_a_copy_and_counts() -> None:
    net = build_net(14, "plain", width=4, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = images(32)
    r = lesion_study(net, x, y, draws=3, seed=1, batch_size=7)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(blk.deleted for _, blk in block_list(net))
    assert r["baseline_error"] == error_rate(net, x, y)
    assert r["blocks"] == 6 and r["deletable"] == 4
    assert [s["error"] is None for s in r["single"]] == [False, False, True, False, True, False]
    assert [m["k"] for m in r["random"]] == [1, 2]  # half of the 4 deletable blocks
    for m in r["random"]:
        assert len(m["errors"]) == 3 and all(len(d) == m["k"] for d in m["deleted"])
        assert all("2.0" not in d and "3.0" not in d for d in m["deleted"])
    # Seeded: the same draws again.
    assert lesion_study(net, x, y, draws=3, seed=1)["random"] == r["random"]


def test_lesion_command_on_a_run_and_on_a_sweep_folder(tmp_path: Path, trained_runs: Path) -> None:
    plain, residual = trained_runs / "plain", trained_runs / "residual"
    before = (residual / "checkpoint.pt").read_bytes()
    r = run_cli(["lesion", f"from={residual}", "images=32", "draws=2"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "outputs" / "lesions" / "from_residual"
    doc = json.loads((out / "lesion.json").read_text())
    assert doc["test_images"] == 32 and doc["label"] == "residual-8 s0" and doc["iteration"] == 12
    assert len(list(csv.DictReader((out / "single.csv").open()))) == 3
    assert (out / "lesion.png").stat().st_size > 10_000
    assert (residual / "checkpoint.pt").read_bytes() == before  # read-only
    # A sweep folder: every finished run in it, one figure, the skipped plain block named.
    r = run_cli(["lesion", f"from={trained_runs}", "images=32", "draws=2"], tmp_path)
    assert r.returncode == 0, r.stderr
    both = tmp_path / "outputs" / "lesions" / "from_runs"
    assert sorted(p.parent.name for p in both.glob("*/lesion.json")) == ["plain", "residual"]
    assert (both / "lesions.png").stat().st_size > 10_000
    assert "plain-8 s0: blocks 2.0, 3.0" in r.stdout.replace("\n", " ")
    # -m over runs: one combined figure for the sweep.
    r = run_cli(
        ["lesion", "-m", f"from={plain},{residual}", "images=32", "draws=2", "sweep_name=pair"],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    pair = tmp_path / "outputs" / "lesions" / "pair"
    assert (pair / "lesions.png").is_file()
    # A second -m command into the same sweep keeps the first one's multirun.yaml.
    r = run_cli(
        ["lesion", "-m", f"from={plain}", "images=32", "draws=1", "sweep_name=pair"], tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "- draws=1\n" in (pair / "multirun.yaml").read_text()
    (first,) = pair.glob("multirun-*.yaml")
    assert "- draws=2\n" in first.read_text()


def test_lesion_refuses_what_it_cannot_read_in_one_line(tmp_path: Path, trained_runs: Path) -> None:
    run = trained_runs / "residual"
    summary = json.loads((run / "summary.json").read_text())
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes())
    (unfinished / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    torch.save({"state_dict": {}}, foreign / "checkpoint.pt")
    cases = {
        "nowhere": "no run there (no such folder)",
        str(unfinished): "the run has not finished (status interrupted",
        str(foreign): "is not a resnet-exp checkpoint",
    }
    for source, text in cases.items():
        r = run_cli(["lesion", f"from={source}"], tmp_path)
        assert r.returncode == 2, r.stdout + r.stderr
        assert text in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
    # Bad settings are one line, also for a sweep folder (checked once, not per run).
    for source, setting, text in (
        (str(run), "draws=0", "draws=0 must be an integer >= 1"),
        (str(trained_runs), "images=0", "images=0 must be an integer >= 1 (or null)"),
    ):
        r = run_cli(["lesion", f"from={source}", setting], tmp_path)
        assert r.returncode == 2 and text in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0 and "skipped" not in r.stderr
    r = run_cli(["lesion"], tmp_path)
    assert r.returncode == 2 and "from=RUN_DIR" in r.stderr
    r = run_cli(["lesion", f"from={run}", "imagez=5"], tmp_path)
    assert r.returncode == 2 and "images=5" in r.stderr
    assert (
        not list((tmp_path / "outputs").rglob("lesion.json"))
        if (tmp_path / "outputs").exists()
        else True
    )


def test_exported_weights_serve_analyses_but_not_training(
    tmp_path: Path, trained_runs: Path
) -> None:
    import subprocess
    import sys

    from conftest import REPO, cli_env

    run = trained_runs / "residual"
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "export_weights.py"), str(run), "--out", "weights"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    exported = tmp_path / "weights" / "residual"
    assert (exported / "checkpoint.pt").stat().st_size < (run / "checkpoint.pt").stat().st_size
    r = run_cli(["lesion", f"from={exported}", "images=32", "draws=1"], tmp_path)
    assert r.returncode == 0, r.stderr
    direct = run_cli(["lesion", f"from={run}", "images=32", "draws=1", "out_root=direct"], tmp_path)
    a = json.loads((tmp_path / "outputs/lesions/from_residual/lesion.json").read_text())
    b = json.loads((tmp_path / "direct/lesions/from_residual/lesion.json").read_text())
    assert direct.returncode == 0 and a["single"] == b["single"]  # the same weights
    r = run_cli(["train", *TINY, "block=residual", f"resume={exported}", "iterations=16"], tmp_path)
    assert r.returncode == 2 and "cannot resume training" in r.stderr
