"""The verdict cannot overclaim: noise-aware conclusions, nothing dropped silently, like with like,
a steadier final training error, and verdict.json. Numbers are checked against hand computations."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import make_run

from resnet_exp.report.cli import main
from resnet_exp.report.collect import (
    final_window_error,
    find_run_dirs,
    group_cells,
    load_runs,
    run_setting,
    split_by_setting,
)
from resnet_exp.report.stats import HOLDS, INCONCLUSIVE, OPPOSITE, welch
from resnet_exp.report.verdict import judge


def sweep_of(root: Path, errors: dict[tuple[str, int], list[float]], **extra) -> Path:
    """One run per seed: errors[(block, depth)] = [seed 0's error, seed 1's, ...]."""
    for (block, depth), values in errors.items():
        for seed, err in enumerate(values):
            make_run(root, block, depth, seed, err, **extra)
    return root


def verdict_of(root: Path):
    runs, problems = load_runs(find_run_dirs(root))
    return judge(group_cells(runs), problems)


CLEAR = {
    ("plain", 20): [0.40, 0.41, 0.42],
    ("plain", 56): [0.60, 0.61, 0.62],
    ("residual", 20): [0.30, 0.31, 0.32],
    ("residual", 56): [0.25, 0.26, 0.27],
}


# --- the test itself, against hand computation -------------------------------------------------


def test_welch_interval_matches_hand_computation() -> None:
    # a = 1,2,3 and b = 4,5,6: difference 3, se = sqrt(1/3 + 1/3), df = 4, t(0.975, 4) = 2.776445
    d = welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    se = math.sqrt(2 / 3)
    assert d.diff == pytest.approx(3.0)
    assert d.df == pytest.approx(4.0)
    assert d.ci == pytest.approx((3 - 2.776445 * se, 3 + 2.776445 * se), abs=1e-5)
    assert d.p_value == pytest.approx(0.02131, abs=1e-4)  # t = 3.674 on 4 df
    assert d.conclusion(+1) == HOLDS and d.conclusion(-1) == OPPOSITE
    # Unequal variances and sizes: Welch-Satterthwaite degrees of freedom by hand.
    a, b = [0.10, 0.12], [0.20, 0.30, 0.40]
    va, vb = 0.0002 / 2, 0.01 / 3
    assert welch(a, b).df == pytest.approx((va + vb) ** 2 / (va**2 / 1 + vb**2 / 2))
    one = welch([0.1], [0.5, 0.6])
    assert one.one_seed and one.ci is None and one.conclusion(+1) == INCONCLUSIVE


# --- verdict cases --------------------------------------------------------------------------


def test_clear_result_both_halves_hold(tmp_path: Path) -> None:
    v = verdict_of(sweep_of(tmp_path, CLEAR))
    assert v.plain.conclusion == HOLDS and v.residual.conclusion == HOLDS
    assert v.both_halves_hold
    assert v.plain.endpoints.result.diff == pytest.approx(0.20)
    assert v.residual.endpoints.result.diff == pytest.approx(-0.05)
    assert [c.conclusion for c in v.plain_vs_residual] == [HOLDS, HOLDS]
    assert v.test_error_residual.conclusion == HOLDS  # test error = train + 0.05 in make_run
    text = v.to_text()
    assert text.startswith("Both halves hold")
    assert "Plain nets degrade with depth: holds. Training error 41.0% at depth 20 -> 61.0%" in text
    assert "3 vs 3 seeds" in text
    assert "seed by seed, plain-56 higher in 3 of 3)" in text
    assert "seed by seed, residual-56 lower in 3 of 3)" in text  # residual vs plain at 56


def test_seed_by_seed_count_describes_but_does_not_decide(tmp_path: Path) -> None:
    errors = dict(CLEAR)
    # Seeds 0 and 2 put residual-56 below residual-20, seed 1 above, all inside a wide spread;
    # seed 3 exists at depth 56 only and is not counted seed by seed.
    errors[("residual", 20)] = [0.30, 0.20, 0.40]
    errors[("residual", 56)] = [0.28, 0.22, 0.37, 0.30]
    v = verdict_of(sweep_of(tmp_path, errors))
    c = v.residual.endpoints
    assert c.seed_by_seed() == (2, 3)
    assert c.conclusion == INCONCLUSIVE
    assert "4 seeds; seed by seed, residual-56 lower in 2 of 3)" in v.to_text()
    assert c.to_json()["seed_by_seed"] == {"expected_side": 2, "seeds": 3}
    # Pairs are made by seed, not by position: with residual-56 s1 diverged, seeds 0 and 2 are
    # compared (both lower at 56; by position, 0.37 would meet residual-20 s1's 0.20).
    pair = tmp_path / "pair"
    sweep_of(pair, {k: v for k, v in errors.items() if k != ("residual", 56)})
    for seed, err in ((0, 0.28), (2, 0.37), (3, 0.30)):
        make_run(pair, "residual", 56, seed, err)
    make_run(pair, "residual", 56, 1, 0.9, status="diverged", diverged_at=50)
    assert verdict_of(pair).residual.endpoints.seed_by_seed() == (2, 2)
    # Every seed on the expected side still does not make a result inside the noise.
    errors[("residual", 56)] = [0.29, 0.19, 0.39]
    v = verdict_of(sweep_of(tmp_path / "all", errors))
    assert v.residual.endpoints.seed_by_seed() == (3, 3)
    assert v.residual.conclusion == INCONCLUSIVE


def test_rise_inside_the_noise_is_inconclusive(tmp_path: Path) -> None:
    errors = dict(CLEAR)
    errors[("plain", 20)] = [0.40, 0.45, 0.50]
    errors[("plain", 56)] = [0.42, 0.47, 0.52]  # 2 points higher, seeds spread 10 points
    v = verdict_of(sweep_of(tmp_path, errors))
    assert v.plain.conclusion == INCONCLUSIVE and not v.both_halves_hold
    text = v.to_text()
    assert "Plain nets degrade with depth: inconclusive" in text
    assert "+2.0 points, inside the seed noise" in text
    assert text.startswith("Not both halves: the plain half is inconclusive")
    assert "Both halves hold" not in text


def test_opposite_direction_does_not_hold(tmp_path: Path) -> None:
    errors = dict(CLEAR)
    errors[("residual", 56)] = [0.40, 0.41, 0.42]  # deeper residual clearly worse
    v = verdict_of(sweep_of(tmp_path, errors))
    assert v.residual.conclusion == OPPOSITE
    assert "Residual nets improve with depth: does NOT hold, the opposite holds" in v.to_text()


def test_endpoints_rise_but_the_middle_does_not(tmp_path: Path) -> None:
    errors = dict(CLEAR)
    errors[("plain", 32)] = [0.50, 0.51, 0.52]
    errors[("plain", 44)] = [0.45, 0.46, 0.47]  # falls between 32 and 44
    v = verdict_of(sweep_of(tmp_path, errors))
    assert v.plain.conclusion == HOLDS  # 20 -> 56 still rises beyond the noise
    assert v.plain.monotone is False
    assert [s.conclusion for s in v.plain.steps] == [HOLDS, OPPOSITE, HOLDS]
    text = v.to_text()
    assert "Per depth: 20: 41.0%, 32: 51.0%, 44: 46.0%, 56: 61.0%" in text
    assert (
        "Not shown to be monotone: steps 20->32 holds, 32->44 does not hold, 44->56 holds" in text
    )
    assert "Monotone over" not in text.split("Residual")[0]


def test_monotone_only_when_every_step_holds(tmp_path: Path) -> None:
    errors = dict(CLEAR)
    errors[("plain", 32)] = [0.45, 0.46, 0.47]
    errors[("plain", 44)] = [0.50, 0.51, 0.52]
    v = verdict_of(sweep_of(tmp_path, errors))
    assert v.plain.monotone is True
    assert "Monotone over 20<32<44<56: every step holds" in v.to_text()


def test_one_seed_per_cell_says_it_cannot_tell(tmp_path: Path) -> None:
    errors = {k: v[:1] for k, v in CLEAR.items()}
    v = verdict_of(sweep_of(tmp_path, errors))
    assert v.plain.conclusion == INCONCLUSIVE and v.residual.conclusion == INCONCLUSIVE
    assert not v.both_halves_hold
    text = v.to_text()
    assert "resting on 1 seed vs 1 seed: one seed cannot tell noise from effect" in text
    assert v.plain.endpoints.to_json()["ci95"] is None


def test_deepest_depth_all_diverged_is_named(tmp_path: Path) -> None:
    errors = {("plain", 20): [0.40, 0.41, 0.42], ("plain", 44): [0.50, 0.51, 0.52]}
    sweep_of(tmp_path, errors)
    for seed in range(3):  # the deepest plain net diverged in every seed, with a low last error
        make_run(tmp_path, "plain", 56, seed, 0.05, status="diverged", iteration=100)
    make_run(tmp_path, "plain", 44, 3, 0.01, status="diverged", iteration=50)
    v = verdict_of(tmp_path)
    assert v.plain.depths == [20, 44]
    assert v.plain.missing == {56: "no completed seed (3 diverged)"}
    text = v.to_text()
    assert "Depth 56 is left out: no completed seed (3 diverged)." in text
    assert "plain-44: 1 of 4 seeds diverged, excluded from the mean." in text
    assert "plain-56 s2 diverged at iteration 100" in text
    assert v.plain.means[-1] == pytest.approx(0.51)  # the diverged 1% is not averaged in


def test_mixed_settings_are_never_averaged(tmp_path: Path, capsys) -> None:
    sweep_of(tmp_path / "short", CLEAR, iterations=400)
    sweep_of(tmp_path / "long", {k: [x - 0.1 for x in v] for k, v in CLEAR.items()}, iterations=800)
    runs, _ = load_runs(find_run_dirs(tmp_path))
    groups, unplaced = split_by_setting(runs)
    assert [g.label for g in groups] == ["iterations=400", "iterations=800"]
    assert [len(g.runs) for g in groups] == [12, 12] and unplaced == []

    out = tmp_path / "rep"
    assert main([str(tmp_path), "--out", str(out), "--no-tensorboard", "--formats", "png"]) == 0
    assert (
        "2 settings, reported one by one (iterations=400; iterations=800)"
        in capsys.readouterr().out
    )
    doc = json.loads((out / "verdict.json").read_text())
    assert [c["label"] for c in doc["comparisons"]] == ["iterations=400", "iterations=800"]
    for sub in ("iterations=400", "iterations=800"):
        assert (out / sub / "table.csv").is_file() and (out / sub / "verdict.md").is_file()
        assert (out / sub / "gaps.md").read_text().startswith(f"# Depth gaps over training: {sub}")
    long = doc["comparisons"][1]["halves"]["plain_degrades"]
    assert long["mean_train_error"] == pytest.approx([0.31, 0.51])  # not mixed with the short runs


def test_setting_comes_from_the_recorded_config(tmp_path: Path) -> None:
    from omegaconf import OmegaConf
    from test_config import compose_train

    def config(*overrides: str) -> dict:
        return OmegaConf.to_container(compose_train(list(overrides)), resolve=True)

    base = run_setting({"config": config("depth=20", "seed=0")})
    assert base == run_setting({"config": config("depth=56", "block=plain", "seed=3")})
    other = run_setting({"config": config("depth=20", "optim.lr=0.05")})
    assert other["optim.lr"] == 0.05 and base["optim.lr"] == 0.1
    assert "model.depth" not in base and "loop.seed" not in base
    # A sweep that asked for zero-started branches keeps its plain nets (which have none) in its
    # own setting, next to its residual nets, not with the paper's-init runs.
    zr = run_setting({"config": config("depth=20", "init.zero_residual=true")})
    assert zr == run_setting({"config": config("block=plain", "init.zero_residual=true")})
    assert zr != base and zr["model.zero_residual"] is True
    # The same for a sweep recorded before init.zero_residual_padded existed (its residual nets
    # zeroed the padded channels' branches too): its plain nets stay with them.
    old = [config(f"block={b}", "init.zero_residual=true") for b in ("residual", "plain")]
    for c in old:
        del c["init"]["zero_residual_padded"]
    settings = [run_setting({"config": c}) for c in old]
    assert settings[0] == settings[1] != zr and settings[0]["model.zero_residual_padded"] is True


def test_duplicate_seed_counts_once(tmp_path: Path, capsys) -> None:
    sweep_of(tmp_path / "a", CLEAR)
    shutil.copytree(tmp_path / "a" / "plain-56_A_kaiming_normal_s0", tmp_path / "b" / "copy")
    (tmp_path / "b" / "copy").rename(tmp_path / "b" / "plain-56_A_kaiming_normal_s0")
    out = tmp_path / "rep"
    assert main([str(tmp_path), "--out", str(out), "--no-tensorboard", "--formats", "png"]) == 0
    assert "counted once" in capsys.readouterr().err
    doc = json.loads((out / "verdict.json").read_text())
    assert len(doc["duplicates_counted_once"]) == 1
    assert len(doc["comparisons"]) == 1
    plain = doc["comparisons"][0]["halves"]["plain_degrades"]["endpoints"]
    assert plain["seeds_b"] == [0, 1, 2]


def test_verdict_json_is_machine_readable(tmp_path: Path, capsys) -> None:
    sweep_of(tmp_path, CLEAR)
    make_run(tmp_path, "residual", 56, 3, 0.9, status="failed", error="out of memory")
    assert main([str(tmp_path), "--no-tensorboard", "--formats", "png"]) == 0
    doc = json.loads((tmp_path / "report" / "verdict.json").read_text())
    c = doc["comparisons"][0]
    assert c["both_halves_hold"] is True
    res = c["halves"]["residual_improves"]
    assert res["conclusion"] == "holds"
    assert res["endpoints"]["difference"] == pytest.approx(-0.05)
    lo, hi = res["endpoints"]["ci95"]
    assert lo < -0.05 < hi < 0
    assert res["endpoints"]["seeds_a"] == [0, 1, 2]
    assert res["excluded"] == ["residual-56: 1 of 4 seeds failed, excluded from the mean"]
    assert "residual-56 s3 failed at iteration 400 of 400: out of memory" in c["excluded"]
    assert c["plain_vs_residual"][1]["conclusion"] == "holds"
    assert "last 10%" in doc["final_train_error"] and "Welch" in doc["test"]


# --- the steadier final training error ----------------------------------------------------------


def write_curve(run: Path, points: list[tuple[int, float, float]]) -> None:
    (run / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"kind": "train", "step": s, "train_error": e, "lr": lr}) + "\n"
            for s, e, lr in points
        )
    )


def test_final_window_is_the_last_tenth_at_the_final_lr(tmp_path: Path) -> None:
    # 1000 iterations logged every 50: the last 10% is iterations 901-1000, windows 950 and 1000.
    curve = [(s, 0.5, 0.1) for s in range(50, 901, 50)] + [(950, 0.30, 0.01), (1000, 0.20, 0.01)]
    run = make_run(tmp_path, "plain", 20, 0, 0.99, iterations=1000)
    write_curve(run, curve)
    (r,), _ = load_runs([run])
    assert r.train_error == pytest.approx(0.25)  # not the summary's last window (0.99)
    assert r.train_error_window == "last 10% of iterations (901-1000, lr 0.01)"

    # An lr drop inside the window: only the windows at the final lr count, weighted by length.
    value, text = final_window_error(
        [(880, 0.9), (940, 0.4), (1000, 0.1)],
        {880: 0.1, 940: 0.01, 1000: 0.001},
        1000,
    )
    assert value == pytest.approx(0.1) and "941-1000, lr 0.001" in text
    # Windows of unequal length are weighted by the iterations they cover: (30*0.2 + 70*0.4)/100.
    value, _ = final_window_error([(900, 0.9), (930, 0.2), (1000, 0.4)], {}, 1000)
    assert value == pytest.approx((30 * 0.2 + 70 * 0.4) / 100)


def test_runs_without_usable_curve_keep_the_summary_value(tmp_path: Path) -> None:
    run = make_run(tmp_path, "plain", 20, 0, 0.33)
    (run / "metrics.jsonl").write_text("")
    (r,), _ = load_runs([run])
    assert r.train_error == pytest.approx(0.33) and r.train_error_window == "last logging window"


def test_a_running_run_is_described_by_how_far_its_curve_got(tmp_path: Path) -> None:
    """summary.json of a running run still says iteration 0 (written at the start)."""
    sweep_of(tmp_path, CLEAR)
    run = make_run(tmp_path, "residual", 44, 0, 0.3, status="running", iteration=300)
    summary = json.loads((run / "summary.json").read_text())
    summary["iteration"] = 0
    (run / "summary.json").write_text(json.dumps(summary))
    v = verdict_of(tmp_path)
    assert "not included: residual-44 s0 still running (at iteration 300 of 400)" in v.to_text()


def test_the_test_error_sentence_reads_as_a_sentence(tmp_path: Path) -> None:
    """Issue 25.8: `..., one seed cannot tell noise from effect: lower at depth 56 NOT in the
    seed mean, inconclusive by the test.` and `1 runs` in the dataset line."""
    from resnet_exp.report.collect import find_run_dirs, group_cells, load_runs
    from resnet_exp.report.verdict import judge

    make_run(tmp_path, "residual", 20, 0, 0.26, test_error=0.255)
    make_run(tmp_path, "residual", 56, 0, 0.255, test_error=0.257)
    runs, _ = load_runs(find_run_dirs(tmp_path))
    text = "\n".join(judge(group_cells(runs)).lines)
    line = next(x for x in text.splitlines() if x.startswith("Residual test error"))
    assert line == (
        "Residual test error residual-20 -> residual-56: 25.5% -> 25.7%, higher at depth 56 "
        "(+0.2 points, resting on 1 seed vs 1 seed: one seed cannot tell noise from effect)."
    )
    assert "NOT in the seed mean" not in text and " 2 runs in 2 (block, depth) cells" in text


# --- against chance: nets that do not train at all -------------------------------------------


def test_trainability_is_said_first_when_a_net_does_not_train(tmp_path: Path) -> None:
    # A deep sweep after a short budget: plain-1202 diverged in both seeds, residual-1202 sits
    # at chance, preact-1202 and the 110s train (chance = 90% for 10 classes).
    for seed in range(2):
        make_run(
            tmp_path,
            "plain",
            1202,
            seed,
            0.9,
            status="diverged",
            iteration=2,
            diverged_at=2,
            num_classes=10,
        )
        make_run(tmp_path, "residual", 1202, seed, [0.89, 0.905][seed], num_classes=10)
        make_run(tmp_path, "preact", 1202, seed, [0.70, 0.74][seed], num_classes=10)
        make_run(tmp_path, "plain", 110, seed, [0.75, 0.85][seed], num_classes=10)
        make_run(tmp_path, "residual", 110, seed, [0.60, 0.62][seed], num_classes=10)
    v = verdict_of(tmp_path)
    states = {t.label: t.state for t in v.trainability}
    assert states == {
        "plain-1202": "diverged",
        "residual-1202": "at_chance",
        "preact-1202": "trains",
        "plain-110": "barely",  # 15 and 5 points below chance: not 10 in every seed
        "residual-110": "trains",
    }
    assert v.lines[0].startswith("Not every net trains (chance: 90.0% training error): ")
    assert "plain-1202 diverged" in v.lines[0] and "residual-1202 at chance" in v.lines[0]
    assert (
        "preact-1202, residual-110 train" in v.lines[0] or "residual-110, preact-1202" in v.lines[0]
    )
    text = v.to_text()
    assert (
        "plain-1202: does not train: the loss became non-finite in 2 seeds (s0 at iteration 2, s1 at iteration 2)."
        in text
    )
    assert "preact-1202: trains: 72.0% (2 seeds), 16.0 to 20.0 points below chance." in text
    assert (
        "residual-1202: stays at chance: 89.8% (2 seeds), 0.5 points above to 1.0 below chance."
        in text
    )
    assert v.to_json()["trainability"][0]["chance"] == pytest.approx(0.9)


def test_no_trainability_lines_when_every_net_trains(tmp_path: Path) -> None:
    sweep_of(tmp_path, CLEAR, num_classes=10)
    v = verdict_of(tmp_path)
    assert {t.state for t in v.trainability} == {"trains"}
    assert v.lines[0].startswith("Both halves hold")
    assert not any("chance" in line for line in v.lines)


@pytest.mark.parametrize(
    ("below", "words"),
    [
        ([0.1], "10.0 points below chance"),
        ([-0.016], "1.6 points above chance"),
        ([0.16, 0.2], "16.0 to 20.0 points below chance"),
        ([-0.03, -0.01], "1.0 to 3.0 points above chance"),
        ([-0.005, 0.01], "0.5 points above to 1.0 below chance"),
    ],
)
def test_distance_from_chance_never_says_a_negative_distance(below, words) -> None:
    from resnet_exp.report.verdict import _distance_from_chance

    assert _distance_from_chance(below) == words


def add_signal(run: Path, step: int, dead: float) -> None:
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"kind": "signal", "step": step, "dead_features": dead}) + "\n")


def test_a_net_at_chance_with_dead_features_is_said_to_have_died(tmp_path: Path) -> None:
    # residual-1202 at chance whose last ReLU died (the last signal record counts, not an
    # earlier one); preact-1202 trains and is never given the note, whatever it recorded.
    for seed, dead in ((0, 0.999), (1, 0.96)):
        run = make_run(tmp_path, "residual", 1202, seed, [0.91, 0.89][seed], num_classes=10)
        add_signal(run, 200, 0.1)
        add_signal(run, 400, dead)
        run = make_run(tmp_path, "preact", 1202, seed, 0.70, num_classes=10)
        add_signal(run, 400, 0.6)
    v = verdict_of(tmp_path)
    cells = {t.label: t for t in v.trainability}
    assert sorted(cells["residual-1202"].dead) == [0.96, 0.999]
    text = v.to_text()
    assert (
        "residual-1202: stays at chance: 90.0% (2 seeds), 1.0 points above to 1.0 below chance; "
        "at its last signal record 96-99.9% of the feature maps its classifier reads were zero at "
        "every pixel (dead ReLUs" in text
    )
    assert "preact-1202: trains: 70.0% (2 seeds), 20.0 points below chance." in text
    by_cell = {t["cell"]: t for t in v.to_json()["trainability"]}
    assert sorted(by_cell["residual-1202"]["dead_features"]) == [0.96, 0.999]


def test_no_dead_note_without_a_record_or_under_the_bar(tmp_path: Path) -> None:
    make_run(tmp_path, "residual", 1202, 0, 0.90, num_classes=10)  # no signal record (older runs)
    run = make_run(tmp_path, "plain", 1202, 0, 0.90, num_classes=10)
    add_signal(run, 400, 0.9)  # at chance, but under the bar: nets that train reach 62-71%
    text = verdict_of(tmp_path).to_text()
    assert "dead ReLU" not in text and "feature maps" not in text
