"""The paper's CIFAR nets: shapes, exact parameter counts, shortcut options, identity blocks."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_exp.errors import UserError
from resnet_exp.models import (
    INITIALIZERS,
    CifarNet,
    PlainBlock,
    ResidualBlock,
    build_net,
    check_depth,
    count_params,
)
from resnet_exp.models.shortcuts import ProjectionShortcut, ZeroPadShortcut, make_shortcut

# Exact counts for option-A / plain nets (BN affine and FC bias included), from
# shared/reference/cifar_resnet_facts.json; they match pycls (plain-56: 853,018) and the paper's
# Table 6 (0.27M, 0.46M, 0.66M, 0.85M, 1.7M). Inlined so the tests need nothing outside the repo.
PAPER_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
OPTION_B_EXTRA = 2752  # two 1x1 projections + BN: (16*32 + 64) + (32*64 + 128)


@pytest.mark.parametrize("depth", sorted(PAPER_PARAMS))
def test_parameter_counts_match_the_paper(depth: int) -> None:
    plain = count_params(CifarNet(depth, "plain"))
    res_a = count_params(CifarNet(depth, "residual", "A"))
    assert plain == res_a == PAPER_PARAMS[depth]  # option A adds no parameters
    assert count_params(CifarNet(depth, "residual", "B")) == PAPER_PARAMS[depth] + OPTION_B_EXTRA


def test_option_c_projects_every_block() -> None:
    net = CifarNet(20, "residual", "C")
    shortcuts = [m.shortcut for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(shortcuts) == 9 and all(isinstance(s, ProjectionShortcut) for s in shortcuts)
    # 9 projections: 7 square ones + the two that change shape
    extra = (
        3 * (16 * 16 + 32) + 16 * 32 + 64 + 2 * (32 * 32 + 64) + 32 * 64 + 128 + 2 * (64 * 64 + 128)
    )
    assert count_params(net) == PAPER_PARAMS[20] + extra


def test_depth_is_six_n_plus_two_layers() -> None:
    net = CifarNet(56, "plain")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(convs) + len(linears) == 56
    assert [c.out_channels for c in convs[:: len(convs) // 3][:3]] == [16, 16, 32]


@pytest.mark.parametrize("block", ["plain", "residual"])
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_forward_shapes(block: str, shortcut: str) -> None:
    net = CifarNet(8, block, shortcut, width=4, num_classes=7)
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 7)
    # stage resolutions 32, 16, 8 with 4, 8, 16 filters
    x = torch.relu(net.bn1(net.conv1(torch.randn(2, 3, 32, 32))))
    shapes = []
    for stage in net.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(4, 32, 32), (8, 16, 16), (16, 8, 8)]


@pytest.mark.parametrize("option", ["A", "B", "C"])
def test_shortcut_shapes_when_the_shape_changes(option: str) -> None:
    sc = make_shortcut(option, 16, 32, 2)
    assert sc(torch.randn(2, 16, 32, 32)).shape == (2, 32, 16, 16)
    same = make_shortcut(option, 16, 16, 1)
    assert same(torch.randn(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    assert isinstance(same, ProjectionShortcut) == (option == "C")


def test_option_a_is_subsampled_identity_with_zero_channels() -> None:
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, 2)(x)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0


def _zero_branch(block: torch.nn.Module) -> None:
    for conv in (block.conv1, block.conv2):
        torch.nn.init.zeros_(conv.weight)


@pytest.mark.parametrize("train_mode", [True, False])
def test_residual_block_with_zero_branch_is_identity(train_mode: bool) -> None:
    block = ResidualBlock(8, 8, 1, make_shortcut("A", 8, 8, 1))
    _zero_branch(block)
    block.train(train_mode)
    x = torch.rand(4, 8, 6, 6)  # non-negative, as after a ReLU
    assert torch.allclose(block(x), x)


def test_plain_block_with_zero_weights_is_not_identity() -> None:
    # The contrast the paper draws: a plain block cannot fall back to the identity.
    block = PlainBlock(8, 8).eval()
    _zero_branch(block)
    assert torch.count_nonzero(block(torch.rand(2, 8, 6, 6))) == 0


def test_deep_residual_net_of_zero_branches_passes_its_input_through() -> None:
    net = CifarNet(20, "residual", "A", width=4).eval()
    for m in net.modules():
        if isinstance(m, ResidualBlock):
            _zero_branch(m)
    stem = torch.relu(net.bn1(net.conv1(torch.randn(1, 3, 32, 32))))
    assert torch.allclose(net.stages[0](stem), stem)


@pytest.mark.parametrize("train_mode", [True, False])
def test_zero_residual_init_starts_every_residual_block_as_its_shortcut(train_mode: bool) -> None:
    net = build_net(20, "residual", width=4, seed=0, zero_residual=True).train(train_mode)
    blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 9
    for block in blocks:
        cin = block.conv1.in_channels
        x = torch.rand(3, cin, 8, 8)  # non-negative, as after a ReLU
        # Identity blocks pass x through; the two downsampling blocks give the option-A shortcut
        # in the channels it carries, and their own branch in the channels it zero-pads.
        y = block(x)
        assert torch.allclose(y[:, :cin], block.shortcut(x)[:, :cin])
        assert torch.count_nonzero(block.bn2.weight[:cin]) == 0
        if block.conv2.out_channels > cin:
            assert torch.equal(block.bn2.weight[cin:], torch.ones_like(block.bn2.weight[cin:]))
            assert torch.count_nonzero(y[:, cin:]) > 0
    # Only the branch's last BN starts at zero; the net still trains: the gradient reaches gamma.
    assert all(torch.equal(b.bn1.weight, torch.ones_like(b.bn1.weight)) for b in blocks)
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    assert any(torch.count_nonzero(b.bn2.weight.grad) > 0 for b in blocks)


def test_zero_residual_init_leaves_plain_nets_and_other_weights_alone() -> None:
    for block in ("plain", "residual"):
        a = build_net(20, block, width=4, seed=3).state_dict()
        b = build_net(20, block, width=4, seed=3, zero_residual=True).state_dict()
        changed = sorted(k for k in a if not torch.equal(a[k], b[k]))
        if block == "plain":
            assert changed == []
        else:  # exactly one gamma per residual block, and nothing else
            assert len(changed) == 9 and all(k.endswith("bn2.weight") for k in changed)


@pytest.mark.parametrize("depth", [0, 7, 19, 21, 57])
def test_bad_depth_names_the_valid_depths(depth: int) -> None:
    with pytest.raises(UserError, match=r"not 6n\+2.*20, 32, 44, 56, 110, 1202"):
        check_depth(depth)


def test_unknown_block_and_shortcut_are_user_errors() -> None:
    with pytest.raises(UserError, match="plain, residual"):
        CifarNet(8, "dense")
    with pytest.raises(UserError, match="A, B, C"):
        CifarNet(8, "residual", "D")


@pytest.mark.parametrize("scheme", sorted(INITIALIZERS))
def test_every_initializer_builds_a_working_net(scheme: str) -> None:
    norm = "none" if scheme == "fixup" else "batch"  # Fixup replaces normalization
    net = build_net(8, "residual", width=4, init=scheme, seed=0, norm=norm)
    assert torch.isfinite(net(torch.randn(2, 3, 32, 32))).all()


def test_kaiming_normal_has_he_variance_and_is_seeded() -> None:
    net = build_net(20, "plain", init="kaiming_normal", seed=0)
    w = net.stages[2][1].conv1.weight  # 64 in-channels x 3 x 3: fan_in 576
    assert abs(w.std().item() - (2 / 576) ** 0.5) < 0.003
    again = build_net(20, "plain", init="kaiming_normal", seed=0)
    assert torch.equal(w, again.stages[2][1].conv1.weight)
    assert torch.equal(net.bn1.weight, torch.ones(16)) and torch.count_nonzero(net.bn1.bias) == 0


def test_unknown_initializer_lists_the_choices() -> None:
    with pytest.raises(UserError, match="kaiming_normal"):
        build_net(8, "plain", init="lecun")


def _conv(scheme: str, seed: int = 0) -> torch.Tensor:
    """The widest 3x3 conv (64 -> 64, fan_in = fan_out = 576) of a plain-20 under `scheme`."""
    return build_net(20, "plain", init=scheme, seed=seed).stages[2][1].conv1.weight.detach()


def test_initializer_statistics_match_their_formulas() -> None:
    fan_in = fan_out = 64 * 9
    gain = math.sqrt(2.0)  # ReLU
    # kaiming normal: N(0, 2/fan_in); kaiming uniform: U(-b, b), b = gain * sqrt(3/fan_in).
    w = _conv("kaiming_normal")
    assert w.std().item() == pytest.approx(gain / math.sqrt(fan_in), rel=0.03)
    assert abs(w.mean().item()) < 0.003
    w = _conv("kaiming_uniform")
    bound = gain * math.sqrt(3.0 / fan_in)
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.99 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.03)
    # xavier normal (gain 1): N(0, 2 / (fan_in + fan_out)).
    w = _conv("xavier_normal")
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.03)


def test_orthogonal_rows_are_orthonormal_times_the_relu_gain() -> None:
    w = _conv("orthogonal").reshape(64, -1)  # 64 rows of 576: W W^T = gain^2 I
    assert torch.allclose(w @ w.T, 2.0 * torch.eye(64), atol=1e-4)
    fc = build_net(20, "plain", init="orthogonal", seed=0).fc.weight.detach()  # 10 x 64
    assert torch.allclose(fc @ fc.T, 2.0 * torch.eye(10), atol=1e-4)


def test_norm_none_drops_batchnorm_and_turns_conv_biases_on() -> None:
    bn = build_net(20, "residual", seed=0)
    none = build_net(20, "residual", norm="none", seed=0)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in none.modules())
    convs = [m for m in none.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.bias is not None and torch.count_nonzero(m.bias) == 0 for m in convs)
    bn_params = sum(
        p.numel()
        for m in bn.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
        for p in m.parameters()
    )
    conv_biases = sum(m.out_channels for m in convs)
    assert count_params(none) == count_params(bn) - bn_params + conv_biases
    assert torch.isfinite(none(torch.randn(2, 3, 32, 32))).all()


def test_leaky_relu_uses_its_own_he_gain() -> None:
    net = build_net(20, "plain", activation="leaky_relu", slope=0.2, seed=0)
    assert isinstance(net.stages[0][0].act, torch.nn.LeakyReLU)
    w = net.stages[2][1].conv1.weight.detach()  # fan_in 576
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / (1 + 0.2**2) / 576), rel=0.03)
    x = torch.full((1, 3, 32, 32), -1.0)  # negative inputs leak through, scaled by the slope
    assert torch.allclose(net.act(x), -0.2 * torch.ones_like(x))


def test_default_blocks_are_the_papers_and_keep_their_state_dict_keys() -> None:
    net = build_net(20, "residual", seed=0)
    assert isinstance(net.stages[0][0].act, torch.nn.ReLU)
    assert all(isinstance(m.bn1, torch.nn.BatchNorm2d) for m in net.stages[0])
    # Checkpoints written before norm/activation existed still load: same keys, same shapes.
    keys = set(net.state_dict())
    assert "stages.0.0.bn1.running_mean" in keys and not any(".act." in k for k in keys)


def test_zero_residual_needs_batchnorm() -> None:
    with pytest.raises(UserError, match="needs BatchNorm"):
        build_net(20, "residual", norm="none", zero_residual=True, seed=0)


# --- pre-activation blocks (He et al. 2016) ------------------------------------------------------


def preact_params(depth: int, width: int = 16, classes: int = 10, shortcut: str = "A") -> int:
    """Hand count: stem conv (no BN after it); per block BN(in) + conv(in->out) + BN(out) +
    conv(out->out); option B adds a bare 1x1 conv where the shape changes; a final BN; the FC."""
    n = (depth - 2) // 6
    widths = [width, 2 * width, 4 * width]
    total = 3 * 9 * width
    c = width
    for out in widths:
        for _ in range(n):
            total += 2 * c + 9 * c * out + 2 * out + 9 * out * out
            if shortcut == "B" and c != out:
                total += c * out  # 1x1 projection, no BN, no bias
            c = out
    return total + 2 * c + c * classes + classes


@pytest.mark.parametrize("depth", [8, 20, 56, 110])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_preact_parameter_counts_match_a_hand_count(depth: int, shortcut: str) -> None:
    net = CifarNet(depth, "preact", shortcut)
    assert count_params(net) == preact_params(depth, shortcut=shortcut)
    if shortcut == "A":
        # The same convs as the paper's ResNet. The BNs move: none after the stem (-2*16), a
        # final BN(64) (+2*64), and the first block of stages 2 and 3 normalizes its narrower
        # input (-2*16, -2*32): the totals come out equal.
        assert count_params(net) == count_params(CifarNet(depth, "residual"))


@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_preact_forward_shapes_and_training_step(shortcut: str) -> None:
    net = CifarNet(8, "preact", shortcut, width=4, num_classes=7)
    out = net(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("train_mode", [True, False])
def test_preact_block_with_zero_last_conv_is_its_shortcut(train_mode: bool) -> None:
    """Nothing follows the addition: with the branch's last conv at zero the block returns its
    input exactly (no ReLU after the sum, unlike the paper's residual block)."""
    from resnet_exp.models.blocks import PreActBlock

    block = PreActBlock(8, 8, 1, make_shortcut("A", 8, 8, 1, preact=True))
    torch.nn.init.zeros_(block.conv2.weight)
    block.train(train_mode)
    x = torch.randn(4, 8, 6, 6)  # any sign: no ReLU on the identity path
    assert torch.equal(block(x), x)
    down = PreActBlock(8, 16, 2, make_shortcut("A", 8, 16, 2, preact=True))
    torch.nn.init.zeros_(down.conv2.weight)
    assert torch.equal(down(x), make_shortcut("A", 8, 16, 2)(x))


def test_preact_projection_reads_the_preactivated_input_without_its_own_bn() -> None:
    sc = make_shortcut("B", 8, 16, 2, preact=True)
    assert isinstance(sc, ProjectionShortcut) and isinstance(sc.bn, torch.nn.Identity)
    assert isinstance(make_shortcut("B", 8, 16, 2).bn, torch.nn.BatchNorm2d)  # residual: kept


def test_zero_residual_starts_a_preact_net_as_its_shortcuts() -> None:
    net = build_net(20, "preact", width=4, zero_residual=True, seed=0)
    blocks = [b for stage in net.stages for b in stage]
    for b in blocks:  # zero rows for the channels the shortcut carries; padded ones keep theirs
        cin = b.conv1.in_channels
        assert torch.count_nonzero(b.conv2.weight[:cin]) == 0
        assert b.conv2.out_channels == cin or torch.count_nonzero(b.conv2.weight[cin:]) > 0
    assert all(torch.count_nonzero(b.conv1.weight) > 0 for b in blocks)


@pytest.mark.parametrize("block", ["residual", "preact"])
def test_zero_residual_keeps_the_zero_padded_channels_alive(block: str) -> None:
    """With option A, a stage's first block zero-pads the channels it adds. Zeroing their branch
    too (zero_residual_padded, what init.zero_residual did before) leaves them exactly zero, and
    their branch weights then never get a gradient: the channels stay dead for the whole run.
    By default those channels keep their branch, and the gradient reaches it."""

    def padded_branch_grads(padded: bool) -> list[torch.Tensor]:
        net = build_net(14, block, width=4, seed=0, zero_residual=True, zero_residual_padded=padded)
        x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
        torch.nn.functional.cross_entropy(net(x), y).backward()
        grads = []
        for stage in net.stages[1:]:  # every block of stages 2 and 3, in the padded channels
            cin = stage[0].conv1.in_channels
            for b in stage:
                last = b.bn2.weight if block == "residual" else b.conv2.weight
                grads.append(last.grad[cin:])
        return grads

    assert all(torch.count_nonzero(g) == 0 for g in padded_branch_grads(True))
    assert all(torch.count_nonzero(g) > 0 for g in padded_branch_grads(False))


# --- SkipInit (De and Smith 2020) -----------------------------------------------------------------


@pytest.mark.parametrize("block", ["residual", "preact"])
@pytest.mark.parametrize("norm", ["batch", "none"])
def test_skipinit_starts_every_block_as_its_shortcut(block: str, norm: str) -> None:
    """One scalar per residual branch, initialized to 0: at init each block returns its
    shortcut (after the ReLU for the paper's block), and the scalar learns."""
    from resnet_exp.models.blocks import PreActBlock

    net = build_net(14, block, width=4, norm=norm, skipinit=True, seed=0)
    blocks = [b for stage in net.stages for b in stage]
    assert all(b.skip_gain is not None and b.skip_gain.item() == 0.0 for b in blocks)
    assert count_params(net) == count_params(build_net(14, block, width=4, norm=norm)) + len(blocks)
    x = torch.randn(4, 4, 8, 8)
    for b in blocks[:2]:  # stage 1: identity shortcuts
        b.train()
        expected = x if isinstance(b, PreActBlock) else torch.relu(x)
        assert torch.equal(b(x), expected)
    out = net(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert all(b.skip_gain.grad is not None for b in blocks)


def test_skipinit_on_a_plain_net_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="a plain net has none"):
        build_net(8, "plain", skipinit=True)


# --- Fixup (Zhang, Dauphin, Ma 2019) --------------------------------------------------------------


@pytest.mark.parametrize("block", ["residual", "preact"])
def test_fixup_follows_the_papers_formulas(block: str) -> None:
    """Each branch's first conv is He-initialized and scaled by L^-1/2 (L residual branches,
    m = 2 layers each), its last conv and the classifier start at zero, the scalar biases at 0
    and the multipliers at 1; so at init the net's output is its bias, and each block returns
    its shortcut."""
    depth, seed = 20, 3
    net = build_net(depth, block, width=4, norm="none", init="fixup", seed=seed)
    he = build_net(depth, block, width=4, norm="none", init="kaiming_normal", seed=seed)
    blocks = [b for stage in net.stages for b in stage]
    L = len(blocks)
    assert L == 9
    for b in blocks:
        assert b.conv1.bias is None and b.conv2.bias is None  # scalar biases replace them
        assert torch.count_nonzero(b.conv2.weight) == 0
        f = b.fixup
        assert [f.bias1a.item(), f.bias1b.item(), f.bias2a.item(), f.bias2b.item()] == [0] * 4
        assert f.scale.item() == 1.0
    # Measured against He's variance: std(conv1) ~ sqrt(2 / fan_in) * L^-1/2.
    w = torch.cat([b.conv1.weight.flatten() for b in blocks[4:6]])  # stage 2, past its first block
    fan_in = blocks[4].conv1.weight[0].numel()
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in) / math.sqrt(L), rel=0.05)
    assert torch.count_nonzero(net.fc.weight) == 0 and torch.count_nonzero(net.fc.bias) == 0
    assert torch.equal(net(torch.randn(2, 3, 32, 32)), torch.zeros(2, 10))
    x = torch.randn(4, 4, 8, 8)
    expected = x if block == "preact" else torch.relu(x)
    assert torch.equal(blocks[0](x), expected)  # identity shortcut: the block is its shortcut
    del he


