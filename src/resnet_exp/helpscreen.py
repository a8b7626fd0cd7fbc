"""`resnet-exp train --help` and `resnet-exp probe --help`, written from the configs themselves:
every key with its default and the comment conf/*.yaml gives it, every config group with its
options, every preset with its `# help:` line. Hydra's own help prints the resolved config
without those comments (what `norm` or `signals` means was nowhere on screen)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

WIDTH = 80
KEY_COLUMN = 28  # `  key=default` padded to this, then the meaning
_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<key>[A-Za-z_]\w*):\s*(?P<value>[^#]*?)\s*(?:#\s?(?P<doc>.*))?$"
)
_SKIP = {"defaults", "hydra", "name"}


def key_docs(path: Path, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, meaning) for each key of a config file, in file order; nested keys as
    `init.zero_residual`. Interpolated defaults (`${...}`) are shown as they are written."""
    rows: list[tuple[str, str, str]] = []
    parent: str | None = None
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        key, value, doc = m["key"], m["value"], (m["doc"] or "").strip()
        if not m["indent"]:
            parent = key if not value else None
            if key in _SKIP or not value:
                continue
            rows.append((prefix + key, value, doc))
        elif parent is not None and parent not in _SKIP:
            rows.append((f"{prefix}{parent}.{key}", value, doc))
    return rows


def first_comment(path: Path, marker: str = "") -> str:
    """The first comment line of a file (after `marker`, if given), without the `#`."""
    for line in path.read_text().splitlines():
        text = line.lstrip("# ").strip()
        if line.startswith("#") and not text.startswith("@package") and text.startswith(marker):
            return text[len(marker) :].strip()
    return ""


def group_defaults(path: Path) -> dict[str, str]:
    """The primary config's defaults list as {group: option} (`- block: residual`)."""
    from omegaconf import OmegaConf

    entries = OmegaConf.to_container(OmegaConf.load(path)).get("defaults") or []
    return {
        k: str(v) for e in entries if isinstance(e, dict) for k, v in e.items() if v is not None
    }


def _row(left: str, doc: str) -> list[str]:
    """`  left   doc`, the doc wrapped in its column (or starting on the next line if left is wide)."""
    width = WIDTH - KEY_COLUMN
    wrapped = textwrap.wrap(doc, width) or [""]
    head = f"  {left}"
    if len(head) >= KEY_COLUMN:
        return [head] + [" " * KEY_COLUMN + w for w in wrapped if w]
    first = (head.ljust(KEY_COLUMN) + wrapped[0]).rstrip()
    return [first] + [" " * KEY_COLUMN + w for w in wrapped[1:]]


def _para(text: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), WIDTH)


