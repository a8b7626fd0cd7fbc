"""Ctrl-C / SIGTERM / a cluster's time-limit signal: finish the current step, checkpoint, stop.
A second Ctrl-C stops at once.

The time-limit signal is SIGUSR2 (or $SUBMITIT_PREEMPT_SIGNAL): what SLURM sends `signal_delay_s`
before a job's time limit when submitted through submitit (hydra/launcher=slurm), and what
`#SBATCH --signal=USR2@120` sends in a script of your own. submitit installs a handler for it
that requeues the job; our run takes the signal first (checkpoint, status `interrupted`), and
only then hands it to that handler (`Outcome.then`), so the requeued job resumes from the
checkpoint instead of from the last periodic one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType


def requeue_signal() -> signal.Signals:
    """The signal a cluster sends before the time limit (submitit's convention: USR2)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, name if name.startswith("SIG") else f"SIG{name}", signal.SIGUSR2)


class _Handlers:
    """Installs the subclass's `_handle` for the subclass's `signals` while the context is open
    (main thread only: signals can be handled nowhere else) and restores the previous handlers."""

    _previous: dict[int, object]
    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)


class StopRequest(_Handlers):
    """Context manager that turns SIGINT/SIGTERM into a flag the training loop polls."""

    def __init__(self, stop_file: Path | None = None) -> None:
        self.signal_name: str | None = None
        self.signum: int | None = None
        self.stop_file = stop_file
        # dict.fromkeys: SUBMITIT_PREEMPT_SIGNAL=TERM must not install our handler twice (the
        # second install would record our own handler as the one to restore).
        self.signals = tuple(dict.fromkeys((signal.SIGINT, signal.SIGTERM, requeue_signal())))

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
        if self.signum is None:
            self.signal_name, self.signum = signal.Signals(signum).name, signum

    def hand_over(self) -> Callable[[], None] | None:
        """After the run has checkpointed: pass the time-limit signal on to the handler that was
        there before ours (submitit's, which requeues the job and exits), if there was one."""
        previous = self._previous.get(self.signum) if self.signum is not None else None
        if self.signum != requeue_signal() or not callable(previous):
            return None
        signum = self.signum
        return lambda: previous(signum, None)


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
