"""Did seed 0 train the same on two machines? Compares every training and evaluation record
(step, errors, losses; not the timings) of the runs in two sweep folders, run by run.
    python docs/results/degradation_laptop_quick/compare_machines.py RUNS_A RUNS_B
"""

import json
import sys
from pathlib import Path

KEYS = ("kind", "step", "train_error", "train_loss", "test_error", "test_loss")


def records(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r["kind"] in ("train", "eval"):
            out.append({k: r[k] for k in KEYS if k in r})
    return out


a_root, b_root = Path(sys.argv[1]), Path(sys.argv[2])
for run in sorted(p.parent for p in a_root.glob("*/metrics.jsonl")):
    other = b_root / run.name / "metrics.jsonl"
    if not other.exists():
        print(f"{run.name}: not in {b_root}")
        continue
    a, b = records(run / "metrics.jsonl"), records(other)
    same = a == b
    print(f"{run.name}: {len(a)} records, {'identical' if same else 'DIFFERENT'}")
