"""`resnet-exp probe`: signal statistics per layer (a Hydra app with train's config groups), and
`resnet-exp probe linear`: the deep linear demonstration."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
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
    from omegaconf import OmegaConf

    from resnet_exp.build import spec_from_config

    source = cfg.get("from")
    if not source:
        return spec_from_config(cfg), None, "initialization"
    from resnet_exp.train.checkpoint import load_checkpoint

    run = Path(str(source)).expanduser()
    ckpt = run / "checkpoint.pt"
    if not ckpt.is_file():
        raise UserError(
            f"from={source}: no run there (no {ckpt}); give the directory of a resnet-exp train run"
        )
    state = load_checkpoint(ckpt)  # reads only: the run and its checkpoint stay as they are
    recorded = OmegaConf.create(state["config"])
    if _data_overridden(overrides):  # the run's data, found elsewhere on this machine
        recorded.data = cfg.data
    spec = spec_from_config(recorded)
    return spec, state["trainer"]["model"], f"{run} at iteration {state['trainer']['iteration']}"


def probe_batch(spec, size: int, seed: int):
    """A fixed seeded batch of training images, mean-subtracted as in training, no augmentation."""
    import torch

    from resnet_exp.data.pipeline import normalize, pixel_mean
    from resnet_exp.train.runner import prepare_data

    _, splits, num_classes = prepare_data(spec.data, spec.loop.seed)
    x_all, y_all = splits["train"]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(x_all), generator=g)[: min(size, len(x_all))]
    return normalize(x_all[idx], pixel_mean(x_all)), y_all[idx], num_classes


def run_probe(cfg, overrides: list[str], out_dir: Path) -> dict:
    from resnet_exp.build import build_model
    from resnet_exp.palette import block_colour
    from resnet_exp.probe.figures import per_layer, save
    from resnet_exp.probe.signals import layer_stats

    spec, weights, subject = load_subject(cfg, overrides)
    x, y, num_classes = probe_batch(spec, int(cfg.probe_batch), int(cfg.probe_seed))
    m = spec.model
    model = build_model(spec, num_classes)
    if weights is not None:
        model.load_state_dict(weights)
    rows = [s.as_row() for s in layer_stats(model, x, y)]
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
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        _codes.append(2)
        if not multirun:
            raise SystemExit(2) from None
        return
    out.print(summary_table(summary))
    out.print(f"probe written to {out_dir}: probe.csv, probe.json, probe.png", soft_wrap=True)
    _codes.append(0)


# Keys whose values are paths (see resnet_exp.cli.quote_paths): `from=` names run folders.
PROBE_PATH_KEYS = ("from", "data.root", "data.cache_dir", "out_root")


def probe_main(args: list[str]) -> int:
    if args and args[0] == "linear":
        return linear_main(args[1:])
    import hydra

    from resnet_exp.build import register_resolvers
    from resnet_exp.cli import check_one_mode, check_out_root, config_dir
    from resnet_exp.overrides import check_keys, known_keys, quote_paths

    register_resolvers()
    if {"-h", "--help"} & set(args):
        from resnet_exp.helpscreen import probe_help

        print(probe_help(config_dir()), end="")
        return 0
    if "--hydra-help" not in args:
        check_keys(args, known_keys(config_dir(), "probe"), "probe")
    check_one_mode(args)
    check_out_root(args)
    sys.argv = ["resnet-exp probe", *(quote_paths(a, PROBE_PATH_KEYS) for a in args)]
    _codes.clear()
    hydra.main(config_path=str(config_dir()), config_name="probe", version_base="1.3")(
        _probe_task
    )()
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
