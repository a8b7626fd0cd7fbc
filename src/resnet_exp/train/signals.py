"""Ctrl-C / SIGTERM: finish the current step, checkpoint, stop. A second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType


class _Handlers:
    """Installs the subclass's `_handle` for SIGINT and SIGTERM while the context is open (main
    thread only: signals can be handled nowhere else) and restores the previous handlers after."""

    _previous: dict[int, object]

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)


class StopRequest(_Handlers):
    """Context manager that turns SIGINT/SIGTERM into a flag the training loop polls."""

    def __init__(self, stop_file: Path | None = None) -> None:
        self.signal_name: str | None = None
        self.stop_file = stop_file

    @property
    def requested(self) -> bool:
        # The stop file is how a sweep's parent process reaches runs in worker processes.
        if self.signal_name is None and self.stop_file is not None and self.stop_file.exists():
            self.signal_name = "stop requested by the sweep"
        return self.signal_name is not None

    def request(self, name: str = "request") -> None:
        self.signal_name = name

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user really wants out now
        self.signal_name = signal.Signals(signum).name


class SweepStop(_Handlers):
    """The process that launches a sweep's jobs: the first SIGINT/SIGTERM creates `stop_file`
    instead of ending the process. Every run polls that file (with a parallel launcher the runs
    are worker processes, which a signal sent to this process alone never reaches) and jobs
    that have not started yet skip themselves; so each run finishes its step and checkpoints.
    A second Ctrl-C stops at once."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file

    @property
    def requested(self) -> bool:
        return self.stop_file.exists()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop_file.touch()
