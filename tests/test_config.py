"""Hydra configs: every group option composes, validation gives one-line errors, naming."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import REPO
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from resnet_exp.build import (
    identity_differences,
    identity_of_config,
    milestones_for,
    result_identity,
    spec_from_config,
)
from resnet_exp.cli import config_dir
from resnet_exp.errors import UserError
from resnet_exp.naming import name_suffix, register_resolvers
from resnet_exp.specs import RunSpec
from resnet_exp.train.schedule import lr_at

CONF = config_dir()
GROUPS = {
    g: sorted(p.stem for p in (CONF / g).glob("*.yaml"))
    for g in ("block", "shortcut", "init", "data", "optim", "experiment")
}


def compose_train(overrides: list[str], with_hydra: bool = False):
    """The train config; with_hydra=True adds Hydra's own part (launcher, sweeper params)."""
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=with_hydra)


# A laptop preset's deepest plain net and its shallowest residual net: the two a derived
# preset is compared on against the preset it derives from.
PLAIN_56_RESIDUAL_20 = (["block=plain", "depth=56"], ["block=residual", "depth=20"])


def preset_specs(
    preset: str, base: str, nets: tuple[list[str], ...] = PLAIN_56_RESIDUAL_20
) -> Iterator[tuple[list[str], RunSpec, RunSpec]]:
    """Each net's spec under `preset` and under `base`, with the net's overrides."""
    for net in nets:
        spec = spec_from_config(compose_train([f"experiment={preset}", *net]))
        yield net, spec, spec_from_config(compose_train([f"experiment={base}", *net]))


def assert_two_at_a_time(preset: str, params: list[tuple[str, str]]) -> None:
    """The preset's sweep: its own output folder, two runs at a time (one per core), and its
    sweep parameters in this order (deepest first, so the two workers finish together)."""
    cfg = compose_train([f"experiment={preset}"], with_hydra=True)
    assert cfg.sweep_name == preset and cfg.hydra.launcher.n_jobs == 2
    assert list(cfg.hydra.sweeper.params.items()) == params


def test_the_issue_lists_every_option() -> None:
    assert GROUPS["block"] == ["plain", "preact", "residual"]
    assert GROUPS["shortcut"] == ["A", "B", "C"]
    assert GROUPS["init"] == [
        "fixup",
        "kaiming_normal",
        "kaiming_uniform",
        "orthogonal",
        "torch_default",
        "xavier_normal",
    ]
    assert GROUPS["data"] == ["cifar10", "cifar100", "imagefolder", "synthetic"]
    assert set(GROUPS["experiment"]) >= {"degradation", "degradation_cpu", "paper_table6"}


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes_into_a_spec(group: str, option: str) -> None:
    extra = ["data.root=/some/images"] if option == "imagefolder" else []
    extra += ["norm=none"] if option == "fixup" else []  # Fixup replaces normalization
    cfg = compose_train([f"{group}={option}", *extra])
    spec = spec_from_config(cfg)
    if group in ("block", "shortcut", "init"):
        assert getattr(spec.model, group) == option
    if group == "data":
        assert spec.data.source == option


def test_defaults_are_the_paper_protocol() -> None:
    spec = spec_from_config(compose_train([]))
    assert (spec.loop.iterations, spec.loop.batch_size) == (64000, 128)
    o = spec.optim
    assert (o.lr, o.momentum, o.weight_decay, o.milestones, o.gamma) == (
        0.1,
        0.9,
        1e-4,
        (32000, 48000),
        0.1,
    )
    assert (
        spec.model.init == "kaiming_normal"
        and spec.model.width == 16
        and spec.model.shortcut == "A"
    )
    assert spec.data.augment and spec.data.source == "cifar10"
    assert not o.warmup  # the paper warms up ResNet-110 only


def test_milestones_scale_with_iterations_unless_set() -> None:
    assert milestones_for(3000, None) == (1500, 2250)
    assert spec_from_config(compose_train(["iterations=1000"])).optim.milestones == (500, 750)
    spec = spec_from_config(compose_train(["iterations=1000", "optim.milestones=[100,900]"]))
    assert spec.optim.milestones == (100, 900)
    # Issue 25.8: iterations=2 warned about a default drop at iteration 2 that nobody set; a
    # default drop that could never happen is left out instead.
    assert milestones_for(2, None) == (1,) and milestones_for(1, None) == ()


