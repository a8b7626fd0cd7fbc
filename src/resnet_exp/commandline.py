"""Command-line helpers every command shares (train, probe, lesion): where the configs are, and
the checks that must run before Hydra does (which fails in tracebacks)."""

from __future__ import annotations

from pathlib import Path

from resnet_exp.errors import UserError
from resnet_exp.paths import ensure_writable_dir


def config_dir() -> Path:
    """conf/ shipped inside the wheel, or the checkout's top-level conf/ (editable install)."""
    for candidate in (Path(__file__).parent / "conf", Path(__file__).resolve().parents[2] / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError("resnet-exp's configs are missing (conf/train.yaml); reinstall the package")


INFO_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--cfg",
    "-c",
    "--info",
    "--version",
    "--shell-completion",
}


def flag_names(args: list[str]) -> set[str]:
    """The flags among the arguments, by name: Hydra takes --cfg job and --cfg=job alike."""
    return {a.split("=", 1)[0] for a in args if a.startswith("-")}


def known_part(path: str) -> Path:
    """The folder a path override names before Hydra resolves it: hydra.run.dir=out/${name} or
    out_root=${oc.env:SCRATCH}/x are known only up to the first interpolation."""
    return Path(path.split("${", 1)[0] or ".").expanduser()


def check_out_root(args: list[str]) -> None:
    """Hydra creates the run directory before any of our code runs, and fails with a traceback
    if it cannot; so make sure the output root is writable first (one line if not)."""
    if INFO_FLAGS & flag_names(args):
        return
    roots = [
        a.split("=", 1)[1]
        for a in args
        if a.startswith(("out_root=", "hydra.run.dir=", "hydra.sweep.dir="))
    ]
    for root in roots or ["outputs"]:
        path = known_part(root)
        try:
            ensure_writable_dir(path)
        except OSError as e:
            raise UserError(
                f"cannot write outputs under {path} ({e.strerror}); set out_root=PATH to a writable folder"
            ) from None


def check_one_mode(args: list[str]) -> None:
    """Hydra refuses -m with --cfg/--info in a traceback; say what to do instead."""
    shown = {"--cfg", "-c", "--info"} & flag_names(args)
    if shown and {"-m", "--multirun"} & flag_names(args):
        raise UserError(
            f"{sorted(shown)[0]} shows one run's configuration and cannot be combined with -m; "
            "drop -m and give one value per key (e.g. depth=56 instead of depth=20,56)"
        )


def run_hydra_command(command: str, args: list[str], task, path_keys: tuple[str, ...]) -> None:
    """Start `resnet-exp COMMAND` as a Hydra app on conf/COMMAND.yaml (probe, lesion): the same
    checks before Hydra runs (unknown keys with the nearest real one, -m with --cfg, a writable
    output root) and path values quoted for Hydra. `task` records its own exit codes."""
    import sys

    import hydra

    from resnet_exp.naming import register_resolvers
    from resnet_exp.overrides import check_keys, known_keys, quote_paths

    register_resolvers()
    if "--hydra-help" not in args:
        check_keys(args, known_keys(config_dir(), command), command)
    check_one_mode(args)
    check_out_root(args)
    sys.argv = [f"resnet-exp {command}", *(quote_paths(a, path_keys) for a in args)]
    hydra.main(config_path=str(config_dir()), config_name=command, version_base="1.3")(task)()


def refuse_job(error: UserError, multirun: bool, codes: list[int], console) -> None:
    """One line for a Hydra job's bad input (probe, lesion): a single job exits 2, a sweep
    records the code and goes on to its next job."""
    console.print(f"[bold red]error:[/] {error}", soft_wrap=True)
    codes.append(2)
    if not multirun:
        raise SystemExit(2)


def parse_depths(text: str) -> tuple[int, ...]:
    """`--depths 20,56`: valid depths 6n+2 in the order given, each once (bench, probe depth)."""
    try:
        depths = tuple(int(d) for d in text.split(",") if d.strip())
    except ValueError:
        raise UserError(f"--depths {text!r} must be comma-separated integers, e.g. 20,56") from None
    if not depths:
        raise UserError("--depths is empty; give e.g. 20,56")
    from resnet_exp.models.net import check_depth  # torch: not at the dispatcher's start

    for d in depths:
        check_depth(d)
    return tuple(dict.fromkeys(depths))  # a depth given twice is measured once