def group_lines(conf: Path, defaults: dict[str, str], skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["Config groups (group=option; * the default):"]
    for group in sorted(p for p in conf.iterdir() if p.is_dir() and p.name not in ("hydra", *skip)):
        for option in sorted(group.glob("*.yaml")):
            star = "*" if defaults.get(group.name) == option.stem else ""
            lines += _row(f"{group.name}={option.stem}{star}", first_comment(option))
    return lines


def preset_lines(conf: Path) -> list[str]:
    lines = ["Presets (experiment=NAME; conf/experiment/NAME.yaml says what each measured):"]
    for preset in sorted((conf / "experiment").glob("*.yaml")):
        lines += _row(preset.stem, first_comment(preset, "help:"))
    return lines


def key_lines(rows: list[tuple[str, str, str]], title: str) -> list[str]:
    lines = [title]
    for key, value, doc in rows:
        lines += _row(f"{key}={value}", doc)
    return lines


TRAIN_HEAD = """resnet-exp train [KEY=VALUE ...] [-m]: train one of the paper's CIFAR nets (He
et al. 2015), or with -m a sweep over comma-separated values, a run at a time
(presets run two at a time)."""

TRAIN_NOTE = """The defaults are the paper's protocol: 64,000 iterations at batch 128, hours on a
CPU for ResNet-20 and longer for deeper nets (`resnet-exp bench` measures your machine). The
default data=cifar10 downloads CIFAR-10 (about 170 MB) into ./data on first use; data=imagefolder
data.root=PATH reads a folder of images, data=synthetic needs nothing."""

TRAIN_EXAMPLES = """Examples that finish on a laptop:
  resnet-exp train depth=20 width=8 iterations=300 data=synthetic
      a first run, on generated images: nothing to download
  resnet-exp train depth=20 width=8 batch_size=64 iterations=300 \\
      eval_every=300 data=imagefolder data.root=PATH
      the demo (make demo), on a folder of CIFAR-10 images
  resnet-exp train -m experiment=degradation_laptop_fig6_w4 \\
      data=imagefolder data.root=PATH
      Figure 6 on a laptop, four depths (make sweep-cpu; 25 min a seed
      on 2 cores with bf16)
  resnet-exp train --cfg job depth=56
      the resolved config, with your overrides; nothing is trained"""

TRAIN_TAIL = """Runs go to outputs/runs/<name>, sweeps to outputs/sweeps/<sweep_name>/<name>;
the same command again resumes them. Figures, table, verdict and gaps:
  resnet-exp report outputs/sweeps/<sweep_name>
Hydra's own options: resnet-exp train --hydra-help"""

PROBE_HEAD = """resnet-exp probe [KEY=VALUE ...] [-m] [from=RUN_DIR]: the signal statistics of a
net, layer by layer (the paper's Figure 7: response std, and gradient norms), at
initialization or from the checkpoint of a finished run.
resnet-exp probe linear: the deep linear demonstration (its own --help).
resnet-exp probe depth: signals, shattered gradients vs depth (its own --help)."""

PROBE_EXAMPLES = """Examples that finish on a laptop (no training; synthetic images need nothing):
  resnet-exp probe depth=56 block=plain data=synthetic
  resnet-exp probe -m depth=20,56 block=plain,residual norm=none data=synthetic
  resnet-exp probe from=outputs/runs/RUN_NAME
      a trained run's checkpoint, on its own data"""

PROBE_TAIL = """Probes go to outputs/probes/<name>, sweeps to outputs/probes/<sweep_name>/<name>
with a combined figure. Every key of resnet-exp train applies too (its --help)."""


def train_help(conf: Path) -> str:
    defaults = group_defaults(conf / "train.yaml")
    data_rows = key_docs(conf / "data" / "cifar10.yaml", "data.")
    optim_rows = key_docs(conf / "optim" / "sgd.yaml", "optim.")
    blocks = [
        _para(TRAIN_HEAD),
        _para(TRAIN_NOTE),
        TRAIN_EXAMPLES.splitlines(),
        group_lines(conf, defaults, skip=("experiment",)),
        preset_lines(conf),
        key_lines(key_docs(conf / "train.yaml"), "Keys (key=default, then what it does):"),
        key_lines(data_rows, "Data keys (data=cifar10's defaults; imagefolder needs data.root):"),
        key_lines(optim_rows, "Optimizer keys:"),
        TRAIN_TAIL.splitlines(),
    ]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def probe_help(conf: Path) -> str:
    blocks = [
        PROBE_HEAD.splitlines(),
        PROBE_EXAMPLES.splitlines(),
        key_lines(key_docs(conf / "probe.yaml"), "Probe keys (key=default, then what it does):"),
        PROBE_TAIL.splitlines(),
    ]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


LESION_HEAD = """resnet-exp lesion from=RUN_DIR|SWEEP_DIR [KEY=VALUE ...] [-m]: delete blocks of
trained nets and measure the test error (Veit, Wilber and Belongie 2016): each
block in turn (a residual block becomes its shortcut; a plain block the
identity, where its input and output shapes match), then k random blocks."""

LESION_EXAMPLES = """Examples (a 56-layer pair at width 8: a few minutes on 2 cores):
  resnet-exp lesion from=outputs/sweeps/degradation_laptop_fig6_4k
      every finished run of the sweep, one combined figure
  resnet-exp lesion -m from=RUN_A,RUN_B images=1000"""

LESION_TAIL = """Lesions go to outputs/lesions/<name> (lesion.json, single.csv, random.csv, a
figure); a sweep folder or -m adds a folder per run and lesions.png."""


def lesion_help(conf: Path) -> str:
    blocks = [
        LESION_HEAD.splitlines(),
        LESION_EXAMPLES.splitlines(),
        key_lines(key_docs(conf / "lesion.yaml"), "Lesion keys (key=default, then what it does):"),
        LESION_TAIL.splitlines(),
    ]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


LANDSCAPE_HEAD = """resnet-exp landscape from=RUN_DIR|SWEEP_DIR [KEY=VALUE ...] [-m]: the training
loss around trained weights along two seeded random directions, each filter
scaled to the norm of the trained filter (Li, Xu, Taylor, Studer and Goldstein
2018); BatchNorm in evaluation mode, its parameters and biases unperturbed."""

LANDSCAPE_EXAMPLES = """Examples (defaults: a 41-point curve, a 19x19 surface, 1000 images; about
3-4 minutes for a 56-layer net at width 8 on 2 cores, 1-2 for a 20-layer one):
  resnet-exp landscape from=outputs/sweeps/degradation_laptop_fig6_4k
      every finished run of the sweep, one figure on one colour scale
  resnet-exp landscape -m from=RUN_A,RUN_B grid=21 images=5000"""

LANDSCAPE_TAIL = """Landscapes go to outputs/landscapes/<name> (landscape.json, line.csv,
surface.csv, directions.pt, a figure); a sweep folder or -m adds a folder per
run and landscapes.png. The paper used a 51x51 grid on all 50,000 training
images."""


def landscape_help(conf: Path) -> str:
    blocks = [
        LANDSCAPE_HEAD.splitlines(),
        LANDSCAPE_EXAMPLES.splitlines(),
        key_lines(
            key_docs(conf / "landscape.yaml"), "Landscape keys (key=default, then what it does):"
        ),
        LANDSCAPE_TAIL.splitlines(),
    ]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"