def test_resnet110_warms_up_by_default() -> None:
    assert spec_from_config(compose_train(["depth=110"])).optim.warmup
    assert not spec_from_config(compose_train(["depth=110", "optim.warmup=false"])).optim.warmup


def test_laptop_preset_scales_down() -> None:
    spec = spec_from_config(compose_train(["experiment=degradation_cpu"]))
    assert (spec.model.width, spec.loop.batch_size, spec.loop.iterations) == (8, 64, 3000)
    assert spec.optim.milestones == (1500, 2250)


def test_long_laptop_preset_is_the_laptop_preset_trained_four_times_longer() -> None:
    short = spec_from_config(compose_train(["experiment=degradation_cpu"]))
    long = spec_from_config(compose_train(["experiment=degradation_cpu_long"]))
    assert long.model == short.model and long.data == short.data
    assert long.loop.iterations == 4 * short.loop.iterations == 12000
    assert long.optim.milestones == (6000, 9000)  # still /10 at 50% and 75%
    # Its own sweep folder, so it never resumes (or is refused by) the short preset's runs.
    assert compose_train(["experiment=degradation_cpu_long"]).sweep_name == "degradation_cpu_long"


def test_quick_laptop_preset_composes_with_stable_run_names() -> None:
    spec = spec_from_config(compose_train(["experiment=degradation_laptop"]))
    assert (spec.model.width, spec.loop.batch_size, spec.loop.iterations) == (8, 64, 6000)
    assert spec.optim.lr == 0.05 and spec.optim.milestones == (3000, 4500)
    assert (spec.model.shortcut, spec.model.init, spec.model.zero_residual) == (
        "A",
        "kaiming_normal",
        False,
    )
    cfg = compose_train(["experiment=degradation_laptop"], with_hydra=True)
    assert cfg.sweep_name == "degradation_laptop"
    # Two runs at a time, the depth-56 pair first so both cores stay busy to the end.
    assert cfg.hydra.launcher.n_jobs == 2
    assert dict(cfg.hydra.sweeper.params) == {"depth": "56,20", "block": "plain,residual"}
    # Run names: what the committed runs under docs/results/degradation_laptop are called.
    job = ["depth=56", "block=plain", "experiment=degradation_laptop", "data=imagefolder"]
    job += ["data.root=/any/where", "progress=false", "seed=2"]
    assert name_suffix(job) == "_data=imagefolder"
    assert compose_train(["block=plain", "depth=56", "seed=2"]).name.startswith(
        "plain-56_A_kaiming_normal_s2"
    )


def test_laptop_long_preset_is_the_long_presets_ends_with_stable_run_names() -> None:
    from resnet_exp.build import result_identity

    # Each of its runs trains exactly as the same net of degradation_cpu_long: the committed
    # seeds of that preset count for this one (the report groups runs by this identity).
    for net in (["block=plain", "depth=20"], ["block=residual", "depth=56"]):
        ends = spec_from_config(compose_train(["experiment=degradation_laptop_long", *net]))
        long = spec_from_config(compose_train(["experiment=degradation_cpu_long", *net]))
        assert result_identity(ends) == result_identity(long)
    spec = spec_from_config(compose_train(["experiment=degradation_laptop_long"]))
    assert (spec.model.width, spec.loop.batch_size, spec.loop.iterations) == (8, 64, 12000)
    assert spec.optim.lr == 0.1 and spec.optim.milestones == (6000, 9000)
    cfg = compose_train(["experiment=degradation_laptop_long"], with_hydra=True)
    assert cfg.sweep_name == "degradation_laptop_long"
    assert cfg.hydra.launcher.n_jobs == 2
    # Only the two ends of Figure 6; the key order (block first) is inherited from
    # degradation_cpu_long and decides the order in which the runs start.
    params = [(k, v) for k, v in cfg.hydra.sweeper.params.items()]
    assert params == [("block", "plain,residual"), ("depth", "56,20")]
    job = ["experiment=degradation_laptop_long", "data=imagefolder", "data.root=/x", "seed=3"]
    assert name_suffix(["block=residual", "depth=20", *job]) == "_data=imagefolder"
    name = compose_train(["experiment=degradation_laptop_long", "block=residual", "depth=20"]).name
    assert name == "residual-20_A_kaiming_normal_s0"


