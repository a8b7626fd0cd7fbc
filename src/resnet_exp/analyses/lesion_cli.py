"""`resnet-exp lesion`: the lesion study of trained runs (a Hydra app, shaped like `probe from=`)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from rich.table import Table

from resnet_exp.term import Console

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
_codes: list[int] = []


def lesion_settings(cfg) -> dict:
    """The study's settings, checked once for all the runs (a bad value is the user's one line,
    not a reason to skip every run of a sweep folder)."""
    from resnet_exp.analyses.command import integer

    return {
        "images": integer(cfg.images, "images", 1, optional=True),
        "draws": integer(cfg.draws, "draws", 1),
        "max_k": integer(cfg.max_k, "max_k", 1, optional=True),
        "seed": integer(cfg.seed, "seed", 0),
        "batch_size": integer(cfg.batch_size, "batch_size", 1),
    }


def lesion_run(run, settings: dict, test: tuple, out_dir: Path) -> dict:
    """Lesion one opened run on `test` = (x, y, num_classes); write lesion.json, single.csv,
    random.csv into out_dir."""
    from resnet_exp.analyses.lesion import lesion_study
    from resnet_exp.build import build_model

    x, y, num_classes = test
    model = build_model(run.spec, num_classes)
    model.load_state_dict(run.weights)
    m = run.spec.model
    label = f"{m.block}-{m.depth} s{run.spec.loop.seed}"
    start = time.perf_counter()
    result = lesion_study(
        model,
        x,
        y,
        max_k=settings["max_k"],
        draws=settings["draws"],
        seed=settings["seed"],
        batch_size=settings["batch_size"],
    )
    doc = {
        "run": str(run.path),
        "label": label,
        "net": {k: getattr(m, k) for k in m.__dataclass_fields__},
        "seed": run.spec.loop.seed,
        "iteration": run.iteration,
        "test_images": len(y),
        "test_images_seed": settings["seed"],
        "precision": "float32 (evaluation; whatever the run trained in)",
        "seconds": round(time.perf_counter() - start, 1),
        **result,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "lesion.json").write_text(json.dumps(doc, indent=1) + "\n")
    with (out_dir / "single.csv").open("w", newline="") as fh:
        w = csv.DictWriter(
            fh,
            fieldnames=["label", "stage", "block", "downsampling", "deletable", "error", "why_not"],
        )
        w.writeheader()
        w.writerows({k: r[k] for k in w.fieldnames} for r in result["single"])
    with (out_dir / "random.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["k", "mean", "std", "errors"])
        w.writeheader()
        w.writerows(
            {
                "k": r["k"],
                "mean": r["mean"],
                "std": r["std"],
                "errors": " ".join(f"{e:.4f}" for e in r["errors"]),
            }
            for r in result["random"]
        )
    return doc


def lesion_table(docs: list[dict]) -> Table:
    t = Table(title=f"Lesions: test error (%) on {docs[0]['test_images']} test images")
    for h in ("net", "intact", "1 block: median", "worst (block)", "k=1", "k max"):
        t.add_column(h, justify="left" if h == "net" else "right", no_wrap=h == "net")
    for d in docs:
        singles = sorted(r["error"] for r in d["single"] if r["error"] is not None)
        worst = max((r for r in d["single"] if r["error"] is not None), key=lambda r: r["error"])
        median = singles[len(singles) // 2] if singles else None
        last = d["random"][-1] if d["random"] else None
        t.add_row(
            d["label"],
            f"{d['baseline_error'] * 100:.1f}",
            f"{median * 100:.1f}" if median is not None else "-",
            f"{worst['error'] * 100:.1f} ({worst['label']})",
            f"{d['random'][0]['mean'] * 100:.1f}" if d["random"] else "-",
            f"{last['mean'] * 100:.1f} (k={last['k']})" if last else "-",
        )
    return t


def skipped_note(docs: list[dict]) -> str | None:
    skipped = {d["label"]: [r["label"] for r in d["single"] if not r["deletable"]] for d in docs}
    skipped = {k: v for k, v in skipped.items() if v}
    if not skipped:
        return None
    parts = "; ".join(f"{k}: blocks {', '.join(v)}" for k, v in skipped.items())
    return f"not deleted (plain blocks whose input and output shapes differ: stride 2, more channels): {parts}"


def combine(folder: Path) -> Path | None:
    """Every lesion.json under `folder` drawn into one lesions.png."""
    from resnet_exp.analyses.command import combine_results
    from resnet_exp.analyses.figures import lesion_figure

    return combine_results(
        folder,
        "lesion.json",
        lambda d: (d["net"]["block"], d["net"]["depth"], d["seed"]),
        lesion_figure,
        "lesions.png",
    )


def _lesion_task(cfg) -> None:
    from resnet_exp.analyses.command import run_analysis

    done = run_analysis(
        cfg, "test", lesion_settings, lesion_run, "lesion.json", "lesions", _codes, err
    )
    if done is None:
        return
    docs, runs, out_dir = done
    out.print(lesion_table(docs))
    note = skipped_note(docs)
    if note:
        out.print(note, soft_wrap=True)
    if runs > 1:
        combine(out_dir)
        files = "a folder per run, lesions.png"
    else:
        from resnet_exp.analyses.figures import lesion_figure, save

        save(lesion_figure(docs), out_dir / "lesion.png")
        files = "lesion.json, single.csv, random.csv, lesion.png"
    out.print(f"written to {out_dir}: {files}", soft_wrap=True)
    _codes.append(0)


class CombineLesions(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        written = combine(Path(config.hydra.sweep.dir))
        if written is not None:
            print(f"combined figure: {written}")


def lesion_main(args: list[str]) -> int:
    from resnet_exp.analyses.command import analysis_main
    from resnet_exp.helpscreen import lesion_help

    return analysis_main("lesion", args, _lesion_task, _codes, lesion_help)
