"""`resnet-exp landscape`: loss surfaces around trained runs (a Hydra app, shaped like `lesion`)."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from rich.table import Table

from resnet_exp.errors import UserError
from resnet_exp.term import Console

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
_codes: list[int] = []

SUMMARY_NOTE = (
    "basin: the width of the valley around the trained weights along direction 1, in filter "
    "norms, up to where the training loss has climbed half of the way from its trained value to "
    "that of a uniform guess (ln classes; '>' when the curve ended first); convex: the share of the surface's interior points where it curves "
    "up in every direction of the slice. Li et al. 2018 found residual nets' minima wide and "
    "convex-looking and deep plain nets' sharp and chaotic: a wide basin and a convex share near "
    "100% is the residual picture."
)


def landscape_settings(cfg) -> dict:
    """The surface's settings, checked once for all the runs."""
    from resnet_exp.analyses.command import integer, positive

    settings = {
        "images": integer(cfg.images, "images", 1, optional=True),
        "span": positive(cfg.span, "span"),
        "line": integer(cfg.line, "line", 0),
        "grid": integer(cfg.grid, "grid", 0),
        "seed": integer(cfg.seed, "seed", 0),
        "batch_size": integer(cfg.batch_size, "batch_size", 1),
        "save_directions": bool(cfg.save_directions),
    }
    if not settings["line"] and not settings["grid"]:
        raise UserError("line=0 and grid=0 leave nothing to compute; give line or grid > 0")
    return settings


def _finite(value):
    """JSON has no infinity: a loss that overflowed is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def landscape_run(run, settings: dict, images: tuple, out_dir: Path) -> dict:
    """The landscape of one opened run on `images` = (x, y, num_classes); writes
    landscape.json, line.csv, surface.csv (and directions.pt) into out_dir."""
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from resnet_exp.analyses.landscape import landscape
    from resnet_exp.build import build_model

    x, y, num_classes = images
    model = build_model(run.spec, num_classes)
    model.load_state_dict(run.weights)
    m = run.spec.model
    label = f"{m.block}-{m.depth} s{run.spec.loop.seed}"
    start = time.perf_counter()
    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(part: str, k: int, n: int) -> None:
            if part not in tasks:
                tasks[part] = bar.add_task(f"{label} {part}", total=n)
            bar.update(tasks[part], completed=k)

        result = landscape(
            model,
            x,
            y,
            span=settings["span"],
            line=settings["line"],
            grid=settings["grid"],
            seed=settings["seed"],
            batch_size=settings["batch_size"],
            chance=math.log(num_classes),
            report=report,
        )
    d1, d2 = result.pop("directions")
    doc = {
        "run": str(run.path),
        "label": label,
        "net": {k: getattr(m, k) for k in m.__dataclass_fields__},
        "seed": run.spec.loop.seed,
        "iteration": run.iteration,
        "train_images": len(y),
        "images_seed": settings["seed"],
        "batchnorm": "evaluation mode: the run's running statistics",
        "precision": "float32 (evaluation; whatever the run trained in)",
        "seconds": round(time.perf_counter() - start, 1),
        **_finite(result),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "landscape.json").write_text(json.dumps(doc, indent=1) + "\n")
    if result["line"]:
        with (out_dir / "line.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["alpha", "loss", "error"])
            line = result["line"]
            w.writerows(zip(line["alpha"], line["loss"], line["error"], strict=True))
    if result["surface"]:
        with (out_dir / "surface.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["alpha", "beta", "loss", "error"])
            s = result["surface"]
            for r, b in enumerate(s["beta"]):
                for c, a in enumerate(s["alpha"]):
                    w.writerow([a, b, s["loss"][r][c], s["error"][r][c]])
    if settings["save_directions"]:
        torch.save(
            {"seeds": result["direction_seeds"], "direction_1": d1, "direction_2": d2},
            out_dir / "directions.pt",
        )
    return doc


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _num(value) -> str:
    return "overflow" if value is None else f"{value:.3g}"


def landscape_table(docs: list[dict]) -> Table:
    from resnet_exp.analyses.figures import basin_text

    d0 = docs[0]
    t = Table(title=f"Loss landscapes: {d0['train_images']} training images, span {d0['span']:g}")
    for h in ("net", "loss", "error", "basin", "convex", "seconds"):
        t.add_column(h, justify="left" if h == "net" else "right", no_wrap=h == "net")
    for d in docs:
        s = d["summary"]
        t.add_row(
            d["label"],
            _num(d["centre"]["loss"]),
            _pct(d["centre"]["error"]),
            basin_text(s),
            _pct(s["convex_share"]),
            f"{d['seconds']:.0f}",
        )
    return t


def combine(folder: Path) -> Path | None:
    """Every landscape.json under `folder` drawn into one landscapes.png."""
    from resnet_exp.analyses.command import combine_results
    from resnet_exp.analyses.figures import landscape_figure

    return combine_results(
        folder,
        "landscape.json",
        lambda d: (d["net"]["depth"], d["net"]["block"], d["seed"]),
        landscape_figure,
        "landscapes.png",
    )


def _landscape_task(cfg) -> None:
    from resnet_exp.analyses.command import run_analysis

    done = run_analysis(
        cfg, "train", landscape_settings, landscape_run, "landscape.json", "landscape", _codes, err
    )
    if done is None:
        return
    docs, runs, out_dir = done
    out.print(landscape_table(docs))
    out.print(SUMMARY_NOTE)  # word-wrapped to the terminal (a path below stays whole)
    if runs > 1:
        combine(out_dir)
        files = "a folder per run, landscapes.png"
    else:
        from resnet_exp.analyses.figures import landscape_figure, save

        save(landscape_figure(docs), out_dir / "landscape.png")
        files = "landscape.json, line.csv, surface.csv, landscape.png"
        if bool(cfg.save_directions):  # checked by landscape_settings
            files += ", directions.pt"
    out.print(f"written to {out_dir}: {files}", soft_wrap=True)
    _codes.append(0)


class CombineLandscapes(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        written = combine(Path(config.hydra.sweep.dir))
        if written is not None:
            print(f"combined figure: {written}")


def landscape_main(args: list[str]) -> int:
    from resnet_exp.analyses.command import analysis_main
    from resnet_exp.helpscreen import landscape_help

    return analysis_main("landscape", args, _landscape_task, _codes, landscape_help)