def test_laptop_warmup_preset_is_the_laptop_preset_with_warm_up_and_stable_run_names() -> None:
    for _, warm, quick in preset_specs("degradation_laptop_warmup", "degradation_laptop"):
        assert warm.model == quick.model and warm.data == quick.data and warm.loop == quick.loop
        assert warm.optim.warmup and not quick.optim.warmup
        assert (warm.optim.warmup_lr, warm.optim.warmup_error) == (0.01, 0.8)
        assert replace(warm.optim, warmup=False) == quick.optim
        # A different result: the report must never pool these runs with degradation_laptop's.
        assert result_identity(warm) != result_identity(quick)
    assert_two_at_a_time(
        "degradation_laptop_warmup", [("depth", "56,20"), ("block", "plain,residual")]
    )
    job = ["experiment=degradation_laptop_warmup", "data=imagefolder", "data.root=/x", "seed=3"]
    assert name_suffix(["block=residual", "depth=56", *job]) == "_data=imagefolder"
    name = compose_train(["experiment=degradation_laptop_warmup", "block=plain", "depth=20"]).name
    assert name == "plain-20_A_kaiming_normal_s0"


def test_four_depth_laptop_preset_is_the_warm_up_preset_at_four_depths_evaluated_densely() -> None:
    for net in (["block=plain", "depth=56"], ["block=residual", "depth=20"]):
        four = ["experiment=degradation_laptop_fig6", "precision=fp32", *net]
        two = spec_from_config(compose_train(["experiment=degradation_laptop_warmup", *net]))
        # The same nets trained the same way: in fp32 the report pools them.
        assert result_identity(spec_from_config(compose_train(four))) == result_identity(two)
        # The two-depth presets pin fp32 (their committed results are fp32 runs).
        assert two.loop.precision == "fp32"
    spec = spec_from_config(compose_train(["experiment=degradation_laptop_fig6"]))
    assert (spec.model.width, spec.loop.batch_size, spec.loop.iterations) == (8, 64, 6000)
    assert spec.optim.warmup and spec.optim.lr == 0.05 and spec.optim.milestones == (3000, 4500)
    # At least 12 test evaluations per run (Figure 6's bold curves), intermediate ones on a
    # subset; precision and compile are left to the device (auto).
    assert spec.loop.iterations // spec.loop.eval_every >= 12 and spec.loop.eval_subset == 2500
    assert spec.loop.precision == "auto" and spec.loop.compile == "auto"
    assert_two_at_a_time(
        "degradation_laptop_fig6", [("depth", "56,44,32,20"), ("block", "plain,residual")]
    )
    job = ["experiment=degradation_laptop_fig6", "data=imagefolder", "data.root=/x", "seed=1"]
    assert name_suffix(["block=plain", "depth=32", *job]) == "_data=imagefolder"


def test_quick_preset_is_the_6000_step_one_at_depths_32_and_20_cut_after_the_first_drop() -> None:
    nets = (["block=plain", "depth=32"], ["block=residual", "depth=20"])
    for _, quick, flag in preset_specs("degradation_laptop_quick", "degradation_laptop_fig6", nets):
        assert quick.model == flag.model and quick.data == flag.data
        assert replace(quick.optim, milestones=flag.optim.milestones) == flag.optim
        assert (quick.loop.iterations, quick.optim.milestones) == (4500, (3000, 4000))
        # The 6000-step preset's lr (both share the warm-up) up to its second drop, which comes at
        # 4000 here instead of 4500: a seed's first 4000 steps train as that preset's do.
        for it in range(0, 4500, 50):
            a = lr_at(it, quick.optim.lr, quick.optim.milestones, quick.optim.gamma)
            b = lr_at(it, flag.optim.lr, flag.optim.milestones, flag.optim.gamma)
            assert (a == b) == (it < 4000), it
        assert lr_at(2999, quick.optim.lr, quick.optim.milestones) == 0.05
        assert quick.loop.iterations // quick.loop.eval_every == 12
        assert quick.loop.eval_subset == 2500 and quick.loop.precision == "auto"
        # A different result (fewer steps): never pooled with the 6000-step preset's runs.
        assert result_identity(quick) != result_identity(flag)
    assert_two_at_a_time(
        "degradation_laptop_quick", [("depth", "32,20"), ("block", "plain,residual")]
    )
    job = ["experiment=degradation_laptop_quick", "data=imagefolder", "data.root=/x", "seed=2"]
    assert name_suffix(["block=plain", "depth=32", *job]) == "_data=imagefolder"


