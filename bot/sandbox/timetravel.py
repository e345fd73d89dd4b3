"""Time travel for the sandbox: move the bot's one clock, and run what falls due.

Work in progress: the signatures are final; ``move_clock`` and ``clock_status`` raise
``NotImplementedError`` until they are written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.context import BotData, WorkledgerApplication

__all__ = ["MOVES", "clock_status", "move_clock"]

MOVES: tuple[str, ...] = ("reminders", "next_workday", "self_review", "review_due", "publication")


async def move_clock(application: WorkledgerApplication, move: str) -> datetime:
    """Set the bot's clock to the moment ``move`` names (one of ``MOVES``) and run the
    jobs due then at once; the moment (aware, UTC)."""
    raise NotImplementedError("move_clock is not written yet")


def clock_status(data: BotData) -> dict[str, Any]:
    """JSON-ready: now in the organisation's zone, its weekday, the period and stage."""
    raise NotImplementedError("clock_status is not written yet")
