"""Ctrl-C / SIGTERM: finish the current step, checkpoint, stop. A second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into a flag the training loop polls."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def request(self, name: str = "request") -> None:
        self.signal_name = name

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: the user really wants out now
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # signals only work there
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
