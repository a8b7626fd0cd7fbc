"""`resnet-exp probe`: signal statistics per layer (a Hydra app with train's config groups), and
`resnet-exp probe linear`: the deep linear demonstration."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

from rich.table import Table

from resnet_exp.errors import UserError
from resnet_exp.term import Console

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
_codes: list[int] = []  # exit code of each job of this invocation (jobs run in this process)


# --- probing a net ----------------------------------------------------------------------------


def _data_overridden(overrides: list[str]) -> bool:
    return any(o.lstrip("+~").split("=", 1)[0].split(".")[0] == "data" for o in overrides)


def load_subject(cfg, overrides: list[str]):
    """(spec, weights or None, where the weights came from) for `from=RUN_DIR` or a fresh net."""
    from resnet_exp.analyses.runs import open_run
    from resnet_exp.build import spec_from_config

    source = cfg.get("from")
    if not source:
        return spec_from_config(cfg), None, "initialization"
    # The run's data, found elsewhere on this machine, when data.* is given on the command line.
    run = open_run(source, data=cfg.data if _data_overridden(overrides) else None)
    return run.spec, run.weights, run.subject


def probe_batch(spec, size: int, seed: int):
    """A fixed seeded batch of training images, mean-subtracted as in training, no augmentation."""
    return batch_from_data(spec.data, size, seed, spec.loop.seed)


def batch_from_data(data, size: int, seed: int, data_seed: int = 0):
    """`size` training images of the DataSpec `data`, drawn with `seed`, mean-subtracted."""
    from resnet_exp.data.splits import sample_split

    return sample_split(data, "train", size, seed, data_seed)


def check_memory(model, image_shape: tuple, batch: int, dtype, key: str) -> None:
    """Refuse, in one line, a probe that would not fit in this machine's free memory (a
    1202-layer net at batch 128 needs about 10 GB in float32) instead of being killed."""
    from resnet_exp.layerstats import available_bytes, probe_bytes

    free = available_bytes()
    if free is None:
        return
    need = probe_bytes(model, image_shape, batch, dtype)
    if need > 0.8 * free:
        fits = max(1, int(0.5 * free / (need / batch)))
        gb = 1024**3
        raise UserError(
            f"{key}={batch} needs about {need / gb:.1f} GB for this net in {str(dtype).split('.')[-1]} "
            f"and {free / gb:.1f} GB is available: use {key}={fits} or less"
        )


def run_probe(cfg, overrides: list[str], out_dir: Path) -> dict:
    import torch

    from resnet_exp.build import build_model
    from resnet_exp.layerstats import exact_layer_stats
    from resnet_exp.palette import block_colour
    from resnet_exp.probe.figures import per_layer, save

    spec, weights, subject = load_subject(cfg, overrides)
    x, y, num_classes = probe_batch(spec, int(cfg.probe_batch), int(cfg.probe_seed))
    m = spec.model
    model = build_model(spec, num_classes)
    if weights is not None:
        model.load_state_dict(weights)
    stats, dtype = exact_layer_stats(
        model, x, y, lambda m, d: check_memory(m, tuple(x.shape[1:]), len(y), d, "probe_batch")
    )
    dtype = "float32" if dtype == torch.float32 else "float64 (float32 overflowed)"
    rows = [s.as_row() for s in stats]
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "probe.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    label = f"{m.block}-{m.depth} {m.init} norm={m.norm} {m.activation}"
    first, last = rows[0], rows[-1]
    summary = {
        "name": spec.name,
        "subject": subject,
        "net": {**{k: getattr(m, k) for k in m.__dataclass_fields__}},
        "batch": {
            "images": len(y),
            "seed": int(cfg.probe_seed),
            "mode": "training (batch statistics)",
            "dtype": dtype,
        },
        "first_vs_last": {
            k: {
                "first": first[k],
                "last": last[k],
                "ratio": last[k] / first[k] if first[k] else None,
            }
            for k in ("response_std", "grad_norm", "weight_grad_norm")
        },
        "layers": rows,
    }
    (out_dir / "probe.json").write_text(json.dumps(summary, indent=2) + "\n")
    styles = {label: {"color": block_colour(m.block)}}
    save(per_layer({label: rows}, f"{label}, {subject}", styles), out_dir / "probe.png")
    return summary


def summary_table(summary: dict) -> Table:
    t = Table(title=f"{summary['name']} ({summary['subject']})")
    for h in ("statistic", "first layer", "last layer", "last / first"):
        t.add_column(h, justify="left" if h == "statistic" else "right")
    for key, v in summary["first_vs_last"].items():
        ratio = f"{v['ratio']:.3g}" if v["ratio"] is not None else "-"
        t.add_row(key, f"{v['first']:.3g}", f"{v['last']:.3g}", ratio)
    return t


def _probe_task(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out_dir = Path(hc.runtime.output_dir)
    try:
        summary = run_probe(cfg, list(hc.overrides.task), out_dir)
    except UserError as e:
        if out_dir.is_dir() and {p.name for p in out_dir.iterdir()} <= {".hydra", "probe.log"}:
            shutil.rmtree(out_dir, ignore_errors=True)  # leave nothing that looks like a probe
        from resnet_exp.commandline import refuse_job

        refuse_job(e, multirun, _codes, err)
        return
    out.print(summary_table(summary))
    out.print(f"probe written to {out_dir}: probe.csv, probe.json, probe.png", soft_wrap=True)
    _codes.append(0)


# Keys whose values are paths (see resnet_exp.overrides.quote_paths): `from=` names run folders.
PROBE_PATH_KEYS = ("from", "data.root", "data.cache_dir", "out_root")


def probe_main(args: list[str]) -> int:
    if args and args[0] == "linear":
        return linear_main(args[1:])
    if args and args[0] == "depth":
        return depth_main(args[1:])
    from resnet_exp.commandline import config_dir, run_hydra_command

    if {"-h", "--help"} & set(args):
        from resnet_exp.helpscreen import probe_help

        print(probe_help(config_dir()), end="")
        return 0
    _codes.clear()
    run_hydra_command("probe", args, _probe_task, PROBE_PATH_KEYS)
    return max(_codes, default=0)


# --- the deep linear demonstration -------------------------------------------------------------


def linear_main(argv: list[str]) -> int:
    from resnet_exp.probe.figures import linear_demo, save
    from resnet_exp.probe.linear import demo

    p = argparse.ArgumentParser(
        prog="resnet-exp probe linear",
        description="Signals through L = 1..LAYERS linear and ReLU layers, multiplied out in float64.",
        epilog="example: resnet-exp probe linear --layers 100  (seconds; writes linear.png)",
    )
    p.add_argument("--layers", type=int, default=50)
    p.add_argument("--out", default="outputs/probes/linear", help="output folder")
    args = p.parse_args(argv)
    if args.layers < 1:
        raise UserError(f"--layers={args.layers} must be a positive number of layers")
    parts = demo(layers=args.layers)
    table = Table(title=f"||signal|| / ||input|| after L layers (float64, L up to {args.layers})")
    mid = min(10, args.layers)
    for h in ("setting", "pass", f"L={mid}", f"L={args.layers}"):
        table.add_column(h, justify="left" if h in ("setting", "pass") else "right")
    for curves in parts.values():
        for c in curves:
            table.add_row(c.label, c.kind, f"{c.values[mid - 1]:.3g}", f"{c.values[-1]:.3g}")
    out.print(table)
    alpha = {c.label: c.values[-1] for c in parts["alpha"] if c.kind == "forward"}
    out.print(
        f"0.5^{args.layers} = {alpha['W = 0.5 I']:.3g} and 1.5^{args.layers} = "
        f"{alpha['W = 1.5 I']:.3g} (products of the matrices; the formula gives "
        f"{0.5**args.layers:.3g} and {1.5**args.layers:.3g})"
    )
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {k: [c.__dict__ for c in cs] for k, cs in parts.items()}
    (folder / "linear.json").write_text(json.dumps(doc, indent=1) + "\n")
    save(linear_demo(parts), folder / "linear.png")
    out.print(f"written to {folder}: linear.json, linear.png")
    return 0


# --- signals and shattered gradients against depth ---------------------------------------------


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _c(value: float | None) -> str:
    return "no gradient" if value is None else f"{value:.3f}"


def depth_main(argv: list[str]) -> int:

    from resnet_exp.commandline import parse_depths
    from resnet_exp.probe.depth import VARIANTS, parse_variants, probe_depths
    from resnet_exp.probe.figures import contrast_depth, depth_signals, save, shattered
    from resnet_exp.specs import DataSpec

    p = argparse.ArgumentParser(
        prog="resnet-exp probe depth",
        description="Fresh nets at every depth and variant: per-layer response std and gradient "
        "norm (one batch, training mode; float64 where float32 overflows) and the correlation of input gradients between "
        "neighbouring inputs (shattered gradients).",
        epilog="example: resnet-exp probe depth --depths 20,56,110 --variants plain,residual  "
        "(about a minute on 2 cores); the README's figures: --depths 20,56,110,302,1202 "
        "--data-root PATH (docs/results/probe_depth)",
    )
    p.add_argument(
        "--depths", default="20,56,110", help="comma-separated depths 6n+2 (default 20,56,110)"
    )
    p.add_argument(
        "--variants",
        default="all",
        help="comma-separated from: " + ", ".join(VARIANTS) + " (default all)",
    )
    p.add_argument(
        "--width", type=int, default=8, help="base filters (default 8, the laptop width)"
    )
    p.add_argument("--batch", type=int, default=32, help="images in the fixed batch (default 32)")
    p.add_argument("--points", type=int, default=64, help="inputs along the line (default 64)")
    p.add_argument(
        "--span",
        type=float,
        default=1.0,
        help="length of the line in units of the image's norm (default 1); neighbours are "
        "span/(points-1) apart, which sets the scale the correlation is measured at",
    )
    p.add_argument("--seed", type=int, default=0, help="weights, batch, line and output direction")
    p.add_argument(
        "--data-root", help="CIFAR-10 images in ImageFolder layout (default: synthetic images)"
    )
    p.add_argument("--out", default="outputs/probes/depth", help="output folder")
    args = p.parse_args(argv)
    depths, variants = sorted(parse_depths(args.depths)), parse_variants(args.variants)
    for name, value in (
        ("--width", args.width),
        ("--batch", args.batch),
        ("--points", args.points),
    ):
        if value < (2 if name != "--width" else 1):
            raise UserError(f"{name}={value} is too small")
    if not args.span > 0:
        raise UserError(f"--span={args.span} must be positive")
    if args.data_root:
        data = DataSpec(source="imagefolder", root=args.data_root)
        source = f"training images of {args.data_root}"
    else:
        data = DataSpec(source="synthetic", root="", synthetic_train_size=max(args.batch, 64))
        source = "synthetic images (give --data-root for real ones)"
    x, y, num_classes = batch_from_data(data, args.batch, args.seed)
    err.print(
        f"{len(variants)} variant(s) x {len(depths)} depth(s), width {args.width}, "
        f"{len(y)} {source}, {args.points} points on a line of length {args.span:g} x |image|",
        soft_wrap=True,
    )

    def tell(r) -> None:
        row = r.summary_row()
        err.print(
            f"{r.variant}-{r.depth}: grad first/last {_g(row['grad_norm_first_over_last'])}, "
            f"neighbour correlation {_c(row['neighbour_gradient_correlation'])} ({r.seconds:.1f} s)",
            soft_wrap=True,
        )

    def fits(model, dtype) -> None:
        check_memory(model, tuple(x.shape[1:]), len(y), dtype, "--batch")

    probes = probe_depths(
        variants,
        depths,
        args.width,
        x,
        y,
        num_classes,
        points=args.points,
        span=args.span,
        seed=args.seed,
        report=tell,
        check=fits,
    )
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    summary = [r.summary_row() for r in probes]
    with (folder / "depth.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(summary[0]))
        w.writeheader()
        w.writerows(summary)
    with (folder / "layers.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["variant", "depth", *probes[0].layers[0]])
        w.writeheader()
        for r in probes:
            w.writerows({"variant": r.variant, "depth": r.depth, **row} for row in r.layers)
    doc = {
        "command": "resnet-exp probe depth " + " ".join(argv),
        "settings": {**vars(args), "depths": depths, "variants": variants, "images": source},
        "variants": {v: VARIANTS[v] for v in variants},
        "summary": summary,
        "lines": [{"variant": r.variant, "depth": r.depth, **r.line.__dict__} for r in probes],
    }
    (folder / "depth.json").write_text(json.dumps(doc, indent=1) + "\n")
    deepest = depths[-1]
    save(depth_signals(probes, deepest), folder / "signals.png")
    save(shattered(probes, contrast_depth(probes)), folder / "shattered.png")
    table = Table(title=f"at initialization, width {args.width} ({len(y)} images)")
    for h in ("net", "grad first/last", "response std last", "gradient correlation"):
        table.add_column(h, justify="left" if h == "net" else "right", no_wrap=h == "net")
    for row in summary:
        table.add_row(
            f"{row['variant']}-{row['depth']}",
            _g(row["grad_norm_first_over_last"]),
            f"{row['response_std_last']:.3g}",
            _c(row["neighbour_gradient_correlation"]),
        )
    out.print(table)
    if any(row["grad_norm_first_over_last"] is None for row in summary):
        out.print(
            "-: the last layer gets no gradient at initialization (Fixup's zero classifier, "
            "SkipInit's zero scalars): those nets start as their shortcut path"
        )
    out.print(f"written to {folder}: depth.csv, layers.csv, depth.json, signals.png, shattered.png")
    return 0
