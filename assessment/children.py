"""What the bot's worker processes (scoring, charts, exports) share about their children."""

from __future__ import annotations

from multiprocessing.process import BaseProcess

__all__ = ["exit_text"]


def exit_text(process: BaseProcess) -> str:
    """How a child process ended, for an error message: by a signal, with a status, or not
    yet."""
    code = process.exitcode
    if code is None:
        return "still running"
    return f"signal {-code}" if code < 0 else f"status {code}"
