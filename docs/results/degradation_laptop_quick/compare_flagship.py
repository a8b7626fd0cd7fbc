"""Does each quick run train exactly as the flagship's run of the same net and seed, up to the
quick preset's second lr drop (step 4000)? Compares the logged training records (error and loss
over each 50-step window) of runs/ here with ../degradation_laptop_fig6/runs.

    python docs/results/degradation_laptop_quick/compare_flagship.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAGSHIP = HERE.parent / "degradation_laptop_fig6" / "runs"
SHARED_UNTIL = 4000  # the quick preset's lr equals the flagship's before its drop at 4000


def train_records(run: Path) -> dict[int, tuple[float, float]]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["kind"] == "train":
            out[r["step"]] = (r["train_error"], r["train_loss"])
    return out


def main() -> None:
    for run in sorted((HERE / "runs").iterdir()):
        twin = FLAGSHIP / run.name
        if not twin.is_dir():
            print(f"{run.name}: no flagship run of this net and seed")
            continue
        a, b = train_records(run), train_records(twin)
        steps = [s for s in sorted(a) if s <= SHARED_UNTIL]
        same = [s for s in steps if a[s] == b.get(s)]
        first_diff = next((s for s in sorted(a) if a[s] != b.get(s)), None)
        print(
            f"{run.name}: {len(same)}/{len(steps)} records up to step {SHARED_UNTIL} identical "
            f"to the flagship's; first difference at step {first_diff}"
        )


if __name__ == "__main__":
    main()