def test_fast_preset_is_the_6000_step_one_at_half_the_steps_with_zero_started_branches() -> None:
    for net, fast, flag in preset_specs("degradation_laptop_fig6_fast", "degradation_laptop_fig6"):
        assert fast.data == flag.data
        # Half the steps, the lr drops at the same fractions (50% and 75%), warm-up kept.
        assert (fast.loop.iterations, fast.optim.milestones) == (3000, (1500, 2250))
        assert replace(fast.optim, milestones=flag.optim.milestones) == flag.optim
        assert fast.loop.iterations // fast.loop.eval_every == 12
        assert fast.loop.eval_subset == 2500 and fast.loop.precision == "auto"
        # The one change to the nets: residual branches start at zero, the padded channels'
        # excepted; a plain net has no branch to zero, so it is the 6000-step preset's.
        residual = net[0] == "block=residual"
        assert fast.model.zero_residual is residual and not fast.model.zero_residual_padded
        assert replace(fast.model, zero_residual=False) == flag.model
        assert result_identity(fast) != result_identity(flag)
    assert_two_at_a_time(
        "degradation_laptop_fig6_fast", [("depth", "56,44,32,20"), ("block", "plain,residual")]
    )


def test_short_preset_is_the_6000_step_one_at_3200_steps_with_a_lower_lr_and_late_drops() -> None:
    for _, short, flag in preset_specs("degradation_laptop_fig6_short", "degradation_laptop_fig6"):
        assert short.data == flag.data
        # The paper's init and nets, the 6000-step warm-up, momentum and weight decay: only
        # the schedule differs (lr 0.035, /10 at 75% and 90% of 3200 steps).
        assert short.model == flag.model and not short.model.zero_residual
        assert (short.loop.iterations, short.optim.lr) == (3200, 0.035)
        assert short.optim.milestones == (2400, 2880)
        assert replace(short.optim, lr=flag.optim.lr, milestones=flag.optim.milestones) == (
            flag.optim
        )
        assert short.loop.iterations // short.loop.eval_every >= 12
        assert short.loop.eval_subset == 2500 and short.loop.precision == "auto"
        assert result_identity(short) != result_identity(flag)
    assert_two_at_a_time(
        "degradation_laptop_fig6_short", [("depth", "56,44,32,20"), ("block", "plain,residual")]
    )


