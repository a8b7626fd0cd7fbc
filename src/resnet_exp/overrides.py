"""Command-line overrides checked and prepared before Hydra sees them.

Two things Hydra gets wrong for our users: a path with `=` in it (every run folder with an
override) fails its grammar, and a typo'd key is either refused with the advice to add it with
`+` or, with `+`, silently added to a config that nothing reads (a depth-20 net named
`..._depht=56`). Here paths are quoted and unknown keys refused with the nearest real one.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from omegaconf import OmegaConf

from resnet_exp.errors import UserError

# Groups whose files only set keys that exist elsewhere (the presets).
_NOT_KEYS = ("experiment",)


def quote_paths(arg: str, keys: tuple[str, ...]) -> str:
    """`resume=out/x_data=y/checkpoint.pt` -> `resume='out/x_data=y/checkpoint.pt'` for the keys
    given, each comma-separated path on its own (a sweep over paths stays a sweep). Hydra's
    grammar refuses `=`, `~`, `#`, `(`, `[`, `&`, `!` in an unquoted value; quoted values,
    interpolations and other keys pass unchanged."""
    key, sep, value = arg.partition("=")
    if key.lstrip("+~") not in keys or not sep or not value or value[0] in "'\"":
        return arg
    if value == "null" or "${" in value:
        return arg
    return f"{key}=" + ",".join("'" + v.replace("'", "\\'") + "'" for v in value.split(","))


def _walk(node: object, prefix: str, keys: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("defaults", "hydra"):
                continue
            keys.add(f"{prefix}{k}")
            _walk(v, f"{prefix}{k}.", keys)


def known_keys(config_dir: Path, config_name: str) -> set[str]:
    """Every key a config can have: the primary file's (and the files it builds on, as probe
    builds on train), and each group's keys over all of its options (data.root, optim.lr)."""
    keys: set[str] = set()
    primary = OmegaConf.to_container(OmegaConf.load(config_dir / f"{config_name}.yaml"))
    assert isinstance(primary, dict)
    for entry in primary.get("defaults") or []:
        if isinstance(entry, str) and (config_dir / f"{entry}.yaml").is_file():
            keys |= known_keys(config_dir, entry)
    _walk(primary, "", keys)
    for group in sorted(p for p in config_dir.iterdir() if p.is_dir()):
        if group.name == "hydra":
            continue
        keys.add(group.name)
        if group.name in _NOT_KEYS:
            continue
        for option in group.glob("*.yaml"):
            _walk(OmegaConf.to_container(OmegaConf.load(option)), f"{group.name}.", keys)
    return keys


def check_keys(args: list[str], known: set[str], command: str) -> None:
    """Refuse an override of a key the config does not have, with the nearest real key."""
    for arg in args:
        key, sep, value = arg.partition("=")
        if arg.startswith("-") or not sep or key.startswith("~"):
            continue
        name = key.lstrip("+")
        if name.split(".", 1)[0] == "hydra" or "/" in name:
            continue  # Hydra's own settings (hydra.run.dir, hydra/launcher=joblib)
        if name in known:
            if key.startswith("+") and not key.startswith("++"):
                raise UserError(f"{key}={value}: {name} is already a key; write {name}={value}")
            continue
        added = " (a key added with + would be read by nothing)" if key.startswith("+") else ""
        parts = [f"unknown key {name!r}{added}"]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            parts.append(f"did you mean {close[0]}={value}?")
        parts.append(f"`resnet-exp {command} --help` lists the keys")
        raise UserError("; ".join(parts))
