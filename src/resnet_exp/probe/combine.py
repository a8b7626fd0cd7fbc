"""After a probe multirun: one figure with a line per configuration, like Figure 7."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback


def describe(nets: dict[str, dict]) -> tuple[dict[str, str], str]:
    """Short labels for the probes (`plain-20`, plus whatever else differs, e.g. `norm=none`)
    and the settings they share, from each probe.json's `net`."""
    keys = sorted({k for net in nets.values() for k in net} - {"block", "depth"})
    differs = [k for k in keys if len({str(n.get(k)) for n in nets.values()}) > 1]
    labels = {}
    for folder, net in nets.items():
        extra = " ".join(f"{k}={net.get(k)}" for k in differs)
        labels[folder] = f"{net.get('block')}-{net.get('depth')}" + (f" {extra}" if extra else "")
    shared = ", ".join(
        f"{k}={next(iter(nets.values())).get(k)}"
        for k in ("init", "norm", "activation", "shortcut", "width")
        if k in keys and k not in differs
    )
    return labels, shared


def _short_subject(subject: str) -> str:
    """`outputs/sweeps/x/plain-56_... at iteration 6000` -> `trained, iteration 6000` (the
    folders are in the legend's nets already; a title of paths runs off the figure)."""
    m = re.search(r"at iteration (\d+)", subject)
    return f"trained, iteration {m[1]}" if m else subject


def combine(sweep_dir: Path) -> Path | None:
    """Read every probe under `sweep_dir` and draw them together into probes.png."""
    from resnet_exp.palette import depth_shade
    from resnet_exp.probe.figures import per_layer, save

    rows, nets, subjects = {}, {}, set()
    for path in sorted(sweep_dir.glob("*/probe.csv")):
        with path.open() as fh:
            rows[path.parent.name] = list(csv.DictReader(fh))
        meta = path.parent / "probe.json"
        doc = json.loads(meta.read_text()) if meta.is_file() else {}
        nets[path.parent.name] = doc.get("net", {"block": path.parent.name, "depth": 0})
        subjects.add(doc.get("subject", "?"))
    if len(rows) < 2:
        return None
    labels, shared = describe(nets)
    depths = [int(n.get("depth", 0)) for n in nets.values()]
    variants = sorted({labels[f].partition(" ")[2] for f in rows})
    one_net = len({(n.get("block"), n.get("depth")) for n in nets.values()}) == 1
    dashes = ["-", "--", ":", "-."]
    lines, styles = {}, {}
    for folder in sorted(rows, key=lambda f: (nets[f].get("block", ""), nets[f].get("depth", 0))):
        net, label = nets[folder], labels[folder]
        lines[label] = rows[folder]
        v = variants.index(label.partition(" ")[2])
        if one_net:
            # One net in several variants (init, norm, ...): the variants need colours of their
            # own; the block's hue would make them all one colour.
            styles[label] = {"color": f"C{v % 10}"}
        else:
            styles[label] = {
                "color": depth_shade(str(net.get("block")), int(net.get("depth", 0)), depths),
                "ls": dashes[v % len(dashes)],
            }
    subject = ", ".join(sorted({_short_subject(x) for x in subjects}))
    title = f"Signals per layer ({subject}): {len(rows)} nets" + (f"; {shared}" if shared else "")
    return save(per_layer(lines, title, styles), sweep_dir / "probes.png")


class CombineProbes(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        written = combine(Path(config.hydra.sweep.dir))
        if written is not None:
            print(f"combined figure: {written}")