def make_recipe(target: str) -> list[str]:
    """The command lines of one Makefile target."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    return [
        line.strip()
        for line in itertools.takewhile(lambda line: line.startswith("\t"), lines[start + 1 :])
    ]


def test_make_sweep_cpu_report_and_bench_all_name_the_flagship_and_its_sweep_folder() -> None:
    # The flagship changed preset twice already (sessions 22 and 23): the sweep, the report that
    # reads its folder and the bench that predicts its time must move together, or `make report`
    # reads an old sweep and `make bench-sweep-cpu` times the wrong nets.
    flagship = "degradation_laptop_fig6_w4"
    train, report = make_recipe("sweep-cpu")
    assert f"train -m experiment={flagship} " in train
    folder = f"outputs/sweeps/{compose_train([f'experiment={flagship}']).sweep_name}"
    assert report.endswith(f"report {folder}")
    assert make_recipe("report")[0].endswith(f"report $(or $(SWEEP),{folder})")
    assert make_recipe("bench-sweep-cpu")[0].endswith(f"bench --experiment {flagship}")
    # The presets it replaced stay one command away.
    assert "train -m experiment=degradation_laptop_fig6_4k " in make_recipe("sweep-cpu-w8")[0]
    assert "train -m experiment=degradation_laptop_fig6 " in make_recipe("sweep-cpu-6k")[0]


def test_width_4_preset_is_the_4k_preset_at_width_4() -> None:
    for _, w4, k4 in preset_specs("degradation_laptop_fig6_w4", "degradation_laptop_fig6_4k"):
        # The one change: 4/8/16 filters instead of 8/16/32.
        assert (w4.model.width, k4.model.width) == (4, 8)
        assert replace(w4.model, width=8) == k4.model
        assert (w4.optim, w4.loop, w4.data) == (k4.optim, k4.loop, k4.data)
    assert_two_at_a_time(
        "degradation_laptop_fig6_w4", [("depth", "56,44,32,20"), ("block", "plain,residual")]
    )


def test_4k_preset_is_the_short_preset_at_4000_steps_with_drops_at_the_same_fractions() -> None:
    for _, k4, short in preset_specs("degradation_laptop_fig6_4k", "degradation_laptop_fig6_short"):
        # Only the length changes: the drops stay at 75% and 90% of the run.
        assert k4.loop.iterations == 4000 and k4.optim.milestones == (3000, 3600)
        assert replace(k4.optim, milestones=short.optim.milestones) == short.optim
        assert replace(k4.loop, iterations=short.loop.iterations) == short.loop
        assert k4.model == short.model and k4.data == short.data
        assert k4.loop.iterations // k4.loop.eval_every >= 12
    assert_two_at_a_time(
        "degradation_laptop_fig6_4k", [("depth", "56,44,32,20"), ("block", "plain,residual")]
    )


def test_deep_preset_runs_plain_residual_and_preact_at_110_and_1202_with_a_constant_lr() -> None:
    assert_two_at_a_time("deep_laptop", [("depth", "1202,110"), ("block", "plain,residual,preact")])
    spec = spec_from_config(compose_train(["experiment=deep_laptop", "depth=1202", "block=preact"]))
    assert (spec.model.width, spec.loop.batch_size, spec.loop.iterations) == (8, 32, 320)
    # No warm-up (auto would switch it on from depth 110) and no lr drops: lr 0.05 throughout.
    assert spec.optim.warmup is False and spec.optim.milestones == () and spec.optim.lr == 0.05
    assert spec.data.test_subset == 1000 and spec.loop.eval_every > spec.loop.iterations
    # Residual branches start at zero (the padded channels' excepted); a plain net has none.
    assert spec.model.zero_residual and not spec.model.zero_residual_padded
    assert spec.model.init == "kaiming_normal" and not spec.model.zero_classifier
    plain = spec_from_config(compose_train(["experiment=deep_laptop", "block=plain"]))
    assert plain.model.zero_residual is False
    job = ["experiment=deep_laptop", "data=imagefolder", "data.root=/x", "seed=1"]
    assert name_suffix(["block=plain", "depth=1202", *job]) == "_data=imagefolder"


@pytest.mark.parametrize(
    "override,message",
    [
        ("depth=57", r"not 6n\+2"),
        ("iterations=0", "iterations=0 must be a positive integer"),
        ("iterations=-5", "iterations=-5"),
        ("batch_size=0", "batch_size=0"),
        ("optim.lr=0", "optim.lr=0"),
        ("optim.lr=-0.1", "optim.lr=-0.1"),
        ("width=0", "width=0"),
        ("precision=fp16", "precision=fp16 must be one of auto, fp32, bf16"),
        ("compile=fast", "compile=fast must be auto, false, true or one of"),
        ("eval_subset=0", "eval_subset=0 must be a positive integer"),
        ("data=imagefolder", "needs data.root=PATH"),
        ("data.val_size=-1", "val_size"),
        ("optim.milestones=[10,5]", r"\[10, 5\] must be strictly increasing"),
        ("optim.milestones=[5,5]", "must be strictly increasing"),
        ("optim.milestones=[0,5]", "entry 0=0 must be a positive integer"),
        ("optim.milestones=[-3]", "must be a positive integer"),
        ("norm=layer", "norm=layer must be one of batch, none"),
        ("activation=tanh", "activation=tanh must be one of relu, leaky_relu"),
    ],
)
def test_bad_values_are_one_line_user_errors(override: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        spec_from_config(compose_train([override]))
    assert "\n" not in str(info.value)


def test_unknown_keys_are_refused_by_hydra() -> None:
    with pytest.raises(Exception, match="depht"):
        compose_train(["depht=20"])


def test_name_says_what_ran() -> None:
    cfg = compose_train(["block=plain", "depth=56"])
    assert cfg.name == "plain-56_A_kaiming_normal_s0"
    overrides = [
        "width=8",
        "block=plain",
        "device=cuda",
        "data.root=/x/y",
        "optim.lr=0.05",
        "data=cifar100",
    ]
    assert name_suffix(overrides) == "_data=cifar100_optim.lr=0.05_width=8"
    assert name_suffix(["iterations=10"], tag="try2") == "_iterations=10_try2"
    # A preset is named in a single run (its sweep folder names it in a sweep).
    assert (
        name_suffix(["experiment=degradation_cpu"], single_run=True)
        == "_experiment=degradation_cpu"
    )
    assert name_suffix(["experiment=degradation_cpu"]) == ""


def identity(*overrides: str) -> dict:
    return result_identity(spec_from_config(compose_train(list(overrides))))


def test_identity_ignores_where_and_how_often() -> None:
    assert identity("device=cpu", "log_every=10") == identity(
        "device=auto", "log_every=50", "data.root=/elsewhere"
    )
    assert identity() != identity("depth=32")


def test_identity_compares_resolved_values_not_spellings() -> None:
    assert identity("optim.milestones=[32000,48000]") == identity()
    assert identity("depth=110", "optim.warmup=true") == identity("depth=110")


def test_identity_names_the_source_not_the_image_folder_path() -> None:
    # An image folder's location is not part of the config identity: its content is, checked
    # when the data is read (runner.check_same_data), so a moved folder is the same data.
    a = identity("data=imagefolder", "data.root=/data/a")
    b = identity("data=imagefolder", "data.root=/data/b")
    assert identity_differences(a, b) == []
    assert identity_differences(a, identity("data=cifar10")) == ["data: imagefolder -> cifar10"]


def test_zero_residual_is_off_by_default_and_applies_to_residual_nets_only() -> None:
    assert spec_from_config(compose_train([])).model.zero_residual is False
    on = ["init.zero_residual=true"]
    assert spec_from_config(compose_train(on)).model.zero_residual is True
    # Another initializer keeps the flag (it sits beside init.name, not in one option's file).
    assert spec_from_config(compose_train(["init=orthogonal", *on])).model.zero_residual is True
    # A plain net has no residual branch: the flag changes nothing, so neither does its identity.
    assert spec_from_config(compose_train(["block=plain", *on])).model.zero_residual is False
    assert identity("block=plain", *on) == identity("block=plain")
    assert identity_differences(identity(), identity(*on)) == ["model.zero_residual: False -> True"]
    assert name_suffix(on) == "_init.zero_residual=true"


def test_zero_classifier_is_off_by_default_and_part_of_the_identity() -> None:
    assert spec_from_config(compose_train([])).model.zero_classifier is False
    on = ["init.zero_classifier=true"]
    assert spec_from_config(compose_train(["block=plain", *on])).model.zero_classifier is True
    assert identity_differences(identity(), identity(*on)) == [
        "model.zero_classifier: False -> True"
    ]
    assert name_suffix(on) == "_init.zero_classifier=true"
    cfg = OmegaConf.to_container(compose_train([]), resolve=True)
    del cfg["init"]["zero_classifier"]  # recorded before the key existed: ran without it
    assert identity_of_config(cfg) == identity()
    with pytest.raises(UserError, match="init.zero_classifier=maybe must be true or false"):
        spec_from_config(compose_train(["init.zero_classifier=maybe"]))


def test_zero_residual_padded_is_recorded_only_where_it_changes_the_net() -> None:
    on = ["init.zero_residual=true"]
    assert spec_from_config(compose_train(on)).model.zero_residual_padded is False
    old = [*on, "init.zero_residual_padded=true"]
    assert spec_from_config(compose_train(old)).model.zero_residual_padded is True
    assert identity_differences(identity(*on), identity(*old)) == [
        "model.zero_residual_padded: False -> True"
    ]
    # No zero-padding shortcut, no zero-started branch, or no branch at all: nothing to zero.
    for other in (["shortcut=B"], ["shortcut=C"], ["block=plain"]):
        assert identity(*old, *other) == identity(*on, *other)
    assert identity("init.zero_residual_padded=true") == identity()
    # Recorded before the key existed: init.zero_residual zeroed the padded channels too.
    cfg = OmegaConf.to_container(compose_train(on), resolve=True)
    del cfg["init"]["zero_residual_padded"]
    assert identity_of_config(cfg) == identity(*old)
    with pytest.raises(UserError, match="init.zero_residual_padded=maybe must be true or false"):
        spec_from_config(compose_train(["init.zero_residual_padded=maybe"]))


def test_configs_recorded_before_zero_residual_existed_still_read() -> None:
    cfg = OmegaConf.to_container(compose_train(["block=residual"]), resolve=True)
    del cfg["init"]["zero_residual"]
    assert identity_of_config(cfg) == identity()


@pytest.mark.parametrize(
    "override,message",
    [
        ("init.zero_residual=maybe", "init.zero_residual=maybe must be true or false"),
        ("seed=abc", "seed=abc must be an integer >= 0"),
        ("optim.momentum=abc", "optim.momentum=abc must be a number"),
        ("optim.momentum=1.5", "optim.momentum=1.5 must be a number >= 0 and < 1"),
        ("data.val_size=abc", "data.val_size=abc"),
        ("optim.milestones=5", "must be a list of iterations"),
        ("optim.warmup=maybe", "optim.warmup=maybe must be true or false"),
        ("data.augment=sometimes", "data.augment=sometimes must be true or false"),
    ],
)
def test_wrongly_typed_values_are_user_errors(override: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        spec_from_config(compose_train([override]))


def test_configs_ship_inside_the_package_tree() -> None:
    # The wheel maps conf/ to resnet_exp/conf (pyproject force-include); a checkout uses conf/.
    assert (CONF / "train.yaml").is_file()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"conf" = "resnet_exp/conf"' in pyproject


def test_norm_and_activation_defaults_keep_old_names_and_identities() -> None:
    assert compose_train(["block=plain", "depth=56"]).name == "plain-56_A_kaiming_normal_s0"
    spec = spec_from_config(compose_train([]))
    assert (spec.model.norm, spec.model.activation, spec.model.leaky_slope) == (
        "batch",
        "relu",
        0.0,
    )
    # A config recorded before the keys existed is the same run as today's default.
    old = OmegaConf.to_container(compose_train([]), resolve=True)
    for key in ("norm", "activation", "leaky_slope"):
        del old[key]
    assert identity_of_config(old) == result_identity(spec)
    assert name_suffix(["norm=none", "activation=leaky_relu"]) == "_activation=leaky_relu_norm=none"
    leaky = spec_from_config(compose_train(["activation=leaky_relu", "leaky_slope=0.2"]))
    assert leaky.model.leaky_slope == 0.2
    with pytest.raises(UserError, match="needs BatchNorm"):
        spec_from_config(compose_train(["norm=none", "init.zero_residual=true"]))


def test_skipinit_and_zero_residual_reach_the_preact_net() -> None:
    spec = spec_from_config(compose_train(["block=preact", "init.zero_residual=true"]))
    assert spec.model.zero_residual  # it used to be recorded as false for anything but residual
    spec = spec_from_config(compose_train(["block=preact", "norm=none", "init.skipinit=true"]))
    assert spec.model.skipinit and spec.model.norm == "none"
    with pytest.raises(UserError, match="a plain net has none"):
        spec_from_config(compose_train(["block=plain", "init.skipinit=true"]))