def test_fixup_trains_a_step_and_every_scalar_learns() -> None:
    net = build_net(14, "residual", width=4, norm="none", init="fixup", seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    assert torch.count_nonzero(net.fc.weight) > 0
    assert any(b.fixup.bias2b.item() != 0 for stage in net.stages for b in stage)


@pytest.mark.parametrize(
    "kwargs", [{"block": "plain", "norm": "none"}, {"block": "residual", "norm": "batch"}]
)
def test_fixup_needs_a_residual_net_without_normalization(kwargs: dict) -> None:
    with pytest.raises(UserError, match="init=fixup trains residual nets without normalization"):
        build_net(8, init="fixup", **kwargs)


@pytest.mark.parametrize("block", ["plain", "residual", "preact"])
def test_zero_classifier_starts_every_net_at_ln_classes(block: str) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    net = build_net(20, block, width=4, seed=0, zero_classifier=True)
    assert not net.fc.weight.any() and not net.fc.bias.any()
    # Nothing else changes: every other tensor is the paper's init from the same seed.
    paper = build_net(20, block, width=4, seed=0).state_dict()
    for k, v in net.state_dict().items():
        if not k.startswith("fc."):
            assert torch.equal(v, paper[k]), k
    loss = torch.nn.functional.cross_entropy(net(x), y)
    assert loss.item() == pytest.approx(math.log(10))
