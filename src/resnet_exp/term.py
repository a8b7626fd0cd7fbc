"""Output that survives its reader going away.

`resnet-exp train ... | tee log` and Ctrl-C: the terminal's SIGINT ends `tee` at once, so every
later write to stdout fails with EPIPE. rich answers a broken pipe by raising SystemExit(1) and
logging prints a `--- Logging error ---` traceback per record; either way the run never reached
its checkpoint and summary. Here a broken stream is pointed at /dev/null instead (as rich does
before exiting) and the program goes on: the run checkpoints, records `interrupted` and exits
130, and the one closing line goes to whichever of stdout and stderr still has a reader.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO

from rich.console import Console as RichConsole

_broken: set[int] = set()  # file descriptors redirected to /dev/null


def silence(stream: IO[str] | None) -> None:
    """Point the file descriptor under `stream` at /dev/null: its reader is gone."""
    try:
        fd = stream.fileno() if stream is not None else None
    except (OSError, ValueError, AttributeError):
        return
    if fd is None or fd in _broken:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    _broken.add(fd)


def is_broken(stream: IO[str]) -> bool:
    try:
        return stream.fileno() in _broken
    except (OSError, ValueError, AttributeError):
        return False


class Console(RichConsole):
    """rich's Console, except that a broken pipe silences the stream instead of exiting."""

    def on_broken_pipe(self) -> None:
        silence(self.file)

    @property
    def broken(self) -> bool:
        return is_broken(self.file)


def _handle_error(handler: logging.StreamHandler, default):
    def handle_error(record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            silence(handler.stream)  # the record is dropped; train.log still has it
        else:
            default(record)

    return handle_error


def survive_broken_pipes() -> None:
    """Make the console log handlers (Hydra's, on the root logger) drop records quietly once
    their reader has gone, instead of printing a traceback for each one."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and not hasattr(handler, "_rx_pipe_safe"):
            handler.handleError = _handle_error(handler, handler.handleError)  # type: ignore[method-assign]
            handler._rx_pipe_safe = True  # type: ignore[attr-defined]


def say(message: str, out: Console, err: Console, style: str = "") -> None:
    """Print the closing line on stdout, or on stderr where stdout's reader has gone, or on the
    controlling terminal where both have (`2>&1 | tee` and Ctrl-C: the user is still there)."""
    text = f"[{style}]{message}[/]" if style else message
    out.print(text, soft_wrap=True)
    if out.broken and not err.broken:
        err.print(text, soft_wrap=True)
    if out.broken and err.broken:
        try:
            with open("/dev/tty", "w") as tty:
                tty.write(message + "\n")
        except OSError:  # no controlling terminal (a batch job, a test): nobody to tell
            pass
