"""Signal statistics (Figure 7 and gradients), the deep linear demo, and `resnet-exp probe`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import read_jsonl

from resnet_exp.models import build_net
from resnet_exp.probe.signals import layer_stats, stage_summary


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
    assert (
        b"signal/stage1_grad_norm"
        in next((tmp_path / "on").glob("events.out.tfevents.*")).read_bytes()
    )
    assert json.loads((tmp_path / "on" / "summary.json").read_text())["status"] == "completed"
