"""How close can the bench's ratios get on this machine? (session 17)

Reads ceiling.sh's outputs: the bench JSON (resnet-exp and baseline images/s, side by side in one
invocation) and the step profiles of residual-56 at the bench's size. The ceiling assumes
everything in a step but the convolutions were free: batch / (profiled conv forward + backward
time). It is an upper bound for any eager or compiled change that keeps oneDNN's convolutions.

    python docs/bench/issue24/s17/ceiling.py   # from the repository root
"""

import json
from pathlib import Path

HERE = Path(__file__).parent


def load(name: str) -> dict:
    return json.loads((HERE / name).read_text())


def rate(bench: dict, net: str, path: str) -> float:
    (r,) = [r for r in bench["results"] if r["net"] == net and r["path"] == path]
    return r["images_per_s"]["median"]


def main() -> None:
    for precision, profile, bench, target in (
        ("fp32", "profile-r56-w16-b128-fp32.json", "bench-fp32.json", 1.5),
        ("bf16", "profile-r56-w16-b128-bf16.json", "bench-auto.json", 2.5),
    ):
        p, b = load(profile), load(bench)
        base = rate(b, "residual-56", "baseline")
        ours = rate(b, "residual-56", "resnet-exp")
        print(f"{precision}: bench residual-56 resnet-exp {ours:.0f} img/s, baseline {base:.0f} img/s, "
              f"ratio {ours / base:.2f}x (target {target}x, needs {target * base:.0f} img/s)")
        peak = p["matmul_gflops"][precision]
        for r in p["results"]:
            conv = r["breakdown_ms"]["forward"]["conv"] + r["breakdown_ms"]["backward"]["conv"]
            profiled = r["ms_per_step_profiled"]
            batch = p["settings"]["batch_size"]
            conv_gflops = r["train_gflop_per_step"] / (conv / 1000)  # the FC layer's share is ~0.01%
            print(
                f"  profile {r['layout']}: {r['ms_per_step']:.0f} ms/step ({r['images_per_s']:.0f} img/s), "
                f"{r['achieved_gflops']:.0f} GFLOP/s = {r['fraction_of_matmul_peak']:.0%} of the {precision} "
                f"matmul peak ({peak:.0f}); convolutions {conv:.0f} of {profiled:.0f} profiled ms "
                f"({conv_gflops:.0f} GFLOP/s while they run, {conv_gflops / peak:.0%} of the peak); "
                f"convolutions alone: {batch / conv * 1000:.0f} img/s = {batch / conv * 1000 / base:.2f}x the baseline; "
                f"the target leaves {batch / (target * base) * 1000 - conv:.0f} ms a step for everything else "
                f"(now {profiled - conv:.0f})"
            )


if __name__ == "__main__":
    main()
