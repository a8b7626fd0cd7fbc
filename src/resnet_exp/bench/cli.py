"""`resnet-exp bench`: training throughput and peak memory, resnet-exp's own step vs a baseline,
and the projected time of a paper-scale sweep of the measured nets.

Both paths train the same nets on synthetic data of CIFAR's shape, so nothing is downloaded and
start-up is quick. docs/performance.md has the method and the measured numbers.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch
from rich.markup import escape
from rich.table import Table

from resnet_exp.bench.measure import (
    Measurement,
    device_name,
    measure,
    measure_shared,
    synthetic_data,
    threads_per_process,
)
from resnet_exp.bench.paths import Net
from resnet_exp.bench.projection import project_sweep
from resnet_exp.bench.settings import Resolved, Settings, parse_settings, resolve
from resnet_exp.errors import UserError
from resnet_exp.term import Console
from resnet_exp.train.precision import describe, native_bf16_flags
from resnet_exp.train.provenance import now, versions

JSON_SCHEMA = 2  # 2: blocks, processes, sweep projection


def ratios(results: list[Measurement]) -> dict[str, float]:
    """resnet-exp images/s over baseline images/s (medians), per net measured on both paths."""
    by_key = {(m.net, m.path): m for m in results}
    return {
        net: by_key[(net, "resnet-exp")].median / by_key[(net, "baseline")].median
        for net in dict.fromkeys(m.net for m in results)
        if (net, "resnet-exp") in by_key and (net, "baseline") in by_key
    }


def is_figure6(s: Settings) -> bool:
    """Whether the measured nets are the paper's Figure-6 sweep at its scale."""
    return (
        set(s.blocks) == {"plain", "residual"}
        and set(s.depths) == {20, 32, 44, 56}
        and (s.width, s.batch_size, s.shortcut) == (16, 128, "A")
    )


# --- output -------------------------------------------------------------------------------------


def header(s: Settings, r: Resolved) -> str:
    if s.processes > 1:
        threads = f"processes {s.processes} x {threads_per_process(s)} threads"
    else:
        threads = f"threads {torch.get_num_threads()}"
    return (
        f"device {r.device} ({device_name(r.device)})  precision {describe(r.precision, r.device)}"
        f"  torch {torch.__version__}  {threads}"
    )


def fmt_bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"


def results_table(results: list[Measurement], ratio: dict[str, float]) -> Table:
    kind = results[0].peak_memory_kind if results else "n/a"
    table = Table(
        title="training throughput, median of timed windows",
        caption=f"peak mem = {kind}; GFLOP/img = forward+backward (forward only); "
        "x base = resnet-exp / baseline images/s"
        + (
            "; xK = K processes at once, images/s summed, ms/step per process"
            if any(m.processes > 1 for m in results)
            else ""
        ),
    )
    table.add_column("net", no_wrap=True)
    table.add_column("path", no_wrap=True)
    for name in ("images/s median [min-max]", "ms/step", "peak mem", "GFLOP/img", "GFLOP/s"):
        table.add_column(name, justify="right")
    table.add_column("x base", justify="right", no_wrap=True)
    for m in results:
        rates = m.window_images_per_s
        vs = f"{ratio[m.net]:.2f}x" if m.path == "resnet-exp" and m.net in ratio else ""
        table.add_row(
            m.net,
            m.path + (f" x{m.processes}" if m.processes > 1 else ""),
            f"{m.median:,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]",
            f"{m.ms_per_step:.1f}",
            fmt_bytes(m.peak_memory_bytes),
            f"{m.train_flops_per_image / 1e9:.3f} ({m.forward_flops_per_image / 1e9:.3f})",
            f"{m.achieved_flops_per_s / 1e9:,.1f}",
            vs,
        )
    return table


def fmt_duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def projection_lines(s: Settings, projection: dict) -> list[str]:
    k = projection["processes"]
    runs = projection["runs"]
    per_run = ", ".join(f"{r['net']} {fmt_duration(r['total_s'])}" for r in runs)
    how = (
        "one after another"
        if k == 1
        else f"{k} at a time on one device (as measured), each run on the first free worker"
    )
    if s.experiment:
        what = f"the {s.experiment} sweep (one seed)"
    elif is_figure6(s):
        what = "the paper's Figure-6 sweep (plain and residual x 20/32/44/56)"
    else:
        what = f"a sweep of the {len(runs)} measured net(s)"
    subset = projection.get("eval_subset")
    evals = f"test evaluation every {projection['eval_every']}" + (
        f" (on {subset} images but the last)" if subset else ""
    )
    return [
        f"projected at {projection['iterations']:,} iterations per run, {evals}, estimated "
        f"from FLOPs: {per_run}",
        f"{what}, {how}: {fmt_duration(projection['sweep_s'])} (training and evaluation; "
        "start-up, data loading and checkpoints not counted)",
    ]


