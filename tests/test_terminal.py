"""What a user sees in a real terminal: a CLI run in a pseudo-terminal, its output replayed
through a VT100 emulator (pyte), the screen read back row by row."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
from conftest import TINY, cli_env

COLUMNS, ROWS = 80, 300  # tall enough that nothing scrolls off the emulated screen


def run_in_terminal(args: list[str], cwd: Path, timeout: float = 120) -> tuple[list[str], int]:
    """Run `resnet-exp ARGS` on a pseudo-terminal of COLUMNS x ROWS; the screen's rows at the end
    (trailing blanks stripped) and the exit code."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = cli_env(cwd, {"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)})
    for key in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "CI"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "resnet_exp", *args],
        cwd=cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the other end closed: the process has exited
                break
            if not data:
                break
            stream.feed(data)
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
        raise AssertionError("resnet-exp did not finish in time")
    os.close(leader)
    code = proc.wait(timeout=30)
    rows = [line.rstrip() for line in screen.display]
    while rows and not rows[-1]:
        rows.pop()
    return rows, code


def test_log_lines_print_above_the_bar_and_leave_it_whole(tmp_path: Path) -> None:
    """Issue 25.1: each log record used to be glued onto the bar's line, leaving a frozen copy
    of the bar behind. Now every record starts its own row and one bar remains, whole."""
    args = [a for a in TINY if a != "progress=false"]
    args += ["iterations=40", "log_every=5", "eval_every=20", "checkpoint_every=20"]
    rows, code = run_in_terminal(["train", *args, "out_root=out"], tmp_path)
    screen = "\n".join(rows)
    assert code == 0, screen
    records = [r for r in rows if "[resnet_exp][INFO]" in r]
    for it in range(5, 41, 5):
        assert any(f"- it {it} " in r for r in records), (it, screen)
    # A record starts at the row's first column (nothing of the bar before it).
    assert all(r.startswith("[") for r in records), screen
    bars = [r for r in rows if "residual-8 s0" in r]
    assert len(bars) == 1, screen  # no frozen copies
    assert "40/40" in bars[0] and len(bars[0]) <= COLUMNS
    assert rows.index(bars[0]) > rows.index(records[-1])  # the bar stays below the log


def _start_piped(tmp_path: Path, merge: bool) -> subprocess.Popen:
    args = [a for a in TINY if a != "progress=false"]
    args += ["iterations=100000", "log_every=2", "eval_every=100000", "checkpoint_every=100000"]
    return subprocess.Popen(
        [sys.executable, "-m", "resnet_exp", "train", *args, "out_root=out"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        env=cli_env(tmp_path),
    )


def _ctrl_c_after_reader_left(proc: subprocess.Popen) -> int:
    """What a terminal's Ctrl-C does to `resnet-exp train ... | tee log`: tee dies at once (its
    reading end closes), then resnet-exp gets SIGINT and writes into a broken pipe."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while b"- it 4 " not in proc.stdout.readline():  # training has started
        assert time.monotonic() < deadline and proc.poll() is None, "no training record"
    proc.stdout.close()
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=120)


def _summary(tmp_path: Path) -> dict:
    (summary,) = tmp_path.glob("out/runs/*/summary.json")
    return json.loads(summary.read_text())


def test_ctrl_c_with_stdout_piped_ends_interrupted_with_one_line(tmp_path: Path) -> None:
    """Issue 25.3: `| tee` and Ctrl-C used to exit 1 (rich exits on a broken pipe), with logging
    tracebacks and summary.json left `running`. Now: exit 130, status interrupted, resumable,
    and the closing line on stderr, the stream that still has a reader."""
    proc = _start_piped(tmp_path, merge=False)
    code = _ctrl_c_after_reader_left(proc)
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    assert code == 130, stderr
    summary = _summary(tmp_path)
    assert summary["status"] == "interrupted" and summary["iteration"] >= 4
    assert "Logging error" not in stderr and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted at iteration" in lines[0], stderr
    (run_dir,) = tmp_path.glob("out/runs/*")
    assert (run_dir / "checkpoint.pt").is_file()  # the resume point was written on the way out


def test_ctrl_c_with_both_streams_piped_ends_interrupted(tmp_path: Path) -> None:
    """`2>&1 | tee` and Ctrl-C: no stream left to print on; still exit 130 and `interrupted`
    (it used to be 141 with the summary left `running`)."""
    proc = _start_piped(tmp_path, merge=True)
    assert _ctrl_c_after_reader_left(proc) == 130
    assert _summary(tmp_path)["status"] == "interrupted"
