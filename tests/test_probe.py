"""Signal statistics (Figure 7 and gradients), the deep linear demo, and `resnet-exp probe`."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import TINY, only_run_dir, read_jsonl, run_cli

from resnet_exp.layerstats import layer_stats, layer_stats_and_dead_features, stage_summary
from resnet_exp.models import build_net


def batch(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_layer_stats_match_a_hand_computation(norm: str) -> None:
    net = build_net(8, "plain", width=4, norm=norm, seed=0)
    x, y = batch()
    stats = layer_stats(net, x, y)

    # The same forward pass written out by hand, on another copy in training mode.
    m = copy.deepcopy(net).train()
    responses, convs = [], []
    r = m.bn1(m.conv1(x))
    responses.append(r)
    convs.append(m.conv1)
    h = torch.relu(r)
    for stage in m.stages:
        for blk in stage:
            r1 = blk.bn1(blk.conv1(h))
            r2 = blk.bn2(blk.conv2(torch.relu(r1)))
            h = torch.relu(r2)
            responses += [r1, r2]
            convs += [blk.conv1, blk.conv2]
    loss = F.cross_entropy(m.fc(torch.flatten(m.pool(h), 1)), y)
    grads = torch.autograd.grad(loss, responses + [c.weight for c in convs])
    n = len(responses)
    assert len(stats) == n == 7  # depth 8: the stem and two convs in each of 3 blocks
    assert [s.stage for s in stats] == [0, 1, 1, 2, 2, 3, 3]
    for s, r, g, gw in zip(stats, responses, grads[:n], grads[n:], strict=True):
        assert s.response_std == pytest.approx(r.detach().double().std().item(), rel=1e-5)
        assert s.grad_norm == pytest.approx(g.double().norm().item(), rel=1e-4)
        assert s.weight_grad_norm == pytest.approx(gw.double().norm().item(), rel=1e-4)
    summary = stage_summary(stats)
    assert summary["stage1_response_std"] == pytest.approx(
        (stats[1].response_std + stats[2].response_std) / 2
    )
    assert summary["stage3_grad_norm"] == pytest.approx(
        (stats[5].grad_norm ** 2 + stats[6].grad_norm ** 2) ** 0.5
    )


def test_probing_changes_nothing_in_the_model() -> None:
    net = build_net(20, "residual", width=4, seed=0)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    stats = layer_stats(net, *batch())
    assert len(stats) == 19  # 6n+1 conv layers for depth 6n+2
    assert not net.training  # its mode is left alone
    for k, v in net.state_dict().items():  # weights and BN running statistics
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in net.parameters())


def test_dead_features_count_all_zero_maps_at_the_classifier() -> None:
    net = build_net(20, "residual", width=4, seed=0)
    x, y = batch(8)

    def dead() -> float:
        stats, fraction = layer_stats_and_dead_features(net, x, y)
        assert stats == layer_stats(net, x, y)  # the same pass as layer_stats
        return fraction

    # By hand, on a copy in training mode: the last block's output is what the pool averages.
    m = copy.deepcopy(net).train()
    feats = m.stages(m.act(m.bn1(m.conv1(x))))
    expected = (feats.flatten(2) == 0).all(2).double().mean().item()
    assert dead() == pytest.approx(expected)
    assert dead() < 0.5  # a fresh net: few dead maps
    # Kill every channel but one of the last ReLU: its BN shift far below anything the sum holds.
    last = net.stages[-1][-1]
    with torch.no_grad():
        last.bn2.bias[1:] = -1e4
    assert dead() == pytest.approx(15 / 16)  # stage 3: 4 x width channels
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    dead()
    assert not net.training
    for k, v in net.state_dict().items():  # BN running statistics included
        assert torch.equal(v, before[k]), k


def test_signal_records_leave_training_unchanged(tmp_path: Path) -> None:
    from test_train import tiny_spec

    from resnet_exp.train import runner

    runner.run(tiny_spec("signals=true"), tmp_path / "on")
    runner.run(tiny_spec("signals=false"), tmp_path / "off")
    on, off = (
        read_jsonl(tmp_path / "on" / "metrics.jsonl"),
        read_jsonl(tmp_path / "off" / "metrics.jsonl"),
    )

    def same(records: list[dict]) -> list[tuple]:
        return [
            (r["kind"], r["step"], r.get("train_loss"), r.get("train_error"), r.get("test_loss"))
            for r in records
            if r["kind"] in ("train", "eval")
        ]

    assert same(on) == same(off)  # bit for bit: the statistics are taken on a copy
    signals = [r for r in on if r["kind"] == "signal"]
    assert [r["step"] for r in signals] == [6, 12]  # every evaluation (eval_every=6 in TINY)
    assert not [r for r in off if r["kind"] == "signal"]
    for r in signals:
        for s in (1, 2, 3):
            assert r[f"stage{s}_response_std"] > 0 and r[f"stage{s}_grad_norm"] > 0
        assert 0 <= r["dead_features"] < 1
    events = next((tmp_path / "on").glob("events.out.tfevents.*")).read_bytes()
    assert b"signal/stage1_grad_norm" in events and b"signal/dead_features" in events
    assert json.loads((tmp_path / "on" / "summary.json").read_text())["status"] == "completed"


# --- the deep linear demonstration -------------------------------------------------------------


def test_linear_demo_numbers() -> None:
    from resnet_exp.probe.linear import alpha_chains, relu_chains, residual_vs_plain

    chains = {(c.label, c.kind): c.values for c in alpha_chains()}
    for kind in ("forward", "backward"):
        assert f"{chains[('W = 0.5 I', kind)][-1]:.3g}" == "8.88e-16"
        assert f"{chains[('W = 1.5 I', kind)][-1]:.3g}" == "6.38e+08"
        assert chains[("W = 1 I", kind)][-1] == pytest.approx(1.0)
        assert chains[("W = 0.5 I", kind)][9] == pytest.approx(0.5**10)
    plain, res = residual_vs_plain()
    assert plain.values[-1] < 1e-30  # the same small W vanishes in the plain form...
    assert 0.5 < min(res.values) and max(res.values) < 2.0  # ...and stays near 1 as x + W x
    he, small, large = relu_chains()
    assert 0.1 < he.values[-1] < 10
    assert small.values[-1] < 1e-5 and large.values[-1] > 1e5


def test_probe_linear_command(tmp_path: Path) -> None:
    r = run_cli(["probe", "linear", "--out", "lin"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "0.5^50 = 8.88e-16 and 1.5^50 = 6.38e+08" in r.stdout
    assert (tmp_path / "lin" / "linear.png").stat().st_size > 1000
    assert json.loads((tmp_path / "lin" / "linear.json").read_text())["alpha"][0]["label"]


# --- the probe command -------------------------------------------------------------------------

PROBE = ["data=synthetic", "width=4", "probe_batch=16", "device=cpu"]


def test_probe_multirun_writes_each_probe_and_one_combined_figure(tmp_path: Path) -> None:
    r = run_cli(["probe", "-m", "depth=8,14", "block=plain,residual", *PROBE], tmp_path)
    assert r.returncode == 0, r.stderr
    sweep = tmp_path / "outputs" / "probes" / "sweep"  # not probes/probes (issue 25.6)
    runs = sorted(p.parent for p in sweep.glob("*/probe.csv"))
    assert len(runs) == 4
    with (sweep / "plain-14_A_kaiming_normal_s0_data=synthetic_width=4" / "probe.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 13 and rows[0]["conv"] == "stem"  # depth 14: 6n+1 = 13 conv layers
    doc = json.loads(
        (sweep / "residual-8_A_kaiming_normal_s0_data=synthetic_width=4" / "probe.json").read_text()
    )
    assert doc["subject"] == "initialization" and len(doc["layers"]) == 7
    assert (sweep / "probes.png").stat().st_size > 1000
    assert "last / first" in r.stdout


def test_probe_from_a_run_reads_it_and_changes_nothing(tmp_path: Path) -> None:
    r = run_cli(["train", *TINY, "depth=8", "out_root=runs"], tmp_path)
    assert r.returncode == 0, r.stderr
    run = only_run_dir(tmp_path / "runs")
    assert "=" in run.name  # e.g. ..._batch_size=16_...: quoted for Hydra by the probe command
    files = ("checkpoint.pt", "summary.json", "metrics.jsonl")
    before = {f: hashlib.sha256((run / f).read_bytes()).hexdigest() for f in files}
    r = run_cli(["probe", f"from={run}", "probe_batch=16"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "outputs" / "probes" / f"from_{run.name}"
    doc = json.loads((out / "probe.json").read_text())
    assert doc["subject"] == f"{run} at iteration 12"
    assert doc["net"]["depth"] == 8 and doc["net"]["width"] == 4  # the run's config, not defaults
    assert doc["batch"]["dtype"] == "float32"  # float64 only where float32 overflows
    init = run_cli(
        ["probe", "device=cpu", "data=synthetic", "depth=8", "width=4", "probe_batch=16"], tmp_path
    )
    assert init.returncode == 0, init.stderr
    fresh = json.loads(
        next((tmp_path / "outputs" / "probes").glob("residual-8_*/probe.json")).read_text()
    )
    assert fresh["subject"] == "initialization"
    assert fresh["layers"] != doc["layers"]  # the trained weights were used
    after = {f: hashlib.sha256((run / f).read_bytes()).hexdigest() for f in files}
    assert after == before


def test_from_paths_are_quoted_for_hydra() -> None:
    from resnet_exp.overrides import quote_paths
    from resnet_exp.probe.cli import PROBE_PATH_KEYS

    def quote_from(arg: str) -> str:
        return quote_paths(arg, PROBE_PATH_KEYS)

    assert quote_from("from=a/x_data=y") == "from='a/x_data=y'"
    assert quote_from("from=a=1,b=2") == "from='a=1','b=2'"
    assert quote_from("from='already'") == "from='already'"
    assert quote_from("depth=20") == "depth=20"


@pytest.mark.parametrize(
    "args,text",
    [
        (["from=nowhere/run"], "no run there"),
        (["depth=57"], "6n+2"),
        (["norm=layer"], "norm=layer must be one of batch, none"),
    ],
)
def test_probe_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], text: str) -> None:
    r = run_cli(["probe", *PROBE, *args], tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert text in r.stderr and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert not list((tmp_path / "outputs").rglob("probe.csv"))


def _rows(values: list[float]) -> list[dict]:
    return [
        {"index": i, "response_std": v, "grad_norm": 10.0**-i, "weight_grad_norm": 1.0 + i}
        for i, v in enumerate(values)
    ]


def test_probe_figure_axes_read_as_the_data_is() -> None:
    """Issue 25.6: a 0.014% spread of response std (BN holds it at 1) was autoscaled on a log
    axis into a cliff with ticks like 9.9998 x 10^-1, and layer indices got ticks like 2.5."""
    from resnet_exp.probe.figures import per_layer

    flat = _rows([0.99986, 0.99999, 1.0, 0.99998, 0.99997, 0.99999])
    fig = per_layer({"plain-20": flat})
    fig.canvas.draw()
    std_ax, grad_ax, weight_ax = fig.axes[:3]
    assert std_ax.get_yscale() == "linear" and std_ax.get_ylim()[0] == 0  # flat at 1, from 0
    assert grad_ax.get_yscale() == "log"  # 1 to 1e-5: orders of magnitude
    assert weight_ax.get_yscale() == "linear"  # 1 to 6: less than a factor of 10
    for ax in fig.axes[:3]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_combined_probe_figure_names_nets_not_folders(tmp_path: Path) -> None:
    """The combined figure's title and legend speak of nets (plain-20, norm=none), never of the
    folder; hue says the block and shade the depth, as in the report's figures."""
    from matplotlib.colors import to_rgb

    from resnet_exp.probe import combine

    drawn = {}

    def keep(fig, path):  # capture the figure instead of only writing it
        drawn["fig"] = fig
        return path

    sweep = tmp_path / "outputs" / "probes" / "sweep"
    for block, depth, norm in (
        ("plain", 20, "batch"),
        ("plain", 56, "batch"),
        ("residual", 56, "none"),
    ):
        d = sweep / f"{block}-{depth}_A_kaiming_normal_s0_norm={norm}"
        d.mkdir(parents=True)
        rows = _rows([1.0] * 5)
        (d / "probe.csv").write_text(
            "index,response_std,grad_norm,weight_grad_norm\n"
            + "".join(
                f"{r['index']},{r['response_std']},{r['grad_norm']},{r['weight_grad_norm']}\n"
                for r in rows
            )
        )
        net = {"block": block, "depth": depth, "norm": norm, "init": "kaiming_normal"}
        (d / "probe.json").write_text(json.dumps({"net": net, "subject": "initialization"}))
    import resnet_exp.probe.figures as figures

    original = figures.save
    figures.save = keep
    try:
        combine.combine(sweep)
    finally:
        figures.save = original
    fig = drawn["fig"]
    title = fig._suptitle.get_text()
    assert str(sweep) not in title and "probes" not in title and "3 nets" in title
    assert "init=kaiming_normal" in title  # shared settings are said once
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert set(lines) == {"plain-20 norm=batch", "plain-56 norm=batch", "residual-56 norm=none"}
    r, g, b = to_rgb(lines["plain-56 norm=batch"].get_color())
    assert r > b  # plain: red
    r, g, b = to_rgb(lines["residual-56 norm=none"].get_color())
    assert b > r  # residual: blue
    # the deeper plain net is the darker red
    assert sum(to_rgb(lines["plain-56 norm=batch"].get_color())) < sum(
        to_rgb(lines["plain-20 norm=batch"].get_color())
    )