def row_line(m: Measurement, other: Measurement | None) -> str:
    """One measurement as soon as it is taken (the table comes at the end); with the ratio once
    both paths of the net are measured."""
    rates = m.window_images_per_s
    shared = f" x{m.processes}" if m.processes > 1 else ""
    line = (
        f"{m.net} {m.path}{shared}: {m.median:,.0f} images/s "
        f"[{min(rates):,.0f}-{max(rates):,.0f}], {m.ms_per_step:.1f} ms/step"
    )
    if other is not None:
        ours, base = (m, other) if m.path == "resnet-exp" else (other, m)
        line += f"; resnet-exp / baseline {ours.median / base.median:.2f}x"
    return line


def job_order(s: Settings) -> list[str]:
    """The sweep's runs in the order its launcher starts them (the preset's first key outer)."""
    pairs = (
        [(b, d) for d in s.depths for b in s.blocks]
        if s.outer == "depth"
        else [(b, d) for b in s.blocks for d in s.depths]
    )
    return [Net(b, d).name(s.width) for b, d in pairs]


def record(s: Settings, r: Resolved, results: list[Measurement]) -> dict:
    return {
        "schema": JSON_SCHEMA,
        "kind": "resnet-exp bench",
        "timestamp": now(),
        "torch": torch.__version__,
        "versions": versions(),
        "device": {
            "type": r.device.type,
            "name": device_name(r.device),
            "threads": torch.get_num_threads(),
            "cpu_bf16_flags": native_bf16_flags(),
        },
        # The resolved device/layout/precision replace "auto"; what was asked for is kept too.
        "settings": {
            **asdict(s),
            **r.to_json(),
            "requested": {k: getattr(s, k) for k in ("device", "channels_last", "precision")},
        },
        "results": [m.to_json() for m in results],
        "ratios": ratios(results),
        "projection": project_sweep(
            results, s.sweep_iterations, s.eval_every, s.eval_subset, job_order(s)
        ),
        "paper_figure6": is_figure6(s),
    }


# --- entry point --------------------------------------------------------------------------------


def run_bench(
    s: Settings, r: Resolved, progress: Console, out: Console
) -> tuple[list[Measurement], bool]:
    """Every measurement, each printed as it is taken; on Ctrl-C the ones finished so far and
    True (interrupted)."""
    data = synthetic_data(s) if s.processes == 1 else None  # K processes make their own
    results: list[Measurement] = []
    try:
        for block in s.blocks:
            for depth in s.depths:
                net = Net(block, depth)
                for path in s.paths:
                    shared = f" x{s.processes}" if s.processes > 1 else ""
                    progress.print(
                        f"measuring {net.name(s.width)} {path}{shared} ...", highlight=False
                    )
                    if s.processes > 1:
                        m = measure_shared(s, net)
                    else:
                        m = measure(s, r, net, path, data)
                    other = next((x for x in results if x.net == m.net and x.path != m.path), None)
                    results.append(m)
                    out.print(row_line(m, other), soft_wrap=True)
    except KeyboardInterrupt:
        return results, True
    return results, False


def main(argv: list[str] | None = None) -> int:
    # Wide enough for the whole table when piped to a file or log (rich assumes 80 columns there).
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    err = Console(stderr=True, highlight=False)
    try:
        s = parse_settings(sys.argv[1:] if argv is None else list(argv))
        if s.threads and s.processes == 1:
            torch.set_num_threads(s.threads)
        r = resolve(s, warn=True)
        out.print(header(s, r))
        results, interrupted = run_bench(s, r, err, out)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except UserError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:  # before the first measurement: nothing to keep
        err.print("interrupted; nothing measured yet")
        return 130
    planned = len(s.blocks) * len(s.depths) * len(s.paths)
    if results:
        out.print(results_table(results, ratios(results)))
    rec = record(s, r, results)
    rec["interrupted"] = interrupted
    if rec["projection"] and not interrupted:
        for line in projection_lines(s, rec["projection"]):
            out.print(line, soft_wrap=True)
    if s.json and results:
        path = Path(s.json).expanduser()
        path.write_text(json.dumps(rec, indent=2) + "\n")
        out.print(f"wrote {path}")
    if interrupted:
        err.print(f"interrupted: {len(results)} of {planned} measurements kept (above)")
        return 130
    return 0
