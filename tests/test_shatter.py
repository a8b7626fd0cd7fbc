"""Shattered gradients and `resnet-exp probe depth`: signals and input-gradient correlation
against depth, at initialization."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from conftest import run_cli
from torch import nn

from resnet_exp.layerstats import layer_stats
from resnet_exp.models import build_net
from resnet_exp.probe.shatter import line_gradients, pearson_rows, set_bn_statistics


class LinearNet(nn.Module):
    """Input -> fc: its input gradient is the same at every input (a constant)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def images(n: int, seed: int = 0, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_pearson_rows_known_values() -> None:
    a = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 2.0]], dtype=torch.float64)
    b = torch.stack([2 * a[0] + 1, -a[1]])
    assert torch.allclose(pearson_rows(a, b), torch.tensor([1.0, -1.0], dtype=torch.float64))


def test_a_linear_net_has_perfectly_correlated_gradients() -> None:
    # The scalar output is the fc's input projected on a vector: for a net with no layer
    # before fc it is linear in x, so every point's gradient is the same vector.
    r = line_gradients(LinearNet(), images(1, size=8)[0], None, points=9, max_lag=3)
    assert r.finite and len(r.t) == 9 and len(r.correlation_by_lag) == 3
    assert r.neighbour_correlation == 1.0 or abs(r.neighbour_correlation - 1.0) < 1e-12
    assert len(set(round(v, 12) for v in r.pixel_trace)) == 1


def test_bn_statistics_come_from_the_given_batch() -> None:
    net = build_net(8, "plain", width=4, seed=0)
    x = images(32) * 3 + 2  # far from the placeholder statistics (mean 0, var 1)
    set_bn_statistics(net, x)
    net.eval()
    with torch.no_grad():
        r = net.bn1(net.conv1(x))  # eval mode: normalized with the stored statistics
    assert r.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (r.var(dim=(0, 2, 3)) - 1).abs().max() < 0.01


def test_the_line_leaves_the_model_alone() -> None:
    net = build_net(8, "residual", width=4, seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    line_gradients(net, images(1)[0], images(8), points=4)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.training  # the copy is put in eval mode, not the model


def test_deep_plain_gradients_shatter_and_residual_ones_do_not() -> None:
    # Balduzzi et al.: at depth 56 with BN, neighbouring input gradients of a plain net are
    # nearly uncorrelated; a residual net's stay correlated; shallow nets are smooth.
    x = images(16)
    corr = {}
    for block, depth in (("plain", 8), ("plain", 56), ("residual", 56)):
        net = build_net(depth, block, width=4, seed=0)
        corr[block, depth] = line_gradients(net, x[0], x, points=32).neighbour_correlation
    # measured: plain-8 0.87, plain-56 0.01, residual-56 0.52
    assert corr["plain", 56] < 0.2 < corr["residual", 56]
    assert corr["plain", 56] < corr["plain", 8]


def test_float64_layer_stats_agree_with_float32() -> None:
    net = build_net(14, "plain", width=4, seed=0)
    x, y = images(8), torch.arange(8) % 10
    s32, s64 = layer_stats(net, x, y), layer_stats(net, x, y, dtype=torch.float64)
    for a, b in zip(s32, s64, strict=True):
        assert abs(a.grad_norm - b.grad_norm) <= 1e-3 * b.grad_norm
        assert abs(a.response_std - b.response_std) <= 1e-4 * b.response_std
    assert next(net.parameters()).dtype == torch.float32  # the model itself is not converted


def test_probe_depth_command(tmp_path: Path) -> None:
    r = run_cli(
        [
            "probe",
            "depth",
            "--depths",
            "14,8",
            "--variants",
            "plain,residual Fixup",
            "--width",
            "2",
            "--batch",
            "4",
            "--points",
            "4",
            "--out",
            "pd",
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "pd"
    rows = list(csv.DictReader((folder / "depth.csv").open()))
    assert [(row["variant"], row["depth"]) for row in rows] == [
        ("plain", "8"),
        ("residual Fixup", "8"),
        ("plain", "14"),
        ("residual Fixup", "14"),
    ]
    # Fixup's zero classifier: no gradient reaches the layers at initialization, said as "-".
    assert (
        rows[1]["grad_norm_first_over_last"] == ""
        and float(rows[0]["grad_norm_first_over_last"]) > 0
    )
    assert "start as their shortcut path" in r.stdout
    layers = list(csv.DictReader((folder / "layers.csv").open()))
    assert len([x for x in layers if x["depth"] == "14" and x["variant"] == "plain"]) == 13
    doc = json.loads((folder / "depth.json").read_text())
    assert doc["settings"]["depths"] == [8, 14] and len(doc["lines"]) == 4
    for name in ("signals.png", "shattered.png"):
        assert (folder / name).stat().st_size > 10_000


def test_probe_depth_refuses_unknown_variants_and_depths(tmp_path: Path) -> None:
    r = run_cli(["probe", "depth", "--variants", "plane"], tmp_path)
    assert r.returncode == 2 and "unknown plane" in r.stderr and "'plain'" in r.stderr
    r = run_cli(["probe", "depth", "--depths", "21"], tmp_path)
    assert r.returncode == 2 and "6n+2" in r.stderr
    assert not (tmp_path / "outputs").exists()


def test_activation_elements_count_every_leaf_output() -> None:
    from resnet_exp.layerstats import activation_elements

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    assert activation_elements(net, (3, 8, 8)) == 256 + 256 + 256 + 10


def test_a_probe_too_big_for_memory_is_refused_with_a_batch_that_fits(monkeypatch) -> None:
    import pytest

    from resnet_exp import layerstats
    from resnet_exp.errors import UserError
    from resnet_exp.probe import cli

    net = build_net(20, "plain", width=4, seed=0)
    need = layerstats.probe_bytes(net, (3, 32, 32), 128, torch.float32)
    monkeypatch.setattr(layerstats, "available_bytes", lambda: need)  # 80% of it is the limit
    with pytest.raises(
        UserError, match=r"probe_batch=128 needs about .* GB .* use probe_batch=64 or less"
    ):
        cli.check_memory(net, (3, 32, 32), 128, torch.float32, "probe_batch")
    cli.check_memory(net, (3, 32, 32), 64, torch.float32, "probe_batch")  # half: fits
    monkeypatch.setattr(layerstats, "available_bytes", lambda: None)  # unknown: no guard
    cli.check_memory(net, (3, 32, 32), 10**6, torch.float32, "probe_batch")


def test_finite_flags_overflowed_statistics() -> None:
    from resnet_exp.layerstats import LayerStat, finite

    ok = LayerStat(0, 0, -1, "stem", 1.0, 2.0, 3.0)
    assert finite([ok]) and not finite([ok, LayerStat(1, 1, 0, "conv1", 1.0, float("inf"), 1.0)])


class DeadNet(LinearNet):
    """Its output does not depend on the input (as a net whose ReLUs all died)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(0 * x.flatten(1))


class HugeNet(LinearNet):
    """Gradients of 1e25: their products overflow float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(1e25 * torch.sin(x.flatten(1)))


def test_no_gradient_is_no_correlation_and_huge_gradients_do_not_overflow() -> None:
    x0 = images(1, size=8)[0]
    dead = line_gradients(DeadNet(), x0, None, points=6, dtype=torch.float32)
    assert dead.neighbour_correlation is None and dead.correlation_by_lag[0] is None
    huge = line_gradients(HugeNet(), x0, None, points=6, span=0.01, dtype=torch.float32)
    assert huge.finite and 0.99 < huge.neighbour_correlation <= 1.0 + 1e-9
