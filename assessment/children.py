"""What the bot's worker processes (scoring, charts, exports) share about their children."""

from __future__ import annotations

import contextlib
import os
from multiprocessing.process import BaseProcess

__all__ = ["NICENESS", "exit_text", "lower_priority"]

# How far below the bot's CPU priority a worker runs (``nice``; at most 19): its work
# (an export, a whole period's scoring) waits while the bot answers people.
NICENESS = 10


def lower_priority(pid: int, niceness: int = NICENESS) -> None:
    """Run the child ``pid`` ``niceness`` steps below this process (Linux: its threads,
    all started later by its main thread, inherit it); nothing where there is no nice."""
    if pid <= 0 or niceness <= 0 or not hasattr(os, "setpriority"):
        return  # 0 would be this very process
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):  # gone already: its end is read from the pipe
        os.setpriority(os.PRIO_PROCESS, pid, min(19, ours + niceness))


def exit_text(process: BaseProcess) -> str:
    """How a child process ended, for an error message: by a signal, with a status, or not
    yet."""
    code = process.exitcode
    if code is None:
        return "still running"
    return f"signal {-code}" if code < 0 else f"status {code}"
