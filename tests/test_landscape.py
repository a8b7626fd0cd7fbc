"""Loss landscapes (Li et al. 2018): filter-normalized directions, surfaces, their summary, and
`resnet-exp landscape`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from resnet_exp.analyses.landscape import (
    axis,
    basin_width,
    convex_share,
    evaluate_points,
    filter_normalized_direction,
    landscape,
    loss_and_error,
    perturbed_names,
)
from resnet_exp.models import build_net


def images(n: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("block", ["plain", "residual", "preact"])
def test_each_direction_filter_has_the_norm_of_its_weight_filter(block: str) -> None:
    net = build_net(14, block, "B", width=4, seed=0)
    d = filter_normalized_direction(net, seed=3)
    params = dict(net.named_parameters())
    assert set(d) == set(perturbed_names(net))
    assert any(p.dim() == 2 for n, p in params.items() if n in d)  # the classifier's rows too
    for name, direction in d.items():
        w = params[name].detach()
        assert direction.shape == w.shape
        torch.testing.assert_close(direction.flatten(1).norm(dim=1), w.flatten(1).norm(dim=1))
    # BN gammas and betas, biases: never perturbed.
    skipped = {n for n, p in params.items() if p.dim() <= 1}
    assert skipped and not skipped & set(d)
    assert any(".bn" in n or "norm" in n for n in skipped)
    # Seeded: the same direction again, a different one for another seed.
    again = filter_normalized_direction(net, seed=3)
    other = filter_normalized_direction(net, seed=4)
    assert all(torch.equal(d[n], again[n]) for n in d)
    assert not all(torch.equal(d[n], other[n]) for n in d)


def test_a_zero_filter_gets_a_zero_direction() -> None:
    net = build_net(8, "residual", width=4, seed=0)
    conv = net.stages[0][0].conv2
    torch.nn.init.zeros_(conv.weight)
    name = next(n for n, p in net.named_parameters() if p is conv.weight)
    assert torch.count_nonzero(filter_normalized_direction(net, 0)[name]) == 0


def test_points_move_only_the_directions_weights_on_a_copy() -> None:
    net = build_net(8, "residual", width=4, seed=0)
    x, y = images()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    d1 = filter_normalized_direction(net, 0)
    centre, moved = evaluate_points(net, [d1], [(0.0,), (0.5,)], x, y, batch_size=10)
    assert centre == loss_and_error(net, x, y, batch_size=10)  # the trained weights at 0
    assert moved != centre
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # a copy moved
    # Hooks travel with the copy: every BN, as evaluated at a moved point, keeps its trained
    # gamma, beta and running statistics and runs in evaluation mode.
    seen = []
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    handles = [
        bn.register_forward_hook(
            lambda m, i, o, k=k: seen.append(
                (
                    k,
                    m.weight.detach().clone(),
                    m.bias.detach().clone(),
                    m.running_var.clone(),
                    m.training,
                )
            )
        )
        for k, bn in enumerate(bns)
    ]
    evaluate_points(net, [d1], [(0.7,)], x, y, batch_size=len(y))
    for h in handles:
        h.remove()
    assert sorted(k for k, *_ in seen) == list(range(len(bns)))
    for k, gamma, beta, running_var, training in seen:
        assert torch.equal(gamma, bns[k].weight) and torch.equal(beta, bns[k].bias)
        assert torch.equal(running_var, bns[k].running_var) and not training


def test_a_3x3_landscape_of_a_tiny_net() -> None:
    net = build_net(8, "plain", width=4, seed=0)
    x, y = images()
    r = landscape(net, x, y, span=0.5, line=3, grid=3, seed=1, batch_size=7)
    assert r["line"]["alpha"] == [-0.5, 0.0, 0.5] and r["surface"]["beta"] == [-0.5, 0.0, 0.5]
    loss, error = r["surface"]["loss"], r["surface"]["error"]
    assert len(loss) == 3 and all(len(row) == 3 for row in loss)
    assert loss[1][1] == r["centre"]["loss"] == r["line"]["loss"][1]  # the same trained point
    assert error[1][1] == r["centre"]["error"]
    assert r["line"]["loss"][0] == loss[1][0] and r["line"]["loss"][2] == loss[1][2]  # beta=0
    assert 0 <= r["summary"]["convex_share"] <= 1 and r["summary"]["basin"] >= 0
    d1, d2 = r["directions"]
    assert all(torch.equal(d1[n], filter_normalized_direction(net, 1)[n]) for n in d1)
    assert all(torch.equal(d2[n], filter_normalized_direction(net, 2)[n]) for n in d2)
    # Seeded and exact: the same surface again.
    again = landscape(net, x, y, span=0.5, line=3, grid=3, seed=1, batch_size=24)
    flat = [v for row in loss for v in row]
    assert [v for row in again["surface"]["loss"] for v in row] == pytest.approx(flat, rel=1e-5)


def test_axis_includes_zero_and_the_ends() -> None:
    assert axis(1.0, 5) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert axis(2.0, 1) == [0.0]
    assert len(axis(1.0, 21)) == 21 and axis(1.0, 21)[10] == 0.0


def grid_of(f, n: int = 7, span: float = 1.0) -> tuple[list[list[float]], float]:
    c = axis(span, n)
    return [[f(a, b) for a in c] for b in c], c[1] - c[0]


def test_convex_share_of_a_bowl_a_saddle_and_a_ridge() -> None:
    assert convex_share(*grid_of(lambda a, b: a * a + 2 * b * b)) == 1.0
    assert convex_share(*grid_of(lambda a, b: a * a - b * b)) == 0.0
    assert convex_share(*grid_of(lambda a, b: -(a * a) - b * b)) == 0.0
    # Convex in one half (|a| grows) and concave in the other: about half.
    share = convex_share(*grid_of(lambda a, b: abs(a) ** 3 * (1 if a > 0 else -1) + b * b, 9))
    assert 0.3 < share < 0.7
    assert convex_share([[1.0, 2.0], [3.0, 4.0]], 1.0) is None  # no interior point
    # An overflowed point leaves its neighbours out, not the grid.
    g, step = grid_of(lambda a, b: a * a + b * b)
    g[0][0] = math.inf
    assert convex_share(g, step) == 1.0


def test_basin_width_is_where_the_loss_reaches_the_level() -> None:
    alpha = axis(1.0, 21)
    width, closed = basin_width(alpha, [a * a for a in alpha], 0.25)
    assert width == pytest.approx(1.0, abs=0.02) and closed  # crossings at -0.5 and 0.5
    asym = [a * a if a > 0 else 4 * a * a for a in alpha]
    assert basin_width(alpha, asym, 0.25)[0] == pytest.approx(0.75, abs=0.02)
    width, closed = basin_width(alpha, [0.1 * a * a for a in alpha], 1.0)
    assert (width, closed) == (2.0, False)  # never reached: a lower bound
    assert basin_width(alpha, [5.0] * 21, 2.3) == (0.0, True)  # the centre is above the level
    overflow = [math.inf if abs(a) > 0.3 else 0.0 for a in alpha]
    assert basin_width(alpha, overflow, 1.0)[0] == pytest.approx(0.6)


def test_landscape_command_on_a_run_and_a_sweep_folder(tmp_path: Path, trained_runs: Path) -> None:
    residual = trained_runs / "residual"
    before = (residual / "checkpoint.pt").read_bytes()
    small = ["images=32", "line=5", "grid=3", "span=0.5", "batch_size=16"]
    r = run_cli(["landscape", f"from={residual}", *small], tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "outputs" / "landscapes" / "from_residual"
    doc = json.loads((out / "landscape.json").read_text())
    assert doc["label"] == "residual-8 s0" and doc["train_images"] == 32
    assert doc["direction_seeds"] == [0, 1] and doc["line"]["alpha"][2] == 0.0
    assert doc["summary"]["chance_loss"] == pytest.approx(math.log(10))
    level = doc["summary"]["basin_level"]  # half-way from the trained loss to chance
    assert level == pytest.approx((doc["centre"]["loss"] + math.log(10)) / 2)
    assert len(list(csv.DictReader((out / "surface.csv").open()))) == 9
    assert len(list(csv.DictReader((out / "line.csv").open()))) == 5
    assert (out / "landscape.png").stat().st_size > 10_000
    assert (residual / "checkpoint.pt").read_bytes() == before  # read-only
    assert "basin" in r.stdout and "residual-8 s0" in r.stdout
    # The saved directions are the seeded ones: a figure can be recomputed exactly.
    from resnet_exp.analyses.runs import open_run
    from resnet_exp.build import build_model

    saved = torch.load(out / "directions.pt", weights_only=True)
    run = open_run(residual)
    net = build_model(run.spec, 10)
    net.load_state_dict(run.weights)
    again = filter_normalized_direction(net, 1)
    assert saved["seeds"] == [0, 1]
    assert all(torch.equal(saved["direction_2"][n], again[n]) for n in again)
    # A sweep folder: every run, one figure; -m over runs: one combined figure.
    r = run_cli(["landscape", f"from={trained_runs}", *small, "save_directions=false"], tmp_path)
    assert r.returncode == 0, r.stderr
    both = tmp_path / "outputs" / "landscapes" / "from_runs"
    assert sorted(p.parent.name for p in both.glob("*/landscape.json")) == ["plain", "residual"]
    assert (both / "landscapes.png").stat().st_size > 10_000
    assert not list(both.rglob("directions.pt"))
    r = run_cli(
        ["landscape", "-m", f"from={trained_runs / 'plain'},{residual}", *small, "grid=0"],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "outputs" / "landscapes" / "sweep" / "landscapes.png").is_file()


@pytest.mark.parametrize(
    "key,value,text",
    [
        ("span", 0, "span=0 must be a number > 0"),
        ("span", "1", "span=1 must be a number > 0"),
        ("grid", -1, "grid=-1 must be an integer >= 0"),
        ("line", 2.5, "line=2.5 must be an integer >= 0"),
        ("images", 0, "images=0 must be an integer >= 1 (or null)"),
        ("batch_size", 0, "batch_size=0 must be an integer >= 1"),
    ],
)
def test_landscape_settings_are_checked(key: str, value, text: str) -> None:
    from omegaconf import OmegaConf

    from resnet_exp.analyses.landscape_cli import landscape_settings
    from resnet_exp.commandline import config_dir
    from resnet_exp.errors import UserError

    cfg = OmegaConf.load(config_dir() / "landscape.yaml")
    assert landscape_settings(cfg)["grid"] == 19  # the defaults pass
    cfg[key] = value
    with pytest.raises(UserError, match=text.replace("(", r"\(").replace(")", r"\)")):
        landscape_settings(cfg)


def test_landscape_refuses_in_one_line(tmp_path: Path, trained_runs: Path) -> None:
    r = run_cli(["landscape", f"from={trained_runs}", "line=0", "grid=0"], tmp_path)
    assert r.returncode == 2 and "leave nothing to compute" in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "skipped" not in r.stderr, r.stderr
    assert not (tmp_path / "outputs").exists() or not list(
        (tmp_path / "outputs").rglob("landscape.json")
    )
    r = run_cli(["landscape", f"from={trained_runs}", "imagez=5"], tmp_path)
    assert r.returncode == 2 and "images=5" in r.stderr  # the nearest real key
    r = run_cli(["landscape"], tmp_path)
    assert r.returncode == 2 and "from=RUN_DIR" in r.stderr