def test_one_net_in_several_variants_gets_a_colour_per_variant(tmp_path: Path) -> None:
    """plain-56 under three initializers: the block's hue alone would draw them all alike."""
    from matplotlib.colors import to_hex

    import resnet_exp.probe.figures as figures
    from resnet_exp.probe import combine

    sweep = tmp_path / "sweep"
    for init in ("kaiming_normal", "orthogonal", "xavier_normal"):
        d = sweep / f"plain-56_{init}"
        d.mkdir(parents=True)
        (d / "probe.csv").write_text(
            "index,response_std,grad_norm,weight_grad_norm\n0,1,1,1\n1,1,0.5,1\n"
        )
        net = {"block": "plain", "depth": 56, "init": init}
        (d / "probe.json").write_text(
            json.dumps({"net": net, "subject": f"outputs/sweeps/x/{d.name} at iteration 6000"})
        )
    drawn = {}
    original = figures.save
    figures.save = lambda fig, path: drawn.setdefault("fig", fig)
    try:
        combine.combine(sweep)
    finally:
        figures.save = original
    fig = drawn["fig"]
    colours = {to_hex(ln.get_color()) for ln in fig.axes[0].get_lines()}
    assert len(colours) == 3
    assert fig._suptitle.get_text().startswith(
        "Signals per layer (trained, iteration 6000): 3 nets"
    )


def test_probe_of_a_preact_net_takes_every_conv_output() -> None:
    """Pre-activation blocks normalize a conv's input: the response is each conv's output."""
    from resnet_exp.layerstats import layer_stats
    from resnet_exp.models import build_net

    net = build_net(14, "preact", width=4, seed=0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    stats = layer_stats(net, x, y)
    assert len(stats) == 13 and [s.conv for s in stats[:3]] == ["stem", "conv1", "conv2"]
    assert all(s.response_std > 0 and s.grad_norm > 0 for s in stats)
